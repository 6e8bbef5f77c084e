"""DeepSat SAT-4/SAT-6: MATLAB v5 and v7.3 files, Kaggle CSVs, one-hot checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from _classification_fixtures import (
    deepsat_arrays,
    one_hot_kxn,
    to_matlab_x,
    write_deepsat_annotations_csv,
    write_deepsat_csv,
    write_deepsat_mat_v5,
    write_deepsat_mat_v73,
)

from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.deepsat import DeepSatSAT4, DeepSatSAT6, one_hot_to_labels
from satlearn.errors import InvalidInputError

SAT6_NAMES = ["building", "barren_land", "trees", "grassland", "road", "water"]
SAT4_NAMES = ["barren_land", "trees", "grassland", "none"]


@pytest.fixture
def sat6():
    return {"train": deepsat_arrays(9, 6, seed=1), "test": deepsat_arrays(4, 6, seed=2)}


def assert_reads_back(ds, images, labels):
    assert len(ds) == len(labels)
    for i in range(len(ds)):
        sample = ds[i]
        assert sample["image"].dtype == np.uint8 and sample["image"].shape == (4, 28, 28)
        np.testing.assert_array_equal(sample["image"], images[i])
        assert sample["label"] == labels[i]


def test_registered_with_published_classes_and_rgbn_bands():
    assert get_dataset("deepsat-sat6") is DeepSatSAT6
    assert DeepSatSAT6.classes == tuple(SAT6_NAMES) and DeepSatSAT4.classes == tuple(SAT4_NAMES)
    assert DeepSatSAT6.bands == ("red", "green", "blue", "nir")


def test_mat_v5_train_and_test(tmp_path, sat6):
    write_deepsat_mat_v5(tmp_path / "sat-6-full.mat", sat6, SAT6_NAMES)
    for split in ("train", "test"):
        ds = DeepSatSAT6(tmp_path, split=split)
        assert_reads_back(ds, *sat6[split])
        assert ds.describe()["format"] == "mat v5"
    # the chip is indexed [row, column, band, sample] in the file: check one pixel by hand
    images, _ = sat6["train"]
    raw = scipy.io.loadmat(tmp_path / "sat-6-full.mat")["train_x"]
    assert DeepSatSAT6(tmp_path)[3]["image"][2, 5, 7] == raw[5, 7, 2, 3] == images[3, 2, 5, 7]


def test_mat_v5_labels_stored_n_by_k_accepted(tmp_path):
    images, labels = deepsat_arrays(5, 4)
    scipy.io.savemat(
        tmp_path / "sat-4-full.mat",
        {"train_x": to_matlab_x(images), "train_y": one_hot_kxn(labels, 4).T},
    )
    assert_reads_back(DeepSatSAT4(tmp_path), images, labels)


def test_mat_v73_hdf5_lazy_with_matlab_transposed_layout(tmp_path, sat6):
    write_deepsat_mat_v73(tmp_path / "sat-6-full.mat", sat6, 6)
    assert (tmp_path / "sat-6-full.mat").read_bytes().startswith(b"MATLAB 7.3 MAT-file")
    ds = DeepSatSAT6(tmp_path, split="test")
    assert ds.describe()["format"] == "mat v7.3"
    assert ds._x is None  # nothing loaded up front
    assert_reads_back(ds, *sat6["test"])
    ds.close()
    assert ds[0]["label"] == sat6["test"][1][0]  # reopens after close
    ds.close()


def test_mat_v73_wrong_shape_and_missing_variable(tmp_path, sat6):
    write_deepsat_mat_v73(tmp_path / "sat-6-full.mat", {"train": sat6["train"]}, 6)
    with pytest.raises(DatasetError, match="no variable 'test_x'"):
        DeepSatSAT6(tmp_path, split="test")
    import h5py

    with h5py.File(tmp_path / "sat-4-full.mat", "w") as f:
        f["train_x"] = np.zeros((3, 4, 28, 27), np.uint8)
        f["train_y"] = np.zeros((3, 4), np.uint8)
    with pytest.raises(DatasetError, match=r"HDF5 shape \(3, 4, 28, 27\)"):
        DeepSatSAT4(tmp_path)


def test_mat_not_one_hot_names_file_and_row(tmp_path):
    images, labels = deepsat_arrays(6, 4)
    y = one_hot_kxn(labels, 4)
    y[:, 4] = [1, 1, 0, 0]
    scipy.io.savemat(tmp_path / "sat-4-full.mat", {"train_x": to_matlab_x(images), "train_y": y})
    with pytest.raises(
        DatasetError, match=r"sat-4-full.mat, row 4: \[1, 1, 0, 0\] is not a one-hot"
    ):
        DeepSatSAT4(tmp_path)


def test_mat_label_count_mismatch_and_bad_chip_shape(tmp_path):
    images, labels = deepsat_arrays(6, 4)
    scipy.io.savemat(
        tmp_path / "sat-4-full.mat",
        {"train_x": to_matlab_x(images), "train_y": one_hot_kxn(labels[:5], 4)},
    )
    with pytest.raises(DatasetError, match="do not match 6 chips"):
        DeepSatSAT4(tmp_path)
    scipy.io.savemat(tmp_path / "sat-4-full.mat", {"train_x": np.zeros((28, 28, 3, 2), np.uint8)})
    with pytest.raises(DatasetError, match="no variable 'train_y'"):
        DeepSatSAT4(tmp_path)
    scipy.io.savemat(
        tmp_path / "sat-4-full.mat",
        {"train_x": np.zeros((28, 28, 3, 2), np.uint8), "train_y": np.eye(4)[:, :2]},
    )
    with pytest.raises(DatasetError, match=r"shape \(28, 28, 3, 2\), expected 28x28x4xN"):
        DeepSatSAT4(tmp_path)


def test_mat_annotations_in_another_order_refused(tmp_path, sat6):
    swapped = [SAT6_NAMES[1], SAT6_NAMES[0], *SAT6_NAMES[2:]]
    write_deepsat_mat_v5(tmp_path / "sat-6-full.mat", sat6, swapped)
    with pytest.raises(DatasetError, match="disagree with the published class order"):
        DeepSatSAT6(tmp_path)


def test_not_a_mat_file(tmp_path):
    (tmp_path / "sat-4-full.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 10)
    with pytest.raises(DatasetError, match="not a readable MATLAB file"):
        DeepSatSAT4(tmp_path)


def test_csv_rows_are_28x28x4_row_major(tmp_path, sat6):
    for split, (images, labels) in sat6.items():
        write_deepsat_csv(tmp_path, 6, split, images, labels)
    write_deepsat_annotations_csv(tmp_path, 6, SAT6_NAMES)
    ds = DeepSatSAT6(tmp_path, split="test")
    assert ds.describe()["format"] == "csv"
    assert_reads_back(ds, *sat6["test"])
    # value k of a row is pixel (y, x) = divmod(k // 4, 28), band k % 4
    row = np.loadtxt(tmp_path / "X_test_sat6.csv", delimiter=",", dtype=int)[2]
    k = 4 * (28 * 3 + 11) + 2
    assert ds[2]["image"][2, 3, 11] == row[k]


def test_csv_preferred_only_when_no_mat_or_when_asked(tmp_path, sat6):
    images, labels = sat6["train"]
    write_deepsat_csv(tmp_path, 6, "train", images, labels)
    other = {"train": deepsat_arrays(3, 6, seed=9)}
    write_deepsat_mat_v5(tmp_path / "sat-6-full.mat", other, SAT6_NAMES)
    assert len(DeepSatSAT6(tmp_path)) == 3  # the .mat wins in auto
    assert_reads_back(DeepSatSAT6(tmp_path, format="csv"), images, labels)


def test_csv_trailing_blank_line_and_no_final_newline(tmp_path):
    images, labels = deepsat_arrays(3, 4)
    write_deepsat_csv(tmp_path, 4, "train", images, labels)
    x = tmp_path / "X_train_sat4.csv"
    x.write_text(x.read_text() + "\n")
    assert_reads_back(DeepSatSAT4(tmp_path), images, labels)
    x.write_text(x.read_text().rstrip("\n"))
    assert_reads_back(DeepSatSAT4(tmp_path), images, labels)


def test_csv_with_header_refused(tmp_path):
    images, labels = deepsat_arrays(2, 4)
    write_deepsat_csv(tmp_path, 4, "train", images, labels)
    x = tmp_path / "X_train_sat4.csv"
    x.write_text(",".join(f"pixel{i}" for i in range(3136)) + "\n" + x.read_text())
    with pytest.raises(DatasetError, match=r"X_train_sat4.csv, row 1: .*header"):
        DeepSatSAT4(tmp_path)


def test_csv_label_header_not_one_hot_and_row_count(tmp_path):
    images, labels = deepsat_arrays(4, 4)
    write_deepsat_csv(tmp_path, 4, "train", images, labels)
    y = tmp_path / "y_train_sat4.csv"
    good = y.read_text()
    y.write_text("a,b,c,d\n" + good)
    with pytest.raises(DatasetError, match=r"y_train_sat4\.csv: not a headerless one-hot CSV"):
        DeepSatSAT4(tmp_path)
    lines = good.splitlines()
    lines[2] = "0,1,1,0"
    y.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"y_train_sat4.csv, row 3: \[0.0, 1.0, 1.0, 0.0\]"):
        DeepSatSAT4(tmp_path)
    y.write_text("\n".join(good.splitlines()[:3]) + "\n")
    with pytest.raises(DatasetError, match="has 4 rows but"):
        DeepSatSAT4(tmp_path)
    y.write_text("1,0,0\n" * 4)
    with pytest.raises(DatasetError, match="3 columns, expected 4"):
        DeepSatSAT4(tmp_path)
    y.unlink()
    with pytest.raises(DatasetError, match=r"y_train_sat4\.csv is missing"):
        DeepSatSAT4(tmp_path)


def test_csv_bad_pixel_row_named_when_read(tmp_path):
    images, labels = deepsat_arrays(4, 4)
    write_deepsat_csv(tmp_path, 4, "train", images, labels)
    x = tmp_path / "X_train_sat4.csv"
    lines = x.read_text().splitlines()
    lines[1] = ",".join(lines[1].split(",")[:-1])  # one value short
    lines[2] = lines[2].replace(",", ",x", 1)
    lines[3] = "   "
    x.write_text("\n".join(lines) + "\n")
    ds = DeepSatSAT4(tmp_path)
    np.testing.assert_array_equal(ds[0]["image"], images[0])
    with pytest.raises(DatasetError, match=r"X_train_sat4.csv, row 2: 3135 values"):
        ds[1]
    with pytest.raises(DatasetError, match=r"X_train_sat4.csv, row 3: not integers"):
        ds[2]
    with pytest.raises(DatasetError, match=r"X_train_sat4.csv, row 4: empty row"):
        ds[3]


def test_annotation_csv_checked(tmp_path):
    images, labels = deepsat_arrays(2, 4)
    write_deepsat_csv(tmp_path, 4, "train", images, labels)
    write_deepsat_annotations_csv(tmp_path, 4, ["trees", "barren_land", "grassland", "none"])
    with pytest.raises(DatasetError, match=r"sat4annotations\.csv: annotations"):
        DeepSatSAT4(tmp_path)
    (tmp_path / "sat4annotations.csv").write_text("barren_land,1,0,0\n")
    with pytest.raises(DatasetError, match="row 1: 3 flags, expected 4"):
        DeepSatSAT4(tmp_path)
    (tmp_path / "sat4annotations.csv").write_text("barren_land,1,0,zero,0\n")
    with pytest.raises(DatasetError, match=r"row 1: expected 'name,0,1,\.\.\.'"):
        DeepSatSAT4(tmp_path)
    write_deepsat_annotations_csv(tmp_path, 4, SAT4_NAMES)
    assert len(DeepSatSAT4(tmp_path)) == 2


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(DatasetError, match=r"neither sat-6-full.mat nor X_train_sat6.csv.*kaggle"):
        DeepSatSAT6(tmp_path)
    with pytest.raises(InvalidInputError, match="split"):
        DeepSatSAT6(tmp_path, split="val")
    with pytest.raises(InvalidInputError, match="format"):
        DeepSatSAT6(tmp_path, format="npz")  # type: ignore[arg-type]


def test_one_hot_to_labels_rejects_values_other_than_0_1():
    assert one_hot_to_labels(np.array([[0, 0, 1]]), source="s").tolist() == [2]
    with pytest.raises(DatasetError, match=r"s, row 0: \[0, 2, -1\]"):
        one_hot_to_labels(np.array([[0, 2, -1]]), source="s")


def test_dataloader_over_hdf5(tmp_path, sat6):
    torch = pytest.importorskip("torch")
    write_deepsat_mat_v73(tmp_path / "sat-6-full.mat", sat6, 6)
    ds = DeepSatSAT6(tmp_path)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 4, 28, 28) and batch["image"].dtype == torch.uint8
    assert batch["label"].tolist() == sat6["train"][1][:2].tolist()
    assert ds._h5 is not None
    assert ds.__getstate__()["_h5"] is None  # workers get no handle of the parent's
    ds.close()
