"""A confusion matrix drawn as a PNG."""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError

__all__ = ["write_confusion_png"]


def write_confusion_png(
    confusion: Any,
    path: Any,
    *,
    classes: Any = None,
    cell: int = 40,
) -> Any:
    """Draw a confusion matrix as a PNG (rows: reference, columns: predicted).

    Cells are shaded by the row-normalised share (recall per class, white to
    dark blue) and show the count. Written with Pillow (matplotlib is not a
    dependency) and atomically.

    Parameters
    ----------
    confusion : array_like
        Square count matrix.
    path : path
        Output ``.png``.
    classes : sequence of str, optional
        Class names for the axes (default: the ids).
    cell : int
        Cell size in pixels.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> write_confusion_png([[5, 1], [0, 4]], "confusion.png", classes=["a", "b"])
    ... # doctest: +SKIP
    PosixPath('confusion.png')
    """
    from pathlib import Path

    from PIL import Image, ImageDraw, ImageFont

    from satlearn.atomic import atomic_output

    matrix = np.asarray(confusion, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise InvalidInputError(f"confusion must be a non-empty square matrix, got {matrix.shape}")
    n = matrix.shape[0]
    names = [str(c) for c in (classes if classes is not None else range(n))]
    if len(names) != n:
        raise InvalidInputError(f"{len(names)} class names for a {n} x {n} confusion matrix")
    if cell < 8:
        raise InvalidInputError(f"cell must be at least 8 pixels, got {cell}")
    font = ImageFont.load_default()
    label_w = max(int(font.getlength(name)) for name in names) + 10
    title = "reference (rows) x predicted (columns)"
    title_h = 20
    width = max(label_w + n * cell + 4, int(font.getlength(title)) + 8)
    size = (width, title_h + label_w + n * cell + 4)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    rows = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows > 0, matrix / np.maximum(rows, 1), 0.0)
    # White (share 0) to dark blue (share 1), linear in RGB.
    low, high = np.array([255, 255, 255]), np.array([8, 48, 107])
    colours = (low + share[..., None] * (high - low)).round().astype(int)
    draw.text((4, 4), title, fill="black", font=font)
    top = title_h + label_w
    # Column labels rotated: draw each on its own small image, rotate, paste.
    for j, name in enumerate(names):
        text = Image.new("RGB", (label_w, cell), "white")
        ImageDraw.Draw(text).text((2, cell // 2 - 6), name, fill="black", font=font)
        image.paste(text.rotate(90, expand=True), (label_w + j * cell, title_h))
    for i, name in enumerate(names):
        draw.text((4, top + i * cell + cell // 2 - 6), name, fill="black", font=font)
        for j in range(n):
            x0, y0 = label_w + j * cell, top + i * cell
            fill = tuple(int(v) for v in colours[i, j])
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=fill, outline="grey")
            ink = "white" if share[i, j] > 0.5 else "black"
            draw.text((x0 + 3, y0 + cell // 2 - 6), str(matrix[i, j]), fill=ink, font=font)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        image.save(tmp, format="PNG")
    return target
