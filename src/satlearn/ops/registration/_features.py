"""A similarity, affine or homography from keypoints: :func:`match_features`.

OpenCV keypoints (ORB, AKAZE, SIFT) on an 8-bit stretch of each image,
matched by brute force with Lowe's ratio test, and a transform fitted by
RANSAC. ``cv2`` is imported on the first call, not with the package.

References
----------
.. [4] M. A. Fischler and R. C. Bolles, "Random sample consensus", Communications
   of the ACM 24(6), 381-395 (1981). doi:10.1145/358669.358692
.. [5] E. Rublee, V. Rabaud, K. Konolige and G. Bradski, "ORB: an efficient
   alternative to SIFT or SURF", ICCV 2011. doi:10.1109/ICCV.2011.6126544
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from satlearn.deprecation import method_name, renamed_keywords
from satlearn.errors import InvalidInputError
from satlearn.ops.registration._arrays import as_image, as_mask

__all__ = ["DETECTORS", "MODELS", "FeatureRegistration", "match_features"]


@dataclass(frozen=True)
class FeatureRegistration:
    """The answer of :func:`match_features`.

    Attributes
    ----------
    matrix : (3, 3) float64 array
        Maps ``moving`` pixel ``(x, y, 1)`` onto ``reference`` pixel ``(x, y, w)``:
        ``cv2.warpAffine(moving, matrix[:2], (W, H))`` (or ``warpPerspective``
        for a homography) gives an image aligned with ``reference``.
    model : str
        "similarity", "affine" or "homography".
    reference_points, moving_points : (N, 2) float64 arrays
        ``(x, y)`` of the N matches that passed the ratio test.
    inliers : (N,) bool array
        Matches RANSAC kept.
    residuals : (N,) float64 array
        Distance (px) between each reference point and its mapped moving point.
    """

    matrix: np.ndarray
    model: str
    reference_points: np.ndarray
    moving_points: np.ndarray
    inliers: np.ndarray
    residuals: np.ndarray

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())

    @property
    def rms(self) -> float:
        """RMS residual (px) of the inliers."""
        return float(np.sqrt(np.mean(self.residuals[self.inliers] ** 2)))


# Transform models, with the fewest matches that determine each.
_MIN_MATCHES = {"similarity": 2, "affine": 3, "homography": 4}
#: The transform models of :func:`match_features`, as its ``model=`` spells them.
MODELS = tuple(_MIN_MATCHES)
#: The OpenCV detectors of :func:`match_features`.
DETECTORS = ("orb", "akaze", "sift")


def _to_uint8(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """A 2-98 percentile stretch of the valid pixels to uint8 (what detectors expect)."""
    valid = np.isfinite(image) if image.dtype.kind == "f" else np.ones(image.shape, bool)
    if mask is not None:
        valid &= mask
    values = image[valid]
    if values.size == 0:
        raise InvalidInputError("image has no valid pixel to detect features on")
    low, high = np.percentile(values, [2, 98])
    scale = 255.0 / (high - low) if high > low else 0.0
    stretched = np.clip((np.where(valid, image, low) - low) * scale, 0, 255)
    return stretched.astype(np.uint8)


def _detector(name: str, max_features: int) -> tuple[Any, int]:
    """An OpenCV detector-descriptor and the norm its descriptors are compared with."""
    import cv2

    if name == "orb":
        return cv2.ORB_create(nfeatures=max_features), cv2.NORM_HAMMING
    if name == "akaze":
        if not hasattr(cv2, "AKAZE_create"):  # moved out of some OpenCV 5 builds
            raise InvalidInputError(
                f"detector 'akaze' is not in this OpenCV build ({cv2.__version__}); "
                "use 'orb' or 'sift'"
            )
        return cv2.AKAZE_create(), cv2.NORM_HAMMING  # pragma: no cover - build-dependent
    return cv2.SIFT_create(nfeatures=max_features), cv2.NORM_L2  # "sift", checked by the caller


@renamed_keywords(ransac_threshold="ransac_threshold_px")
def match_features(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    model: Literal["similarity", "affine", "homography"] = "similarity",
    detector: Literal["orb", "akaze", "sift"] = "orb",
    max_features: int = 5000,
    ratio: float = 0.75,
    ransac_threshold_px: float = 2.0,
    reference_mask: np.ndarray | None = None,
    moving_mask: np.ndarray | None = None,
) -> FeatureRegistration:
    """Transform between two images from matched keypoints and RANSAC.

    Keypoints are detected on a 2-98 percentile stretch of each image to
    8 bits, matched by brute force with Lowe's ratio test, and a similarity
    (rotation, uniform scale, translation), affine or homography transform is
    estimated with RANSAC [4]_ (OpenCV's ``estimateAffinePartial2D``,
    ``estimateAffine2D``, ``findHomography``). Unlike :func:`phase_correlation`
    this copes with rotation and scale differences; it is less precise for
    pure translations.

    *Global*: one transform for the whole images, numpy arrays in memory.

    Parameters
    ----------
    reference, moving : 2-D array
        Images; need not share a shape.
    model : {"similarity", "affine", "homography"}
        Transform to estimate.
    detector : {"orb", "akaze", "sift"}
        OpenCV feature detector [5]_ and descriptor.
    max_features : int
        Keypoints kept per image (ORB, SIFT).
    ratio : float
        Lowe's ratio test: keep a match when its distance is below ``ratio``
        times that of the second-best candidate.
    ransac_threshold_px : float
        Largest reprojection error (px) of an inlier (``ransac_threshold``
        until 0.2, still accepted with a warning).
    reference_mask, moving_mask : 2-D bool array, optional
        True where pixels are valid; keypoints are only taken there.

    Returns
    -------
    FeatureRegistration
        Matrix (moving -> reference pixels), matches, inlier mask, residuals.

    Raises
    ------
    InvalidInputError
        A bad argument, an image without valid pixels, or too few matches for
        the model (the images do not overlap, or lack texture).

    Examples
    --------
    >>> result = match_features(reference, moving, model="similarity")  # doctest: +SKIP
    >>> result.matrix, result.n_inliers, result.rms  # doctest: +SKIP

    References
    ----------
    Fischler and Bolles (1981), doi:10.1145/358669.358692; Rublee et al.
    (2011), doi:10.1109/ICCV.2011.6126544.
    """
    import cv2

    reference = as_image(reference, "reference")
    moving = as_image(moving, "moving")
    model = method_name(model, MODELS, what="model")  # type: ignore[assignment]
    detector = method_name(detector, DETECTORS, what="detector")  # type: ignore[assignment]
    if not 0 < ratio <= 1:
        raise InvalidInputError(f"ratio must be in (0, 1], got {ratio!r}")
    finder, norm = _detector(detector, max_features)
    masks = [
        as_mask(reference_mask, reference.shape, "reference_mask"),
        as_mask(moving_mask, moving.shape, "moving_mask"),
    ]
    found = []
    for image, mask in zip((reference, moving), masks, strict=True):
        cv_mask = None if mask is None else mask.astype(np.uint8) * 255
        keypoints, descriptors = finder.detectAndCompute(_to_uint8(image, mask), cv_mask)
        found.append((keypoints, descriptors))
    (ref_keys, ref_desc), (mov_keys, mov_desc) = found
    pairs = []
    if ref_desc is not None and mov_desc is not None and len(ref_desc) >= 2:
        candidates = cv2.BFMatcher(norm).knnMatch(mov_desc, ref_desc, k=2)
        pairs = [c[0] for c in candidates if len(c) == 2 and c[0].distance < ratio * c[1].distance]
    needed = max(_MIN_MATCHES[model], 4)
    if len(pairs) < needed:
        raise InvalidInputError(
            f"only {len(pairs)} feature matches between reference and moving ({detector}); "
            f"a {model} needs at least {needed}: do the images overlap and carry texture?"
        )
    moving_points = np.float64([mov_keys[p.queryIdx].pt for p in pairs])
    reference_points = np.float64([ref_keys[p.trainIdx].pt for p in pairs])
    src, dst = moving_points.astype(np.float32), reference_points.astype(np.float32)
    if model == "homography":
        matrix, inliers = cv2.findHomography(src, dst, cv2.RANSAC, ransac_threshold_px)
    else:
        estimate = cv2.estimateAffinePartial2D if model == "similarity" else cv2.estimateAffine2D
        matrix, inliers = estimate(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=ransac_threshold_px
        )
        if matrix is not None:
            matrix = np.vstack([matrix, [0.0, 0.0, 1.0]])
    if matrix is None:
        raise InvalidInputError(
            f"RANSAC found no {model} consistent with {len(pairs)} feature matches"
        )
    mapped = _apply_matrix(matrix, moving_points)
    residuals = np.hypot(*(mapped - reference_points).T)
    return FeatureRegistration(
        matrix=np.asarray(matrix, dtype=np.float64),
        model=model,
        reference_points=reference_points,
        moving_points=moving_points,
        inliers=inliers.ravel().astype(bool),
        residuals=residuals,
    )


def _apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) ``(x, y)`` points through a 3 x 3 projective matrix."""
    homogeneous = np.column_stack([points, np.ones(len(points))]) @ np.asarray(matrix).T
    return homogeneous[:, :2] / homogeneous[:, 2:]
