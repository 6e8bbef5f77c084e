"""Atomic outputs: write to a temporary sibling, rename into place on success.

An interrupted run never leaves a half-written file under its final name, so a
file that exists under its final name is complete, and a resumed run may skip
it.

Temporaries are hidden siblings named ``.{name}.{tag}-{pid}-{random}.tmp``
(GDAL may add its own beside them, such as ``....tmp.ovr.tmp``). A writer
removes them when it fails or is interrupted (SIGINT, and SIGTERM once
:func:`handle_sigterm` is installed, as the CLI does); a SIGKILL cannot be
caught, so a new temporary first clears the stale ones in its folder: those
whose writer process is gone (a process lists a folder at most every 10 s).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_output",
    "filesystem_problem",
    "handle_sigterm",
    "remove_stale_temporaries",
    "replace_folder",
    "temporary_sibling",
    "write_json",
    "writing",
]

# {tag}-{pid}-{random}.tmp, then whatever GDAL appends (.ovr.tmp, .aux.xml, ...).
_TEMPORARY = re.compile(r"\.(?P<tag>[A-Za-z0-9_]+)-(?:(?P<pid>\d+)-)?[0-9a-f]{8}\.tmp(?:\.[^-]*)?$")

# Tags of the names older satlearn wrote without a pid.
_LEGACY_TAGS = frozenset({"partial", "staging", "cog"})


def temporary_sibling(path: Path, tag: str = "partial") -> Path:
    """A hidden temporary name in the same folder as ``path`` (same filesystem).

    Stale temporaries in that folder (left by a killed writer) are removed
    first, see :func:`remove_stale_temporaries`.
    """
    path = Path(path)
    _clean_folder(path.parent)
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


# A folder of many outputs (chips, tiles) gets one temporary per file; listing it
# for each would cost O(files) per write, so a process lists a folder at most
# once per _RESCAN_S seconds.
_RESCAN_S = 10.0
_SCANNED: dict[Path, float] = {}
_SCANNED_LOCK = threading.Lock()


def _clean_folder(folder: Path) -> None:
    key = folder.absolute()
    now = time.monotonic()
    with _SCANNED_LOCK:
        if now - _SCANNED.get(key, -_RESCAN_S) < _RESCAN_S:
            return
        _SCANNED[key] = now
    _remove_stale(key, ".")


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries a killed writer left for ``path``; return what was removed.

    A temporary is stale when the process whose pid its name carries is gone,
    or when that pid now belongs to a process started after the temporary was
    last written (the pid was reused). A name without a pid (older satlearn)
    is stale when it predates this process. So a temporary of a writer still
    running, in this process or another, is never touched.
    """
    target = Path(os.fspath(path))
    return _remove_stale(target.parent, f".{target.name}.")


def _remove_stale(folder: Path, prefix: str) -> list[Path]:
    removed: list[Path] = []
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.startswith(prefix)]
    except OSError:  # no folder yet: nothing to clean
        return removed
    for name in names:
        match = _TEMPORARY.search(name)
        # The temporary's target name comes first: ".{name}.{tag}-...".
        if match is None or match.start() <= 1 or not name.startswith("."):
            continue
        candidate = folder / name
        try:
            mtime = candidate.lstat().st_mtime
        except OSError:
            continue
        pid = match.group("pid")
        if pid is None and match.group("tag") not in _LEGACY_TAGS:
            continue  # not a name satlearn ever wrote
        if pid is None:
            stale = mtime < _process_start(os.getpid())
        else:
            started = _process_start(int(pid))
            stale = started is None or mtime < started
        if not stale:
            continue
        with contextlib.suppress(OSError):
            if candidate.is_dir() and not candidate.is_symlink():
                shutil.rmtree(candidate)
            else:
                candidate.unlink()
            removed.append(candidate)
    return removed


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if it is gone.

    Where /proc is missing, a live process counts as started at the epoch,
    so its temporaries are kept.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        # Field 22 (starttime, in clock ticks since boot) counts after the "(comm)" field.
        ticks = float(stat[stat.rindex(")") + 2 :].split()[19])
        # Whole seconds: btime is rounded down, so allow one second of slack.
        return boot + ticks / os.sysconf("SC_CLK_TCK") - 1.0
    except (OSError, ValueError, IndexError, StopIteration):
        return 0.0 if pid != os.getpid() else _START_FALLBACK


