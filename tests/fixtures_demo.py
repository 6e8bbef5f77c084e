"""Browser fixtures: Debian's Chromium (installed with apt-get when missing) and Playwright on it.

No downloaded browser build is used (no ``playwright install``): the report is
checked in the Chromium a user of Debian has, found at ``/usr/bin/chromium``
or on PATH. When it is missing and the tests run as root where ``apt-get``
exists, the fixture installs the ``chromium`` package once per session;
otherwise the browser tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# apt-get update and install may each take minutes on a slow mirror; together
# they stay inside pytest's 600 s timeout of the first test that asks.
_APT_UPDATE_S = 180
_APT_INSTALL_S = 360


def find_chromium() -> Path | None:
    """Debian's Chromium, at /usr/bin/chromium or as ``chromium`` on PATH, or None."""
    debian = Path("/usr/bin/chromium")
    if debian.is_file() and os.access(debian, os.X_OK):
        return debian
    found = shutil.which("chromium")
    return Path(found) if found else None


def _apt(args: list[str], timeout_s: int) -> str | None:
    """Run apt-get; None on success, else a one-line reason (with its last output line)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            ["apt-get", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`apt-get {' '.join(args)}` did not finish within {timeout_s} s"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        return f"`apt-get {' '.join(args)}` exited {done.returncode}: {lines[-1]}"
    return None


def apt_install(package: str) -> str | None:
    """Install a Debian package; None on success, else why it could not be."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return f"not running as root, so the {package} package was not installed"
    if shutil.which("apt-get") is None:
        return f"apt-get is not available to install the {package} package"
    reason = _apt(["update"], _APT_UPDATE_S)
    if reason is None:
        reason = _apt(["install", "-y", "--no-install-recommends", package], _APT_INSTALL_S)
    return reason


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The path of Debian's Chromium; installed with apt-get if missing; skip if impossible."""
    found = find_chromium()
    if found is None:
        reason = apt_install("chromium")
        found = find_chromium()
        if found is None:
            reason = reason or "apt-get installed chromium but no chromium executable was found"
            pytest.skip(
                "Debian's Chromium is needed to check demo-output/report.html in a browser: "
                f"neither /usr/bin/chromium nor `chromium` on PATH exists, and {reason}"
            )
    return found


# Module scope, not session: Playwright's sync API keeps an asyncio loop running
# in the main thread while it is started, and later tests call asyncio.run().
@pytest.fixture(scope="module")
def playwright_browser(chromium: Path) -> Iterator[Any]:
    """A headless Playwright Browser on Debian's Chromium, or None if Playwright cannot drive it.

    None (with the reason printed) when the ``playwright`` package is absent or
    its protocol does not match this Chromium's version; the browser tests then
    use Chromium's own ``--headless --dump-dom --screenshot`` instead.
    """
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        print(f"playwright is not importable ({error}); using chromium --headless")
        yield None
        return
    manager = sync_playwright().start()
    try:
        try:
            # --no-sandbox: Chromium refuses to run as root with its sandbox.
            browser = manager.chromium.launch(
                executable_path=str(chromium), args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
        except Error as error:
            print(f"playwright cannot drive {chromium} ({error}); using chromium --headless")
            yield None
            return
        try:
            yield browser
        finally:
            browser.close()
    finally:
        manager.stop()
