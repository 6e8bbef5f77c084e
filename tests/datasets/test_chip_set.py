"""The chip-set reader: a folder that is not a chip set, or a broken one, names the folder.

Chip sets written and read back are in tests/prep/test_chips.py (the writer's tests).
"""

from __future__ import annotations

import pytest

from satlearn.datasets.chip_set import ChipDataset
from satlearn.errors import DatasetError


def test_chip_dataset_errors_name_the_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"has no index\.csv"):
        ChipDataset(tmp_path)
    (tmp_path / "chipset.json").write_text("{")
    (tmp_path / "index.csv").write_text("id,image\n")
    with pytest.raises(DatasetError, match="not valid JSON"):
        ChipDataset(tmp_path)
    (tmp_path / "chipset.json").write_text("{}")
    with pytest.raises(DatasetError, match="lacks column"):
        ChipDataset(tmp_path)
    (tmp_path / "index.csv").write_text(
        "id,image,mask,split,minx,miny,maxx,maxy\na,images/a.tif,masks/a.tif,train,0,0,1,1\n"
    )
    with pytest.raises(DatasetError, match="unknown split 'holdout'"):
        ChipDataset(tmp_path, split="holdout")
    with pytest.raises(DatasetError, match="chip a in"):
        ChipDataset(tmp_path)[0]
