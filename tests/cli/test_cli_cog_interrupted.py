"""``satlearn cog`` killed mid-write: SIGTERM leaves nothing behind; after a SIGKILL
the next write to the same target removes the stale temporaries and succeeds.

Real processes and real signals; the input is big enough (64 MiB of noise) that
the COG copy takes about a second, and the signal is sent as soon as the
writer's first temporary appears.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import dask.array
import pytest

from conftest import make_dataarray
from satlearn.raster import save_cog, validate_cog

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CLI = Path(sys.executable).with_name("satlearn")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    noise = dask.array.random.default_rng(0).integers(
        0, 10000, (2, 4096, 4096), dtype="uint16", chunks=(1, 2048, 2048)
    )
    folder = tmp_path_factory.mktemp("big")
    return save_cog(
        make_dataarray(noise, nodata=0), folder / "big.tif", overviews=None, compress="none"
    )


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".out.tif."))


def _start_and_signal(big: Path, out: Path, signum: int) -> tuple[subprocess.Popen, list[str]]:
    """Start ``satlearn cog``, send ``signum`` once its first temporary exists."""
    process = subprocess.Popen(
        [str(CLI), "cog", str(big), str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < deadline and process.poll() is None:
        seen = _temporaries(out.parent)
        if seen:
            process.send_signal(signum)
            break
        time.sleep(0.005)
    process.communicate(timeout=120)
    if not seen:
        pytest.fail(
            f"satlearn cog finished (rc {process.returncode}) before any temporary appeared"
        )
    return process, seen


def test_sigterm_mid_write_removes_every_temporary(tmp_path, big):
    out = tmp_path / "out.tif"
    process, seen = _start_and_signal(big, out, signal.SIGTERM)
    assert any(".staging-" in name or ".cog-" in name for name in seen), seen
    assert process.returncode == 128 + signal.SIGTERM
    assert _temporaries(tmp_path) == []
    # The signal may land after the rename; then the output is whole.
    assert not out.exists() or validate_cog(out)[0]


def test_after_a_sigkill_the_next_write_removes_the_stale_temporaries(tmp_path, big):
    out = tmp_path / "out.tif"
    process, _ = _start_and_signal(big, out, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    left = _temporaries(tmp_path)
    assert left, "a SIGKILL cannot be caught: the killed writer leaves its temporaries"
    assert not out.exists()

    again = subprocess.run([str(CLI), "cog", str(big), str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert _temporaries(tmp_path) == []
    assert validate_cog(out) == (True, [], [])
