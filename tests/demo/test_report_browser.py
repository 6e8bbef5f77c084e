"""The demo's report, looked at in a real headless Chromium: no console error, no failed
request, nothing fetched from outside the output folder, every picture decoded.

Playwright drives Debian's Chromium (``executable_path``); where it cannot,
Chromium's own ``--headless --dump-dom --screenshot`` does, with a probe script
added to a copy of the page that records the same things. Both drivers are also
checked against a broken page, so a pass means something. The full-page
screenshot is kept as a test artifact: ``test-artifacts/report.png`` in the
repository root (or under ``$SATLEARN_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from satlearn.demo import StepResult, write_report

REPO = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 900}

# Chromium's console lines on stderr with --enable-logging=stderr.
_CONSOLE_LINE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)")

# What the page tells about itself once loaded, in both drivers.
_STATE_JS = """() => ({
  images: Array.from(document.images).map(i => [i.getAttribute('src').slice(0, 48),
                                                i.complete, i.naturalWidth]),
  height: document.documentElement.scrollHeight,
  overflowX: document.documentElement.scrollWidth > window.innerWidth,
  errorColour: (e => e ? getComputedStyle(e).color : null)(document.querySelector('.error')),
  title: document.title,
})"""

# The probe the command-line driver adds to a copy of the page: it records
# console errors, uncaught errors and failed loads (an <img> or <link> that
# fails fires a non-bubbling "error" event, seen at window in the capture
# phase), then writes them with the page's state into the DOM that
# --dump-dom prints.
_PROBE = (
    "<script>(function () {"
    "var errors = [], failed = [], log = console.error;"
    "console.error = function () { errors.push([].join.call(arguments, ' '));"
    " return log.apply(console, arguments); };"
    "window.addEventListener('error', function (e) { var t = e.target;"
    " if (t && t !== window && (t.src || t.href)) failed.push(t.src || t.href);"
    " else errors.push(String(e.message)); }, true);"
    "window.addEventListener('load', function () { var state = (" + _STATE_JS + ")();"
    " state.errors = errors; state.failed = failed;"
    " var out = document.createElement('pre'); out.id = 'satlearn-probe';"
    " out.textContent = JSON.stringify(state); document.body.appendChild(out); });"
    "})();</script>"
)


@dataclass
class Rendered:
    """What a browser saw of a page."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    images: list[tuple[str, bool, int]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    driver: str = ""


def _outside(url: str, folder: Path) -> bool:
    return not (url.startswith("data:") or url.startswith(folder.as_uri() + "/"))


def render_with_playwright(browser: Any, page_path: Path, screenshot: Path | None) -> Rendered:
    """Open ``page_path`` in Playwright, offline, and record what happened."""
    seen = Rendered(driver="playwright")
    # offline: a request for anything outside the folder fails, and is seen.
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    try:
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and seen.console_errors.append(m.text))
        page.on("pageerror", lambda e: seen.console_errors.append(str(e)))
        page.on("requestfailed", lambda r: seen.failed_requests.append(f"{r.url} {r.failure}"))
        page.on(
            "request",
            lambda r: _outside(r.url, page_path.parent) and seen.outside_requests.append(r.url),
        )
        page.goto(page_path.as_uri(), wait_until="load")
        seen.state = page.evaluate(_STATE_JS)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    seen.images = [tuple(i) for i in seen.state["images"]]
    return seen


