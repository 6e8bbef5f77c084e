"""Shared pieces of tests/reliability: a fork server that runs jobs to be SIGKILLed, checks.

The crash tests kill satlearn jobs (``save_cog``, CLI verbs) at seeded random
times. Starting a fresh interpreter per run would cost ~5-8 s of imports on
two cores (torch, onnxruntime, GDAL), so one server process imports them
once and forks a child per run: the child is a real, separate process (its
own pid, files and exit), killed with SIGKILL exactly like a ``satlearn``
started from a shell, and the next run is a new child, as a re-run from a
shell would be. The server imports but computes nothing, so no thread pool
exists at fork time.

Run as a script (``python tests/fixtures_reliability.py``) it is the server:
one JSON request per stdin line, one JSON answer per stdout line.

Also here: :func:`check_outputs` (every file under a final name is whole and
valid), :func:`temporaries` (leftovers of satlearn's naming patterns) and a
size-limited tmpfs that can be remounted read-only, for the disk-full tests.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent

# Longer seeded runs: SATLEARN_KILL_ROUNDS multiplies the kills per job (1 in make test).
KILL_ROUNDS = int(os.environ.get("SATLEARN_KILL_ROUNDS", "1"))
KILL_SEED = int(os.environ.get("SATLEARN_KILL_SEED", "18"))

# Hidden temporaries satlearn writes: ".{name}.{tag}-{pid}-{hex}.tmp[...]" (satlearn.atomic),
# the older ".{name}.partial-{hex}" / ".{name}.old-{hex}" folders, and the predict store's
# "settings.tmp".
_TEMPORARY = re.compile(
    r"^\..+\.[A-Za-z0-9_]+-(\d+-)?[0-9a-f]{8}\.tmp|^\..+\.(partial|old)-[0-9a-f]{8}$|^settings\.tmp$"
)


# --------------------------------------------------------------------------- the server side


def _warm_imports() -> None:
    """Import what the jobs use, so a forked child starts in milliseconds."""
    import onnxruntime  # noqa: F401
    import pystac  # noqa: F401
    import rasterio  # noqa: F401
    import safetensors.torch  # noqa: F401
    import torch  # noqa: F401

    import satlearn.catalog.build
    import satlearn.cli
    import satlearn.demo
    import satlearn.predict
    import satlearn.prep.chips
    import satlearn.raster
    import satlearn.train.loop  # noqa: F401


def _child(job: dict[str, Any]) -> int:
    """Run one job in the forked child; its exit status."""
    if job["kind"] == "cli":
        from satlearn.cli import app

        try:
            app(args=job["argv"], prog_name="satlearn", standalone_mode=True)
        except SystemExit as done:
            code = done.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        return 0
    if job["kind"] == "save_cog":
        from satlearn.raster import open_raster, save_cog

        da = open_raster(job["src"], chunks=job.get("chunks", 64))
        save_cog(da, job["dst"], blocksize=job.get("blocksize", 64), compress="deflate")
        return 0
    raise ValueError(f"unknown job kind {job['kind']!r}")


def _run(job: dict[str, Any], kill_after_s: float | None, log: str) -> dict[str, Any]:
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the server's loop
        code = 1
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = os.fdopen(1, "w", buffering=1)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            os.environ["SATLEARN_KILL_CHILD"] = "1"
            code = _child(job)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    killed = False
    deadline = None if kill_after_s is None else started + kill_after_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if deadline is not None and time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            # It may have exited on its own just before: only a death by the signal counts.
            killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            break
        time.sleep(0.002)
    return {
        "killed": killed,
        "rc": os.waitstatus_to_exitcode(status),
        "seconds": time.monotonic() - started,
    }


def serve() -> None:
    """The server loop: a JSON request per stdin line, a JSON answer per stdout line."""
    _warm_imports()
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        answer = _run(request["job"], request.get("kill_after_s"), request["log"])
        out.write(json.dumps(answer) + "\n")
        out.flush()


# --------------------------------------------------------------------------- the test side


class ForkServer:
    """The test's handle on the server subprocess."""

    def __init__(self, workdir: Path) -> None:
        env = dict(os.environ)
        # Killed children never save coverage data, and tracing the jobs would
        # double the harness's time: the server runs untraced.
        for key in [k for k in env if k.startswith("COV_CORE") or k.startswith("COVERAGE")]:
            env.pop(key)
        # One intra-op thread: the runs are tiny, and two cores are shared.
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.log = workdir / "jobs.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=workdir,
        )
        self._read(timeout_s=240)

    def _read(self, timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            raise TimeoutError(f"the fork server did not answer within {timeout_s} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server died (see {self.log})")
        return json.loads(line)

    def run(
        self, job: dict[str, Any], kill_after_s: float | None = None, timeout_s: float = 300
    ) -> dict[str, Any]:
        """Run ``job`` in a fresh child; SIGKILL it after ``kill_after_s`` if still running."""
        assert self.proc.stdin is not None
        with self.log.open("a") as handle:
            handle.write(f"\n=== {json.dumps(job)} kill_after_s={kill_after_s}\n")
        self.proc.stdin.write(
            json.dumps({"job": job, "kill_after_s": kill_after_s, "log": str(self.log)}) + "\n"
        )
        self.proc.stdin.flush()
        answer = self._read(timeout_s)
        with self.log.open("a") as handle:
            handle.write(f"=== answer {json.dumps(answer)}\n")
        return answer

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="session")
def fork_server(tmp_path_factory) -> Iterator[ForkServer]:
    """One warm fork server for every crash test of the session."""
    server = ForkServer(tmp_path_factory.mktemp("fork-server"))
    try:
        yield server
    finally:
        server.close()


