"""The shared view fixtures load: the COG has overviews, the catalogue indexes, the model runs."""

from __future__ import annotations

import rasterio


def test_view_cog_has_overviews(view_cog):
    with rasterio.open(view_cog) as src:
        assert src.count == 4
        assert src.overviews(1)
        assert src.descriptions == ("blue", "green", "red", "nir")


def test_view_index_and_models(view_index, view_model_lookup):
    (item,) = view_index.items
    assert item.collection_id == "scenes"
    assert set(item.assets) == {"image", "plain"}
    assert (view_model_lookup("seg") / "bundle.json").is_file()
