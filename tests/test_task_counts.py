"""Task counts of the pipeline cube -> cloud mask -> median composite -> index.

Counted after ``dask.optimize`` (what the scheduler receives), never run. The
cube is chunked as a STAC cube is (one date per chunk, all bands together).
Measured on this synthetic cube (2026-08, dask 2026.8): per output chunk
about 8 + 6 x dates tasks (79 for 2 dates x 4 chunks, 307 for 16 chunks, 127
for 4 dates x 4 chunks), nearly flat in the number of bands (110 with the 7
bands the rules need, 127 with all 13). The per-date part is inherent to a
time-chunked cube (one read per date per chunk); what it adds beyond the read
(the per-date ``isel`` + ``concat`` of the cloud masks, the ``where`` and the
rechunk to whole time series) is the fusion left to do in ``median_composite``.
"""

from __future__ import annotations

import dask
import numpy as np
import pytest

from satlearn.ops.clouds import RULES_BANDS
from satlearn.ops.composite import median_composite
from satlearn.ops.indices import compute_index
from satlearn.synth import make_scene

# Tasks per (output chunk x (dates + 1)): measured 6.6 at most above (127 / (4 x 5) = 6.4,
# 79 / (4 x 3) = 6.6); 8 leaves room for dask's own changes without hiding a per-band
# or per-step blow-up (one more task per band would add 13 per date-chunk).
K = 8


@pytest.fixture(scope="module")
def scenes():
    return {n: make_scene(256, seed=1, n_dates=n, ships=False) for n in (2, 4)}


def pipeline_tasks(scene, px: int, bands=None) -> tuple[int, int]:
    image = scene.image if bands is None else scene.image.sel(band=bands)
    cube = image.chunk({"time": 1, "band": -1, "y": px, "x": px})
    ndvi = compute_index(median_composite(cube, cloud_mask="rules"), "ndvi")
    (optimised,) = dask.optimize(ndvi.data)
    return len(optimised.__dask_graph__()), int(np.prod(ndvi.data.numblocks))


@pytest.mark.parametrize("dates", [2, 4])
@pytest.mark.parametrize("px", [128, 64])
def test_tasks_grow_with_output_chunks_not_bands_or_steps(scenes, dates, px):
    tasks, chunks = pipeline_tasks(scenes[dates], px)
    assert tasks <= K * chunks * (dates + 1), (tasks, chunks)


def test_tasks_are_linear_in_output_chunks(scenes):
    few, n_few = pipeline_tasks(scenes[2], 128)
    many, n_many = pipeline_tasks(scenes[2], 64)
    assert n_many == 4 * n_few
    # Linear (a constant few tasks aside), never quadratic.
    assert many <= 4 * few + 8


def test_tasks_hardly_depend_on_the_number_of_bands(scenes):
    seven, _ = pipeline_tasks(scenes[4], 128, bands=list(RULES_BANDS))
    thirteen, _ = pipeline_tasks(scenes[4], 128)
    # 6 more bands: far less than one more task per band per date-chunk (6 x 4 x 4 = 96).
    assert thirteen - seven < 6 * 4 * 4 / 2, (seven, thirteen)