class KillTally:
    """Counts the kills of the session's crash tests (printed at the end with -s/-rA)."""

    def __init__(self) -> None:
        self.kills: dict[str, int] = {}
        self.completed: dict[str, int] = {}

    def add(self, job: str, killed: bool) -> None:
        book = self.kills if killed else self.completed
        book[job] = book.get(job, 0) + 1


@pytest.fixture(scope="session")
def kill_tally() -> Iterator[KillTally]:
    tally = KillTally()
    yield tally
    if tally.kills:
        total = sum(tally.kills.values())
        sys.stderr.write(f"\nSIGKILLs survived: {total} {tally.kills}\n")


def kill_chain(
    server: ForkServer,
    tally: KillTally,
    name: str,
    job: Any,
    root: Path,
    *,
    kills: int,
    check: Any,
    compare: Any,
    seed: int,
) -> dict[str, Any]:
    """Kill ``job(folder)`` ``kills`` times at seeded random moments; check each state.

    The first run is uninterrupted (the reference, and the time scale of the
    kills). Then runs into one folder are killed after a delay drawn uniformly
    in [2 %, 100 %] of the reference's time, each re-run resuming from what the
    last one left; ``check(folder)`` must report no problem after every kill.
    A run that finishes before its kill ends the chain: ``compare(folder,
    reference)`` must hold, no temporary may be left, and the next chain
    starts in a fresh folder. The last chain is run to its end.
    """
    import random

    rng = random.Random(f"{KILL_SEED}-{seed}")
    reference = root / "reference"
    answer = server.run(job(reference))
    assert answer["rc"] == 0, server.tail()
    scale = answer["seconds"]
    killed = chains = attempts = 0
    work = root / f"chain{chains}"
    while killed < kills and attempts < 4 * kills:
        attempts += 1
        answer = server.run(job(work), kill_after_s=rng.uniform(0.02, 1.0) * scale)
        problems = check(work)
        assert not problems, f"{name}: after a kill at {answer['seconds']:.2f} s: {problems}"
        if answer["killed"]:
            killed += 1
            tally.add(name, True)
            continue
        assert answer["rc"] == 0, server.tail()
        compare(work, reference)
        assert not temporaries(work), f"{name}: temporaries left: {temporaries(work)}"
        tally.add(name, False)
        chains += 1
        work = root / f"chain{chains}"
    answer = server.run(job(work))
    assert answer["rc"] == 0, server.tail()
    assert not check(work)
    compare(work, reference)
    assert not temporaries(work), f"{name}: temporaries left: {temporaries(work)}"
    assert killed >= kills, f"{name}: only {killed} of {kills} runs were killed in time"
    return {"kills": killed, "chains": chains + 1, "reference_s": scale}


def temporaries(folder: Path) -> list[Path]:
    """Leftovers of satlearn's temporary naming patterns anywhere under ``folder``."""
    return sorted(p for p in Path(folder).rglob("*") if _TEMPORARY.search(p.name))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def check_outputs(folder: Path, *, cogs: tuple[str, ...] = ()) -> list[str]:
    """Problems of the files under final (non-hidden) names below ``folder``; [] if none.

    Every GeoTIFF is opened and fully decoded (those named in ``cogs`` are also
    validated as COGs), JSON and GeoJSON parse, CSV rows all have the header's
    width, Parquet reads, PNG verifies, safetensors load, and a folder with a
    ``bundle.json`` reads as a bundle whose checksums match.
    """
    import numpy as np
    import rasterio
    from PIL import Image

    problems: list[str] = []
    folder = Path(folder)
    if not folder.exists():
        return problems
    for path in sorted(folder.rglob("*")):
        if _hidden(path, folder) or not path.is_file():
            continue
        where = str(path.relative_to(folder))
        try:
            suffix = path.suffix.lower()
            if suffix in {".tif", ".tiff"}:
                with rasterio.open(path) as src:
                    np.asarray(src.read())
                if path.name in cogs:
                    from satlearn.raster import validate_cog

                    ok, errors, _ = validate_cog(path)
                    if not ok:
                        problems.append(f"{where}: not a valid COG: {errors}")
            elif suffix in {".json", ".geojson"}:
                json.loads(path.read_text(encoding="utf-8"))
            elif suffix == ".csv":
                with path.open(newline="", encoding="utf-8") as handle:
                    rows = list(csv.reader(handle))
                if rows and any(len(r) != len(rows[0]) for r in rows):
                    problems.append(f"{where}: ragged CSV rows")
                if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
                    problems.append(f"{where}: CSV cut mid-line")
            elif suffix == ".parquet":
                import pyarrow.parquet as pq

                pq.read_table(path)
            elif suffix == ".png":
                with Image.open(path) as image:
                    image.verify()
            elif suffix == ".safetensors":
                from safetensors.torch import load_file

                load_file(str(path))
        except Exception as err:
            problems.append(f"{where}: {type(err).__name__}: {err}")
    for meta in folder.rglob("bundle.json"):
        if _hidden(meta, folder):
            continue
        try:
            from satlearn.bundle import read_bundle

            read_bundle(meta.parent)
        except Exception as err:
            problems.append(f"{meta.parent.relative_to(folder)}: bundle: {err}")
    return problems


