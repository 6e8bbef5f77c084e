"""Deprecations for one release: old spellings, positional options, moved names.

satlearn keeps a renamed public thing working for one release, with a
:class:`DeprecationWarning` that says what to write instead (the list lives in
``CHANGELOG.md``). The three kinds of change, each handled here once:

* :func:`method_name`: a ``method=`` value. Method names are spelt with
  hyphens (``"pca-kmeans"``, ``"gram-schmidt"``), as on the command line; an
  underscore spelling still works, with a warning.
* :func:`keyword_only`: options that were positional become keyword-only
  (scikit-learn's ``_deprecate_positional_args`` pattern).
* :func:`moved`: a module-level ``__getattr__`` that serves names which moved
  elsewhere.
* :func:`renamed_keywords`: a keyword that gained its unit (``pixel_size`` ->
  ``pixel_size_m``) or another name; the old keyword still works, with a warning.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from satlearn.errors import InvalidInputError

__all__ = ["keyword_only", "method_name", "moved", "renamed_keywords"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that names the first frame outside this module's wrappers.

    Decorators stack (``renamed_keywords`` over ``keyword_only``), so a fixed
    level would name a wrapper here, a frame Python's default filters hide.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
        level += 1
    return level


def method_name(
    method: Any, known: Iterable[str], *, what: str = "method", stacklevel: int = 3
) -> str:
    """The canonical (hyphenated, lower-case) spelling of a ``method=`` value.

    Parameters
    ----------
    method : str
        The value given.
    known : iterable of str
        The canonical names (hyphens), in the order the message lists them.
    what : str
        How the message names the option (``"change method"``).
    stacklevel : int
        Of the warning, as for :func:`warnings.warn`: the default names the
        line that called the function calling this one; one more for each
        decorator (:func:`renamed_keywords`...) between that function and
        its caller.

    Returns
    -------
    str

    Raises
    ------
    InvalidInputError
        ``method`` is not a known name; the message lists them.

    Examples
    --------
    >>> method_name("CVA", ["cva", "pca-kmeans"])
    'cva'
    """
    names = tuple(known)
    given = str(method).strip().lower()
    if given in names:
        return given
    hyphenated = given.replace("_", "-")
    if hyphenated in names:
        warnings.warn(
            f"{what} {method!r} is spelt {hyphenated!r} now; the underscore spelling goes "
            "in the next release",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return hyphenated
    raise InvalidInputError(f"unknown {what} {method!r}; known: {', '.join(names)}")


def keyword_only(*names: str) -> Callable[[_F], _F]:
    """Make options keyword-only, accepting them positionally for one release.

    ``names`` are the parameters, in their old positional order, that now
    follow ``*`` in the signature. A call that still passes them by position
    works and warns.

    Examples
    --------
    >>> @keyword_only("method")
    ... def op(image, *, method="a"):
    ...     return method
    >>> op(1, method="b")
    'b'
    """

    def decorate(func: _F) -> _F:
        signature = inspect.signature(func)
        positional = [
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            extra = len(args) - len(positional)
            if extra > 0:
                if extra > len(names):
                    raise TypeError(
                        f"{func.__name__}() takes {len(positional)} positional arguments "
                        f"but {len(args)} were given"
                    )
                moved_names = names[:extra]
                warnings.warn(
                    f"pass {', '.join(moved_names)} to {func.__name__}() by keyword "
                    f"({moved_names[0]}=...); positional use goes in the next release",
                    DeprecationWarning,
                    stacklevel=_caller_stacklevel(),
                )
                for name, value in zip(moved_names, args[len(positional) :], strict=True):
                    if name in kwargs:
                        raise TypeError(f"{func.__name__}() got multiple values for {name!r}")
                    kwargs[name] = value
                args = args[: len(positional)]
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def moved(module: str, renames: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving names that moved, with a warning.

    Parameters
    ----------
    module : str
        The old module's ``__name__``.
    renames : mapping
        Old name -> ``"new.module:new_name"``.

    Examples
    --------
    >>> __getattr__ = moved("old", {"f": "satlearn.errors:SatlearnError"})
    """

    def __getattr__(name: str) -> Any:
        if name not in renames:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target_module, _, target = renames[name].partition(":")
        warnings.warn(
            f"{module}.{name} moved to {target_module}.{target}; the old name goes in the "
            "next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(target_module), target)

    return __getattr__


def renamed_keywords(**renames: str) -> Callable[[_F], _F]:
    """Accept old keyword names for one release, with a warning.

    ``renames`` maps each old keyword to its new name (``pixel_size=
    "pixel_size_m"``). A call with the old keyword works and warns; giving
    both spellings is a :class:`TypeError`. Put it outside
    :func:`keyword_only` where a function has both.

    Examples
    --------
    >>> @renamed_keywords(pixel_size="pixel_size_m")
    ... def op(image, *, pixel_size_m=10.0):
    ...     return pixel_size_m
    >>> op(1, pixel_size_m=5.0)
    5.0
    """

    def decorate(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{func.__name__}() got {old!r} and its new name {new!r}")
                warnings.warn(
                    f"{func.__name__}({old}=...) is spelt {new}=... now; the old keyword goes "
                    "in the next release",
                    DeprecationWarning,
                    stacklevel=_caller_stacklevel(),
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