def _run_chromium(chromium: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="satlearn-chromium-") as profile:
        return subprocess.run(
            [
                str(chromium),
                "--headless",
                "--no-sandbox",  # Chromium refuses to run as root with its sandbox
                "--disable-gpu",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                # No network: anything outside the folder fails to load, and is seen.
                "--proxy-server=127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--enable-logging=stderr",
                "--v=0",
                # Virtual time lets the page finish loading before the dump or the shot.
                "--virtual-time-budget=10000",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def render_with_chromium_cli(chromium: Path, page_path: Path, screenshot: Path | None) -> Rendered:
    """Open a probed copy of ``page_path`` with ``chromium --headless --dump-dom``."""
    seen = Rendered(driver="chromium --headless")
    text = page_path.read_text(encoding="utf-8")
    head = re.search(r"<meta charset=[^>]*>", text, re.IGNORECASE)
    assert head is not None, "the page declares its charset"
    probed = text[: head.end()] + _PROBE + text[head.end() :]
    # Beside the page, so that its relative paths resolve the same.
    copy = page_path.with_name(f".{page_path.stem}-probe.html")
    copy.write_text(probed, encoding="utf-8")
    try:
        done = _run_chromium(chromium, ["--dump-dom", copy.as_uri()])
    finally:
        copy.unlink(missing_ok=True)
    found = re.search(r'<pre id="satlearn-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found is not None, f"chromium printed no probe (rc {done.returncode}): {done.stderr}"
    seen.state = json.loads(html.unescape(found.group(1)))
    seen.console_errors = list(seen.state["errors"])
    # The report has no script, so any console line at all is the browser complaining
    # (a blocked resource, a parse error) except the probe's own echo of an error.
    for line in done.stderr.splitlines():
        match = _CONSOLE_LINE.search(line)
        if match and not any(e in match.group(1) for e in seen.console_errors):
            seen.console_errors.append(match.group(1))
    seen.failed_requests = list(seen.state["failed"])
    seen.outside_requests = [u for u in seen.failed_requests if _outside(u, page_path.parent)]
    seen.images = [tuple(i) for i in seen.state["images"]]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        height = min(int(seen.state["height"]) + 16, 16384)
        done = _run_chromium(
            chromium,
            [
                f"--screenshot={screenshot}",
                f"--window-size={VIEWPORT['width']},{height}",
                "--hide-scrollbars",
                page_path.as_uri(),
            ],
        )
        assert screenshot.is_file(), f"no screenshot (rc {done.returncode}): {done.stderr}"
    return seen


def render(
    driver: str, chromium: Path, browser: Any, page_path: Path, screenshot: Path | None = None
) -> Rendered:
    if driver == "playwright" and browser is None:
        pytest.skip("playwright cannot drive this Chromium (see the captured output)")
    if driver == "auto":
        driver = "playwright" if browser is not None else "cli"
    if driver == "playwright":
        return render_with_playwright(browser, page_path, screenshot)
    return render_with_chromium_cli(chromium, page_path, screenshot)


def _picture(path: Path, size: int, *, noise: bool = False, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    if noise:  # incompressible: over the embedding limit, so it lies beside the report
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    else:
        yy, xx = np.mgrid[:size, :size]
        pixels = np.stack([xx * 255 // size, yy * 255 // size, np.full_like(xx, 128)], -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def _report(tmp_path: Path) -> Path:
    out = tmp_path / "demo-output"
    cog = out / "clouds" / "cloud mask.tif"
    cog.parent.mkdir(parents=True)
    cog.write_bytes(b"II*\x00")
    vectors = out / "water" / "ships.geojson"
    vectors.parent.mkdir()
    vectors.write_text('{"type": "FeatureCollection", "features": []}')
    (out / "bundle").mkdir()
    catalog = out / "stac" / "catalog.json"
    catalog.parent.mkdir()
    catalog.write_text("{}")
    steps = [
        StepResult(
            name="clouds",
            title="Cloud, shadow and snow masks",
            seconds=3.2,
            scores={"cloud IoU": 0.9123, "shadow IoU": 0.7},
            outputs={"cloud mask": cog},
            images={"clouds": _picture(tmp_path / "q" / "clouds.png", 64)},
            notes=["<script>console.error('not escaped')</script> is only text"],
        ),
        StepResult(
            name="water",
            title="Water mask and ships",
            seconds=8.0,
            scores={"water F1": 0.95},
            outputs={"ships": vectors},
            images={
                "water": _picture(out / "water" / "water.png", 96, seed=1),
                "ships, large": _picture(tmp_path / "q" / "big.png", 400, noise=True),
            },
        ),
        StepResult(
            name="segment",
            title="Segmentation model",
            seconds=95.5,
            outputs={"bundle": out / "bundle", "catalogue": catalog},
        ),
        StepResult(
            name="stereo",
            title="Stereo DEM",
            seconds=0.4,
            error="RuntimeError: no overlap between the pair",
            images={"dem": out / "stereo" / "dem.png"},  # never written
        ),
    ]
    inputs = {"date 1": _picture(tmp_path / "q" / "date1.png", 128, seed=2)}
    return write_report(steps, out, inputs=inputs, total_seconds=107.1)


def _artifact(name: str) -> Path:
    folder = Path(os.environ.get("SATLEARN_TEST_ARTIFACTS", REPO / "test-artifacts"))
    return folder / name


def _assert_clean(seen: Rendered, expected_images: int) -> None:
    assert seen.console_errors == [], seen.driver
    assert seen.failed_requests == [], seen.driver
    assert seen.outside_requests == [], seen.driver
    assert len(seen.images) == expected_images, seen.images
    for src, complete, width in seen.images:
        assert complete and width > 0, f"{seen.driver}: picture {src!r} did not load"


@pytest.mark.parametrize("driver", ["auto", "cli"])
def test_the_report_renders_cleanly_in_chromium(driver, chromium, playwright_browser, tmp_path):
    page = _report(tmp_path)
    shot = _artifact("report.png" if driver == "auto" else "report-chromium-cli.png")
    seen = render(driver, chromium, playwright_browser, page, shot)
    _assert_clean(seen, expected_images=4)  # date 1, clouds, water, the large one
    assert seen.state["title"] == "satlearn demo"
    assert seen.state["errorColour"] == "rgb(180, 35, 24)"  # the failed step's error, red
    assert not seen.state["overflowX"], "the page is wider than a 1280 px window"
    assert shot.is_file() and shot.stat().st_size > 10_000
    with Image.open(shot) as image:
        assert image.width >= VIEWPORT["width"] - 20
        assert image.height >= 900
    print(f"screenshot of the report ({seen.driver}): {shot}")


@pytest.mark.parametrize("driver", ["playwright", "cli"])
def test_the_checks_see_a_broken_page(driver, chromium, playwright_browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>x</title></head>'
        '<body><img src="missing.png" alt="a"><img src="https://example.invalid/a.png" alt="b">'
        "<script>console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    seen = render(driver, chromium, playwright_browser, page)
    assert any("boom" in e for e in seen.console_errors)
    assert any("missing.png" in r for r in seen.failed_requests)
    assert any("example.invalid" in r for r in seen.outside_requests)
    assert [width for _, _, width in seen.images] == [0, 0]
