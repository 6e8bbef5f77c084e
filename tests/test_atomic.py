"""Atomic outputs: a failed write leaves neither a partial file nor a temporary."""

from __future__ import annotations

import json

import pytest

from satlearn.atomic import atomic_output, write_json


def test_success_renames_into_place(tmp_path):
    with atomic_output(tmp_path / "sub" / "a.txt") as tmp:
        assert tmp.parent == tmp_path / "sub"
        assert tmp.name.startswith(".a.txt.")
        tmp.write_text("done")
    assert (tmp_path / "sub" / "a.txt").read_text() == "done"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.txt"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def interrupted_write() -> None:
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted_write()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_write_json(tmp_path):
    path = write_json({"b": [1, 2], "a": None}, tmp_path / "x.json")
    assert json.loads(path.read_text()) == {"b": [1, 2], "a": None}
