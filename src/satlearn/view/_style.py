"""A tile request's parameters (bands, expression, rescale, colormap, model), checked.

The parameters are read from the query string and checked against the asset
they draw (its bands, their names) before anything is read, so a bad one is a
400 naming it, and a good one becomes a :class:`TileStyle`, part of the tile's
ETag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from satlearn.errors import InvalidInputError
from satlearn.view._expression import Expression, bind_bands, parse_expression
from satlearn.view._render import AssetMeta, parse_colormap, parse_rescale

__all__ = ["ID_PATTERN", "TILE_PARAMS", "TileStyle", "check_id", "default_bands", "parse_style"]

#: Ids in tile paths: letters, digits, dot, underscore, hyphen ('..' never).
ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
TILE_PARAMS = ("bands", "expression", "rescale", "colormap", "model", "layer", "class_id")


def check_id(value: str, what: str) -> str:
    """``value`` if it is a safe id (see ID_PATTERN), else InvalidInputError."""
    if not ID_PATTERN.match(value) or ".." in value:
        raise InvalidInputError(
            f"{what} {value[:80]!r}: ids are letters, digits, '.', '_' and '-' (never '..')"
        )
    return value


@dataclass(frozen=True)
class TileStyle:
    """A tile request's drawing parameters, checked against the asset."""

    indexes: tuple[int, ...]  # bands read (1-based)
    expression: Expression | None
    bound: tuple[tuple[str, int], ...]  # expression symbol -> 0-based position in ``indexes``
    rescale: tuple[tuple[float, float], ...] | None
    colormap: str | None
    model: str | None
    layer: str
    class_id: int | None

    def key(self) -> list[Any]:
        """What the tile's pixels depend on, for its ETag."""
        return [
            list(self.indexes),
            self.expression.text if self.expression else None,
            self.rescale,
            self.colormap,
            self.model,
            self.layer,
            self.class_id,
        ]


def default_bands(meta: AssetMeta) -> tuple[int, ...]:
    """Red, green, blue when the asset names them, else its first three bands (or band 1)."""
    lowered = [n.lower() for n in meta.names]
    if all(c in lowered for c in ("red", "green", "blue")):
        return tuple(lowered.index(c) + 1 for c in ("red", "green", "blue"))
    return tuple(range(1, min(3, meta.count) + 1)) if meta.count >= 3 else (1,)


def parse_style(meta: AssetMeta, params: Any) -> TileStyle:
    """The checked drawing parameters of a request's query ``params`` for ``meta``."""
    bands_text = params.get("bands")
    expr_text = params.get("expression")
    model = params.get("model")
    if sum(v is not None for v in (bands_text, expr_text, model)) > 1:
        raise InvalidInputError("give one of bands, expression and model, not several")
    colormap = parse_colormap(params.get("colormap"))
    layer = params.get("layer") or "classes"
    class_text = params.get("class_id")
    class_id = None
    if class_text is not None:
        text = class_text.strip()
        # isdigit() also accepts '²' (int() refuses it); int() refuses > 4300 digits.
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise InvalidInputError(f"class_id {class_text[:40]!r}: expected a class id (0, 1 ...)")
        class_id = int(text)
    if model is not None:
        check_id(model, "model")
        if layer not in ("classes", "probability"):
            raise InvalidInputError(f"layer {layer[:40]!r}: one of classes, probability")
        if colormap is not None and layer == "classes":
            raise InvalidInputError("colormap: classes are drawn with their own colours")
        return TileStyle((), None, (), None, colormap, model, layer, class_id)
    expression = None
    bound: tuple[tuple[str, int], ...] = ()
    if expr_text is not None:
        expression = parse_expression(expr_text)
        positions = bind_bands(expression, meta.names)
        indexes = tuple(sorted({p + 1 for p in positions.values()}))
        bound = tuple((s, indexes.index(p + 1)) for s, p in positions.items())
        n_out = 1
    elif bands_text is not None:
        indexes = tuple(meta.band_index(t) for t in bands_text.split(",") if t.strip())
        if len(indexes) not in (1, 3):
            raise InvalidInputError(
                f"bands {bands_text[:80]!r}: give one band or three (red, green, blue)"
            )
        n_out = len(indexes)
    else:
        indexes = default_bands(meta)
        n_out = len(indexes)
    if colormap is not None and n_out != 1:
        raise InvalidInputError("colormap: colours one band or an expression, not three bands")
    rescale = parse_rescale(params.get("rescale"), n_out)
    return TileStyle(
        indexes,
        expression,
        bound,
        tuple(rescale) if rescale else None,
        colormap,
        None,
        layer,
        class_id,
    )
