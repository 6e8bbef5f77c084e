"""STAC catalogues: build, read and crawl, search, validate.

* :mod:`~satlearn.catalog.build`: a self-contained static catalogue from a folder of
  rasters (eo, projection, raster and file extensions filled from the data, PNG
  thumbnails, extents), written atomically.
* :mod:`~satlearn.catalog.crawl`: read a static catalogue from a path or URL; a crawl
  reports and skips broken branches, a strict read raises :class:`CatalogError`.
* :mod:`~satlearn.catalog.search`: :class:`CatalogIndex`, built once (STRtree of
  bboxes, datetime arrays, property columns), queried by bbox / geometry /
  datetime interval / CQL2-JSON filter.
* :mod:`~satlearn.catalog.validation`: JSON-schema validation with no network access.
"""

from __future__ import annotations

from satlearn.errors import CatalogError

__all__ = [
    "CatalogError",
    "CatalogIndex",
    "CrawlProblem",
    "CrawlResult",
    "build_catalog",
    "crawl",
    "item_from_raster",
    "parse_datetime_interval",
    "read_catalog",
    "validate",
    "validate_catalog",
]


from satlearn.catalog.build import build_catalog, item_from_raster
from satlearn.catalog.crawl import CrawlProblem, CrawlResult, crawl, read_catalog
from satlearn.catalog.search import CatalogIndex, parse_datetime_interval
from satlearn.catalog.validation import validate, validate_catalog
