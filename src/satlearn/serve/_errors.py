"""The HTTP answer to each error the server raises on purpose, shared by every route.

The FastAPI exception handlers and the lean infer path
(:class:`satlearn.serve._v2.InferMiddleware`) both answer through
:func:`error_status`, so a request gets the same status and headers on
either path.
"""

from __future__ import annotations

from satlearn.errors import (
    ModelNotFoundError,
    OverloadedError,
    RequestTimeoutError,
    SatlearnError,
)
from satlearn.serve._metrics import BodyTooLargeError

__all__ = ["error_status"]


def error_status(err: SatlearnError, overload_status: int) -> tuple[int, dict[str, str] | None]:
    """The status code and extra headers that answer ``err``.

    Parameters
    ----------
    err : SatlearnError
    overload_status : int
        503 or 429, the server's answer to a full queue.

    Returns
    -------
    (int, dict or None)
    """
    # Most specific first: BodyTooLargeError is an InvalidInputError.
    if isinstance(err, ModelNotFoundError):
        return 404, None
    if isinstance(err, OverloadedError):
        return overload_status, {"Retry-After": "1"}
    if isinstance(err, RequestTimeoutError):
        return 504, None
    if isinstance(err, BodyTooLargeError):
        return 413, None
    # Everything else satlearn raises on purpose while answering is about the request
    # (unsafe name, bad tensor, a model that will not load): the caller's to fix.
    return 400, None