def same_rasters(a: Path, b: Path) -> bool:
    """Pixel- and georeference-equal GeoTIFFs."""
    import numpy as np
    import rasterio

    with rasterio.open(a) as ra, rasterio.open(b) as rb:
        return (
            ra.profile["dtype"] == rb.profile["dtype"]
            and ra.shape == rb.shape
            and ra.count == rb.count
            and ra.transform == rb.transform
            and ra.crs == rb.crs
            and (ra.nodata == rb.nodata or (np.isnan(ra.nodata or 0) and np.isnan(rb.nodata or 0)))
            and np.array_equal(ra.read(), rb.read(), equal_nan=True)
        )


_RUN_TIMES = frozenset({"datetime", "created", "updated", "seconds", "total_seconds"})


def without_run_times(value: Any) -> Any:
    """JSON ``value`` without the keys that record when and how long a run ran (per run)."""
    if isinstance(value, dict):
        return {k: without_run_times(v) for k, v in value.items() if k not in _RUN_TIMES}
    if isinstance(value, list):
        return [without_run_times(v) for v in value]
    return value


def same_json(a: Path, b: Path) -> bool:
    """Equal JSON files, but for the times of the runs that wrote them."""
    load = [json.loads(Path(p).read_text(encoding="utf-8")) for p in (a, b)]
    return without_run_times(load[0]) == without_run_times(load[1])


def final_files(folder: Path) -> list[str]:
    """The relative paths of the files under final (non-hidden) names below ``folder``."""
    folder = Path(folder)
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and not _hidden(p, folder)
    )


# --------------------------------------------------------------------------- small filesystems


class SmallFilesystem:
    """A size-limited tmpfs mounted by the test (root only); remountable read-only."""

    def __init__(self, mountpoint: Path, size: str) -> None:
        self.path = mountpoint
        self.size = size

    def remount(self, *, read_only: bool) -> None:
        mode = "ro" if read_only else "rw"
        subprocess.run(
            ["mount", "-o", f"remount,{mode}", str(self.path)], check=True, capture_output=True
        )

    def fill(self, leave_bytes: int = 0) -> Path:
        """Fill the filesystem up to ``leave_bytes`` free with a ballast file."""
        stat = os.statvfs(self.path)
        free = stat.f_bavail * stat.f_frsize
        ballast = self.path / f"ballast-{uuid.uuid4().hex[:6]}"
        with ballast.open("wb") as handle:
            remaining = max(free - leave_bytes, 0)
            chunk = b"\0" * (1 << 16)
            with contextlib.suppress(OSError):
                while remaining > 0:
                    remaining -= handle.write(chunk[: min(len(chunk), remaining)])
        return ballast


def mount_tmpfs(mountpoint: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` at ``mountpoint``; None on success, else why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root: cannot mount a tmpfs"
    if shutil.which("mount") is None:
        return "no mount command"
    mountpoint.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"mount -t tmpfs failed: {(done.stderr or done.stdout).strip()}"
    return None


@pytest.fixture
def small_fs(tmp_path) -> Iterator[SmallFilesystem]:
    """An 8 MiB tmpfs under tmp_path, unmounted afterwards; skips where it cannot be mounted.

    8 MiB, not less: save_cog stages a plain GeoTIFF of 512 px tiles first, 3 MiB for
    a 64 x 64 float32 image of 3 bands.
    """
    mountpoint = tmp_path / "small"
    why = mount_tmpfs(mountpoint, "8m")
    if why is not None:
        pytest.skip(f"a size-limited tmpfs is needed for the disk-full tests: {why}")
    fs = SmallFilesystem(mountpoint, "8m")
    try:
        yield fs
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)


if __name__ == "__main__":
    serve()