_START_FALLBACK = time.time()


def handle_sigterm() -> None:
    """Make SIGTERM unwind like SIGINT does, so ``finally`` blocks remove temporaries.

    The process then exits with status 143 (128 + SIGTERM), as if killed by
    the signal. Only the main thread may install handlers; elsewhere this does
    nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: Any) -> None:
    print("error: terminated by SIGTERM", file=sys.stderr)
    raise SystemExit(128 + signum)


# Errors only a write can cause: turned into WriteError naming the output.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


def filesystem_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why nothing can be written under ``folder`` (read-only, full), or None if it looks fine.

    GDAL reports a failed write as "Write failed" without its cause; this
    names it (asked after the failure, while the temporaries still hold space).
    """
    path = Path(os.fspath(folder))
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    if stat.f_flag & os.ST_RDONLY:
        return "read-only file system"
    free = stat.f_bavail * stat.f_frsize
    if free < (1 << 20):
        return f"no space left on device ({free // 1024} KiB free)"
    return None


@contextlib.contextmanager
def writing(target: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a disk-full or read-only ``OSError`` in the block into a one-line WriteError.

    Only errors a write alone can cause (ENOSPC, EDQUOT, EROFS, EFBIG) are
    translated, and a permission error on ``target``, its folder or their
    temporaries; anything else (a source that does not read) passes as it is.
    """
    from satlearn.errors import SatlearnError, WriteError

    target = Path(os.fspath(target))
    try:
        yield
    except WriteError as err:
        if str(target) in str(err):
            raise
        # A file inside a staging folder failed: name the output the user asked for.
        raise WriteError(f"{target}: {err}") from err
    except SatlearnError:
        raise
    except OSError as err:
        mine = err.filename is not None and (
            Path(os.fspath(err.filename)).parent in (target, target.parent)
            or Path(os.fspath(err.filename)) == target
        )
        if err.errno in _WRITE_ERRNOS or (err.errno in (errno.EACCES, errno.EPERM) and mine):
            raise WriteError(f"{target}: cannot write: {err.strerror.lower()}") from err
        raise


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` if the block succeeds.

    A full or read-only filesystem raises :class:`~satlearn.errors.WriteError`
    naming ``path`` (see :func:`writing`); the temporary is removed.

    Examples
    --------
    >>> with atomic_output("out/report.txt") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("done")
    """
    target = Path(os.fspath(path))
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = temporary_sibling(target)
        try:
            yield partial
            os.replace(partial, target)
        finally:
            with contextlib.suppress(OSError):  # a read-only folder holds no temporary
                partial.unlink(missing_ok=True)


def replace_folder(staging: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Put the finished folder ``staging`` at ``target``, replacing a folder there.

    A folder cannot be replaced by ``os.replace``, and moving the old one aside
    first leaves a moment with nothing under the final name: a SIGKILL there
    would lose the previous output (its aside copy then looks like a stale
    temporary). On Linux the two are swapped in one ``renameat2`` call
    (``RENAME_EXCHANGE``), so ``target`` always holds a whole folder, old or
    new; the old one, now under the staging name, is removed after. Where the
    call is missing or the filesystem refuses it, the two renames are used.
    ``staging`` must be a :func:`temporary_sibling` of ``target``.
    """
    staging, target = Path(os.fspath(staging)), Path(os.fspath(target))
    try:  # nothing there yet (or an empty folder): one plain rename
        os.replace(staging, target)
        return
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)
        return
    old = temporary_sibling(target, "old")
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(old, target)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # glibc < 2.28, or another libc
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return Path(os.fspath(path))
