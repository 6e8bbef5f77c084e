"""The demo's report: a self-contained page whose every picture and link resolves offline."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from satlearn.demo import StepResult, write_report
from satlearn.demo._report import EMBED_LIMIT_BYTES, format_score, format_seconds


class _Scan(HTMLParser):
    """Collects what the assertions look at: sources, links, ids, text, the head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.imgs: list[dict[str, str | None]] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.doctype: str | None = None
        self.attrs_of: dict[str, list[dict[str, str | None]]] = {}
        self._in_style = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        self._in_style = tag == "style"
        self.attrs_of.setdefault(tag, []).append(a)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "img":
            self.imgs.append(a)
        if tag == "a" and a.get("href") is not None:
            self.hrefs.append(a["href"] or "")
        for key in ("src", "href"):
            if a.get(key) is not None:
                self.srcs.append(a[key] or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if not self._in_style:  # the text a reader sees, not the style sheet
            self.text.append(data)


def _scan(path: Path) -> _Scan:
    scan = _Scan()
    scan.feed(path.read_text(encoding="utf-8"))
    scan.close()
    return scan


def _png(path: Path, size: int = 16, *, noise: bool = False) -> Path:
    rng = np.random.default_rng(0)
    if noise:  # incompressible, so the file is large
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    else:
        pixels = np.zeros((size, size, 3), np.uint8)
        pixels[: size // 2] = (30, 120, 200)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _steps(tmp_path: Path, out: Path) -> list[StepResult]:
    (out / "clouds").mkdir(parents=True)
    cog = out / "clouds" / "cloud mask.tif"  # a space, to check the percent-encoding
    cog.write_bytes(b"II*\x00")
    parquet = out / "water" / "ships.parquet"
    parquet.parent.mkdir()
    parquet.write_bytes(b"PAR1")
    geojson = out / "water" / "ships.geojson"
    geojson.write_text('{"type": "FeatureCollection", "features": []}')
    bundle = out / "bundle"
    bundle.mkdir()
    (bundle / "model.onnx").write_bytes(b"onnx")
    catalog = out / "stac" / "catalog.json"
    catalog.parent.mkdir()
    catalog.write_text("{}")
    return [
        StepResult(
            name="clouds",
            title="Cloud, shadow and snow masks",
            seconds=1.23456,
            scores={"cloud IoU": 0.91234, "shadow F1": 0.8},
            outputs={"cloud mask": cog},
            images={"cloud mask": _png(tmp_path / "elsewhere" / "clouds.png")},
            notes=["method rules"],
        ),
        StepResult(
            name="water",
            title="Water mask and ships",
            seconds=12.5,
            scores={"water kappa": 0.7777},
            outputs={"ships (GeoParquet)": parquet, "ships (GeoJSON)": geojson},
            images={
                "water": _png(out / "water" / "water.png"),
                "ships, full size": _png(tmp_path / "big.png", 400, noise=True),
            },
            notes=["a note with <script>alert('x')</script> & an ampersand"],
        ),
        StepResult(
            name="segment",
            title="Segmentation model",
            seconds=30.0,
            outputs={"bundle": bundle, "catalogue": catalog},
        ),
        StepResult(
            name="stereo",
            title="Stereo DEM",
            seconds=0.5,
            error="ValueError: the pair has no overlap <left/right>",
            outputs={"dem": out / "stereo" / "dem.tif"},  # never written: it failed
            images={"dem": out / "stereo" / "dem.png"},
        ),
    ]


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, list[StepResult]]:
    out = tmp_path / "demo-output"
    steps = _steps(tmp_path, out)
    inputs = {
        "date 1 (true colour)": _png(tmp_path / "inputs" / "date1.png", 32),
        "date 2 (true colour)": _png(tmp_path / "inputs" / "date2.png", 32),
        "scene": tmp_path / "inputs" / "scene.tif",  # not a picture: linked
    }
    inputs["scene"].write_bytes(b"II*\x00")
    path = write_report(steps, out, inputs=inputs, total_seconds=61.0)
    return path, steps


def test_the_report_is_written_atomically_beside_the_outputs(report):
    path, _ = report
    assert path.name == "report.html"
    assert path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_the_page_is_html5_with_a_charset_and_a_language(report):
    path, _ = report
    scan = _scan(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    assert scan.doctype is not None and scan.doctype.lower() == "doctype html"
    assert scan.attrs_of["html"][0].get("lang") == "en"
    assert {"charset": "utf-8"} in scan.attrs_of["meta"]
    assert "script" not in scan.tags  # readable without JavaScript: there is none


def test_every_picture_is_embedded_or_a_relative_file_that_exists(report):
    path, _ = report
    scan = _scan(path)
    assert len(scan.imgs) == 5  # 2 inputs, clouds, water, the large one; the failed DEM has none
    kinds = []
    for img in scan.imgs:
        src = img["src"] or ""
        assert img.get("alt"), "every picture has alt text"
        if src.startswith("data:"):
            assert src.startswith("data:image/png;base64,")
            kinds.append("embedded")
        else:
            assert not urlsplit(src).scheme and not src.startswith("/")
            assert (path.parent / unquote(src)).is_file()
            kinds.append("beside")
    assert kinds.count("beside") == 1  # the large quicklook, over EMBED_LIMIT_BYTES
    big = list((path.parent / "report-images").iterdir())
    assert len(big) == 1 and big[0].stat().st_size > EMBED_LIMIT_BYTES


def test_every_link_is_relative_and_exists(report, tmp_path):
    path, _ = report
    scan = _scan(path)
    files = [h for h in scan.hrefs if not h.startswith("#")]
    assert len(files) == 6  # the scene input and the 5 files of the steps that ran
    for href in scan.hrefs:
        parts = urlsplit(href)
        assert not parts.scheme and not parts.netloc and not href.startswith("/"), href
        if href.startswith("#"):
            assert href[1:] in scan.ids, href
        else:
            assert (path.parent / unquote(parts.path)).exists(), href
    linked = {os.path.normpath(path.parent / unquote(h)) for h in files}
    out = path.parent
    expected = {
        out / "clouds" / "cloud mask.tif",
        out / "water" / "ships.parquet",
        out / "water" / "ships.geojson",
        out / "bundle",
        out / "stac" / "catalog.json",
        tmp_path / "inputs" / "scene.tif",
    }
    assert {os.path.normpath(p) for p in expected} <= linked
    assert "clouds/cloud%20mask.tif" in scan.hrefs
    assert "clouds/cloud mask.tif" in " ".join(scan.text)  # shown as a person reads it


def test_nothing_refers_outside_the_page(report):
    path, _ = report
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text
    assert "https://" not in text
    assert "@import" not in text and "@font-face" not in text
    for ref in _scan(path).srcs:
        assert ref.startswith(("data:", "#")) or not urlsplit(ref).scheme, ref


def test_every_step_shows_its_title_time_and_scores(report):
    path, steps = report
    text = " ".join(_scan(path).text)
    assert "61.00 s" in text  # the total time, as given
    for step in steps:
        assert step.title in text
        assert format_seconds(step.seconds) in text
        for name, value in step.scores.items():
            assert f"{name}: {format_score(value)}" in text  # in the summary table
            assert name in text
    assert "0.912" in text and "0.800" in text and "0.778" in text
    assert format_seconds(1.23456) == "1.23"


def test_a_failed_step_shows_its_error_and_failed(report):
    path, _ = report
    html_text = path.read_text(encoding="utf-8")
    text = " ".join(_scan(path).text)
    assert "ValueError: the pair has no overlap <left/right>" in text
    assert "&lt;left/right&gt;" in html_text
    assert '<p class="error" role="alert">' in html_text
    assert "4 steps, 1 failed" in text
    assert '<td class="status-failed">failed</td>' in html_text
    # Its missing files are named, not linked.
    assert "dem.tif (missing)" in text
    assert "picture missing: dem.png" in text


def test_text_is_escaped(report):
    path, _ = report
    html_text = path.read_text(encoding="utf-8")
    assert "<script>" not in html_text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; an ampersand" in html_text
    assert "script" not in _scan(path).tags


def test_a_title_with_markup_is_escaped_too(tmp_path):
    path = write_report(
        [StepResult(name="a b/<c>", title="<b>bold</b>", scores={"x<y": float("nan")})],
        tmp_path,
        title="demo <i>x</i>",
    )
    html_text = path.read_text(encoding="utf-8")
    scan = _scan(path)
    assert "b" not in scan.tags and "i" not in scan.tags
    assert "<title>demo &lt;i&gt;x&lt;/i&gt;</title>" in html_text
    assert "x&lt;y: n/a" in html_text  # a score that is not finite
    assert "0.00 s" in html_text  # total time: the sum of the steps'
    for href in scan.hrefs:
        assert href[1:] in scan.ids


def test_an_empty_run_still_writes_a_page(tmp_path):
    path = write_report([], tmp_path / "new")
    text = " ".join(_scan(path).text)
    assert "No step was run." in text
    assert "0 steps, all ok" in text


def test_a_large_picture_inside_the_output_folder_is_referenced_in_place(tmp_path):
    big = _png(tmp_path / "quicklooks" / "big scene.png", 400, noise=True)
    assert big.stat().st_size > EMBED_LIMIT_BYTES
    path = write_report([StepResult(name="s", title="S", images={"big": big})], tmp_path)
    (img,) = _scan(path).imgs
    assert img["src"] == "quicklooks/big%20scene.png"
    assert img["width"] == "400" and img["height"] == "400"
    assert not (tmp_path / "report-images").exists()


def test_rewriting_the_report_replaces_it(report):
    path, steps = report
    steps[0].title = "Clouds, again"
    write_report(steps, path.parent)
    assert "Clouds, again" in path.read_text(encoding="utf-8")


def test_a_skipped_step_says_why_and_is_no_failure(tmp_path):
    step = StepResult(name="pansharpen", title="Pansharpening", notes=["no pan band"])
    step.skipped = "the scene has no pan band"  # a field newer than the first StepResult
    path = write_report([step, StepResult(name="clouds", title="Clouds")], tmp_path)
    html_text = path.read_text(encoding="utf-8")
    text = " ".join(_scan(path).text)
    assert "Skipped: the scene has no pan band" in text
    assert '<td class="status-skipped">skipped</td>' in html_text
    assert "2 steps, 1 skipped" in text
    assert "failed" not in text
