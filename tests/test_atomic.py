"""Atomic outputs: a failed write leaves neither a partial file nor a temporary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from satlearn.atomic import atomic_output, remove_stale_temporaries, temporary_sibling, write_json


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


# --------------------------------------------------------------------------- stale temporaries


def _dead_pid() -> int:
    import sys

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def test_temporary_names_carry_the_writers_pid(tmp_path):

    name = temporary_sibling(tmp_path / "a.tif", "cog").name
    assert name.startswith(f".a.tif.cog-{os.getpid()}-") and name.endswith(".tmp")


def test_stale_temporaries_are_those_of_writers_that_are_gone(tmp_path):
    import subprocess

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.05)
        names = {
            "dead": f".a.tif.staging-{_dead_pid()}-0123abcd.tmp",
            "dead, GDAL's overview": f".a.tif.cog-{_dead_pid()}-0123abcd.tmp.ovr.tmp",
            "other live writer": f".a.tif.cog-{alive.pid}-0123abcd.tmp",
            "this process": f".a.tif.partial-{os.getpid()}-0123abcd.tmp",
            "pid reused": f".a.tif.partial-{alive.pid}-4567abcd.tmp",
            "old name, before this process": ".a.tif.staging-89abcdef.tmp",
            "another target": f".b.tif.partial-{_dead_pid()}-0123abcd.tmp",
            "not a temporary": ".a.tif.notes-0123abcd.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_text("x")
        (tmp_path / names["dead"]).unlink()
        (tmp_path / names["dead"]).mkdir()  # a Zarr store is a folder
        long_ago = time.time() - 3600
        for key in ("pid reused", "old name, before this process", "not a temporary"):
            os.utime(tmp_path / names[key], (long_ago, long_ago))

        removed = {p.name for p in remove_stale_temporaries(tmp_path / "a.tif")}
    finally:
        alive.kill()
        alive.wait()
    gone = {"dead", "dead, GDAL's overview", "pid reused", "old name, before this process"}
    assert removed == {names[key] for key in gone}
    assert {p.name for p in tmp_path.iterdir()} == {names[k] for k in names if k not in gone}


def test_a_new_temporary_clears_its_folders_stale_ones_first(tmp_path):

    stale = tmp_path / f".a.txt.partial-{_dead_pid()}-0123abcd.tmp"
    stale.write_text("left by a killed writer")
    with atomic_output(tmp_path / "a.txt") as tmp:
        tmp.write_text("done")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_sigterm_unwinds_like_sigint_and_exits_143(tmp_path):
    import sys

    script = textwrap.dedent(
        f"""
        import os, signal, time
        from satlearn.atomic import atomic_output, handle_sigterm
        handle_sigterm()
        with atomic_output({str(tmp_path / "a.txt")!r}) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 143
    assert result.stderr.strip() == "error: terminated by SIGTERM"
    assert list(tmp_path.iterdir()) == []
