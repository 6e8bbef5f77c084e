"""Fetch a dataset's public files: resumable, checksummed, atomic, safely extracted.

A file is downloaded into ``<name>.part`` beside its final name. If that
partial file exists, the request asks only for the rest (HTTP ``Range:
bytes=N-``) and appends; a server that ignores ``Range`` (``200``) restarts it
from zero. When complete, the SHA-256 is checked (a mismatch deletes the
partial and raises, naming the URL and both hashes) and the file is renamed
into place, so the final name only ever holds a whole, verified file.
Archives are extracted only after every member is checked: absolute paths,
``..`` components and links are refused. Written with :mod:`urllib` (no extra
dependency); the progress bar is rich's, shown on a terminal only.

This is a preparation tool, not a dataset reader: it knows files
(:class:`Download`), not datasets. Fetching a registered dataset by name is
:func:`satlearn.datasets.download_dataset`, which looks the reader up and
hands its files to :func:`download_files` (``datasets`` imports ``prep``,
never the other way round).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from satlearn.errors import DatasetError

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["Download", "download_file", "download_files", "extract_archive", "sha256sum"]

_CHUNK = 1 << 20
_TIMEOUT = 60


@dataclass(frozen=True)
class Download:
    """One file of a dataset that has a public URL.

    ``sha256`` and ``size`` let a download resume and be verified; ``extract``
    says whether the file is an archive to unpack into the root.
    """

    url: str
    filename: str
    sha256: str | None = None
    size: int | None = None
    extract: bool = False


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _progress(enabled: bool) -> Progress:
    # rich only when something is fetched: dataset readers import Download from here.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        # Only on a terminal: piped or captured output stays free of bar residue.
        disable=not (enabled and console.is_terminal),
    )


def _make_folder(folder: Path, what: str) -> None:
    """``mkdir -p`` that names the folder when it cannot be made (a file in the way...)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DatasetError(f"{what} {folder} exists and is not a folder") from None
    except OSError as err:  # NotADirectoryError (a file above it), PermissionError, ...
        raise DatasetError(
            f"{what} {folder} cannot be created: {err.strerror or err}"
            + (f" ({err.filename})" if err.filename and str(err.filename) != str(folder) else "")
        ) from None


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    size: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest``, resuming a ``dest.part`` left by an earlier try.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` URL.
    dest : path
        The final file name.
    sha256 : str, optional
        Expected hex digest; checked before the rename.
    size : int, optional
        Expected size in bytes (a partial file of that size is not re-requested).
    force : bool
        Download again even if ``dest`` exists (a partial file is discarded too).
    progress : bool
        Show a progress bar (only on a terminal).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DatasetError
        The URL cannot be fetched (the partial file is kept: run again to
        resume), or the checksum or size does not match (the partial is deleted).

    Examples
    --------
    >>> url = "https://example.org/data.zip"
    >>> download_file(url, "data/data.zip", sha256="9f8...")  # doctest: +SKIP
    PosixPath('data/data.zip')
    """
    if urlparse(url).scheme not in ("http", "https"):
        raise DatasetError(f"{url}: only http:// and https:// URLs can be downloaded")
    target = Path(os.fspath(dest))
    _make_folder(target.parent, "download folder")
    part = target.with_name(target.name + ".part")
    if force:
        target.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    if target.exists():
        if sha256 is None or sha256sum(target) == sha256.lower():
            return target
        target.unlink()  # a corrupt earlier file: fetch it again
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    if size is None or have < size:
        _fetch(url, part, have, progress)
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise DatasetError(f"{url}: expected {size} bytes, got {got_size}; partial file deleted")
    if sha256 is not None:
        got = sha256sum(part)
        if got != sha256.lower():
            part.unlink()
            raise DatasetError(
                f"{url}: SHA-256 mismatch (expected {sha256.lower()}, got {got}); "
                "partial file deleted"
            )
    os.replace(part, target)
    return target


def _fetch(url: str, part: Path, have: int, progress: bool) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "satlearn"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left after `have`: the partial is complete
            return
        raise DatasetError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DatasetError(f"{url}: cannot download ({reason})") from None
    with response:
        resumed = response.status == 206
        mode = "ab" if resumed else "wb"  # 200: the server sent the whole file again
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        with _progress(progress) as bar, open(part, mode) as fh:
            task = bar.add_task(Path(urlparse(url).path).name, total=total, completed=start)
            try:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    fh.write(block)
                    bar.advance(task, len(block))
            except OSError as err:
                raise DatasetError(
                    f"{url}: download interrupted ({err}); run again to resume"
                ) from None


def _check_member(archive: Path, name: str, *, link: bool = False) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or ".." in path.parts or ":" in name:
        raise DatasetError(f"{archive}: refusing member {name!r} (absolute path or '..')")
    if link:
        raise DatasetError(f"{archive}: refusing member {name!r} (a link or special file)")


def extract_archive(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[Path]:
    """Extract a zip or tar archive into ``dest`` after checking every member.

    Returns the extracted file paths. Raises :class:`DatasetError` before
    writing anything if a member has an absolute path, a ``..`` component, or
    is a link or device (tar).

    Examples
    --------
    >>> extract_archive("data/EuroSAT.zip", "data")  # doctest: +SKIP
    """
    src, out = Path(os.fspath(archive)), Path(os.fspath(dest))
    _make_folder(out, "extraction folder")
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            infos = zf.infolist()
            for info in infos:
                _check_member(src, info.filename)
            zf.extractall(out)
            return [out / i.filename for i in infos if not i.is_dir()]
    try:
        with tarfile.open(src) as tf:
            members = tf.getmembers()
            for member in members:
                _check_member(src, member.name, link=not (member.isfile() or member.isdir()))
            # filter="data" (Python 3.11.4+) is a second guard with the same rules.
            tf.extractall(out, filter="data")
            return [out / m.name for m in members if m.isfile()]
    except tarfile.TarError as err:
        raise DatasetError(f"{src}: not a zip or tar archive ({err})") from err


def download_files(
    downloads: Iterable[Download],
    root: str | os.PathLike[str],
    *,
    what: str = "download",
    force: bool = False,
    progress: bool = True,
    url_base: str | None = None,
) -> list[Path]:
    """Download (and extract) ``downloads`` into the folder ``root``.

    Parameters
    ----------
    downloads : iterable of Download
        The files; each is saved as ``root / filename``, an ``extract`` one is
        unpacked into ``root`` once (a ``.<filename>.extracted`` marker holds
        its SHA-256).
    root : path
        The folder; made if missing.
    what : str
        How messages name the job (a dataset's name).
    force : bool
        Fetch again even where a verified file is already there.
    progress : bool
        Show a progress bar (only on a terminal).
    url_base : str, optional
        A mirror: each file is fetched from ``url_base/<last part of its URL>``.

    Returns
    -------
    list of Path
        The downloaded files (archives included; their contents are in ``root``).

    Raises
    ------
    DatasetError
        ``root`` cannot be a folder (a file is in the way), or a download
        failed or did not verify.

    Examples
    --------
    >>> files = [Download("https://example.org/a.zip", "a.zip", extract=True)]
    >>> download_files(files, "data/a")  # doctest: +SKIP
    [PosixPath('data/a/a.zip')]
    """
    out = Path(os.fspath(root))
    # Before any request: a root that cannot be a folder is the caller's mistake.
    _make_folder(out, f"{what}: root")
    paths: list[Path] = []
    for item in downloads:
        url = _mirror(item, url_base)
        path = download_file(
            url,
            out / item.filename,
            sha256=item.sha256,
            size=item.size,
            force=force,
            progress=progress,
        )
        if item.extract:
            marker = out / f".{item.filename}.extracted"
            if force or not marker.exists():
                extract_archive(path, out)
                marker.write_text(sha256sum(path) + "\n")
        paths.append(path)
    return paths


def _mirror(item: Download, url_base: str | None) -> str:
    if not url_base:
        return item.url
    last = PurePosixPath(urlparse(item.url).path).name or item.filename
    return f"{url_base.rstrip('/')}/{last}"
