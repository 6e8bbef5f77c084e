"""What a prediction run leaves in its folder: COGs, polygons, a STAC item, a thumbnail.

Every file is written under a temporary name and renamed into place, so a
name in the folder always holds a complete file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satlearn.atomic import atomic_output, write_json
from satlearn.predict._source import Source

__all__ = [
    "CLASSES_COG",
    "GEOJSON",
    "ITEM_JSON",
    "NODATA",
    "PARQUET",
    "PROBABILITIES_COG",
    "THUMBNAIL",
    "class_palette",
    "grid_array",
    "save_item",
    "write_item",
    "write_thumbnail",
    "write_vectors",
]

CLASSES_COG = "classes.tif"
PROBABILITIES_COG = "probabilities.tif"
PARQUET = "polygons.parquet"
GEOJSON = "polygons.geojson"
ITEM_JSON = "item.json"
THUMBNAIL = "thumbnail.png"
#: The class value of pixels without a prediction (nodata in the input).
NODATA = 255
#: Probabilities are stored as round(p * PROBABILITY_STEPS), 255 being nodata.
PROBABILITY_STEPS = 254


def grid_array(data: Any, source: Source, names: list[str], nodata: float) -> xr.DataArray:
    """A ``(band, y, x)`` DataArray on the scene's grid around ``data``."""
    from satlearn.raster import georeference, pixel_centres

    ys, xs = pixel_centres(source.transform, source.height, source.width)
    da = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": names, "y": ys, "x": xs})
    return georeference(da, source.crs, source.transform, nodata)


def class_palette(n: int) -> np.ndarray:
    """``(n, 3)`` uint8 colours, distinct for the first ten classes (tab10)."""
    tab10 = np.array(
        [
            [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
            [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
        ],
        dtype=np.uint8,
    )  # fmt: skip
    return tab10[np.arange(n) % len(tab10)]


def write_thumbnail(classes_cog: Path, path: Path, n_classes: int, *, size: int = 256) -> Path:
    """A colour PNG of the class COG read through its overviews (nodata transparent)."""
    import rasterio
    from PIL import Image

    with rasterio.open(classes_cog) as src:
        scale = max(src.height, src.width) / size
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        values = src.read(1, out_shape=shape)
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    known = values != NODATA
    rgba[known, :3] = class_palette(max(n_classes, 1))[np.minimum(values[known], n_classes - 1)]
    rgba[known, 3] = 255
    with atomic_output(path) as tmp:
        Image.fromarray(rgba, "RGBA").save(tmp, format="PNG")
    return path


def write_vectors(
    polygons: list[tuple[Any, int]], classes: Mapping[int, str], crs: Any, folder: Path
) -> tuple[Path, Path, int]:
    """GeoParquet (scene CRS, GeoParquet ``geo`` metadata) and GeoJSON (WGS 84)."""
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {
            "class_id": np.array([c for _, c in polygons], dtype=np.int32),
            "class_name": [classes.get(c, str(c)) for _, c in polygons],
        },
        geometry=[g for g, _ in polygons],
        crs=crs,
    )
    frame["area"] = frame.geometry.area
    parquet = folder / PARQUET
    with atomic_output(parquet) as tmp:
        frame.to_parquet(tmp, index=False)
    geojson = folder / GEOJSON
    wgs84 = frame.to_crs("EPSG:4326") if crs is not None else frame
    with atomic_output(geojson) as tmp:
        tmp.write_text(wgs84.to_json(drop_id=True), encoding="utf-8")
    return parquet, geojson, len(frame)


def save_item(item: Any, folder: Path) -> Path:
    """Write a pystac item as ``folder/item.json``, atomically, hrefs as they are."""
    path = folder / ITEM_JSON
    document = item.to_dict(include_self_link=False, transform_hrefs=False)
    write_json(json.loads(json.dumps(document)), path)
    return path


def write_item(
    folder: Path,
    *,
    item_id: str,
    classes: Mapping[int, str],
    outputs: Mapping[str, Path],
    properties: Mapping[str, Any],
) -> Path:
    """A STAC item describing every output (classification extension on the classes)."""
    import pystac

    from satlearn.catalog.build import item_from_raster

    item = item_from_raster(
        outputs["classes"],
        id=item_id,
        datetime=dt.datetime.now(dt.UTC),
        asset_href=outputs["classes"].name,
        properties=dict(properties),
    )
    data = item.assets.pop("data")
    data.title = "Predicted classes"
    item.add_asset("classes", data)
    ext = "https://stac-extensions.github.io/classification/v2.0.0/schema.json"
    item.stac_extensions.append(ext)
    data.extra_fields["classification:classes"] = [
        {"value": int(k), "name": str(v).replace(" ", "_") or f"class_{k}", "description": str(v)}
        for k, v in sorted(classes.items())
    ]
    media = {
        "probabilities": ("image/tiff; application=geotiff; profile=cloud-optimized", ["data"]),
        "polygons": ("application/vnd.apache.parquet", ["data"]),
        "polygons_geojson": ("application/geo+json", ["data"]),
        "thumbnail": ("image/png", ["thumbnail"]),
    }
    for key, (media_type, roles) in media.items():
        if key in outputs:
            item.add_asset(
                key,
                pystac.Asset(href=outputs[key].name, media_type=media_type, roles=roles, title=key),
            )
    path = save_item(item, folder)
    return path
