"""The demo's report: one self-contained HTML page of every step's pictures, scores and files.

The page must open from a copied or zipped ``demo-output/`` folder, offline, in
any browser, so it references nothing outside that folder: no CDN, no web
font, no script, no absolute URL. Small quicklooks are embedded as ``data:``
URIs; a large one is copied beside the report and referenced by a relative
path; output files are linked by their path relative to the report.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
import shutil
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, unquote

from satlearn import __version__
from satlearn.atomic import atomic_output
from satlearn.demo._result import StepResult

__all__ = ["EMBED_LIMIT_BYTES", "REPORT_NAME", "format_score", "format_seconds", "write_report"]

REPORT_NAME = "report.html"

#: Images up to this size are embedded in the page; larger ones are copied
#: beside it, so the page stays quick to open (a browser decodes a data: URI
#: from the page text, a file it can fetch lazily).
EMBED_LIMIT_BYTES = 300_000

# The folder beside the report that receives copies of large images taken from
# outside the output folder.
_IMAGE_FOLDER = "report-images"

_MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}

_CSS = """
:root { color-scheme: light; --ok: #1a7f37; --bad: #b42318; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1.5rem; line-height: 1.45;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1f2328; background: #fff; }
header { border-bottom: 2px solid var(--line); margin-bottom: 1.5rem; }
h1 { margin: 0 0 .25rem; font-size: 1.8rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
.meta { color: var(--muted); margin: .25rem 0 1rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .35rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
table.scores { width: auto; min-width: 16rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.status-ok { color: var(--ok); font-weight: 600; }
.status-failed { color: var(--bad); font-weight: 600; }
.status-skipped { color: var(--muted); font-weight: 600; }
.error { color: var(--bad); background: #fff1f0; border-left: 4px solid var(--bad);
         padding: .5rem .75rem; white-space: pre-wrap; font-family: ui-monospace, monospace; }
.gallery { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; max-width: 22rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line);
             image-rendering: pixelated; background: #f6f8fa; }
figcaption { font-size: .9rem; color: var(--muted); }
.missing, .skipped { color: var(--muted); font-style: italic; }
code { font-family: ui-monospace, monospace; font-size: .9em; overflow-wrap: anywhere; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""


def write_report(
    results: Sequence[StepResult],
    out_dir: Path,
    *,
    title: str = "satlearn demo",
    inputs: Mapping[str, Path] | None = None,
    total_seconds: float | None = None,
) -> Path:
    """Write ``out_dir/report.html``, a self-contained page of the demo's steps.

    The page has a header (total time, how many steps failed or were
    skipped), the input quicklooks, a summary table (each step's time, scores
    to 3 decimals and status: ok, failed or skipped) and one section per step
    with its pictures, scores, notes, links to its files and, if it failed,
    its error (or why it was skipped). It needs no network and no
    JavaScript: quicklooks under :data:`EMBED_LIMIT_BYTES` are embedded as
    ``data:`` URIs, larger ones are referenced by a relative path (copied into
    ``out_dir/report-images/`` when they lie outside ``out_dir``), and files
    are linked by their path relative to ``out_dir``. A picture or file that
    does not exist is named as missing rather than linked, so the page never
    makes a failing request.

    Parameters
    ----------
    results : sequence of StepResult
        The steps, in the order they ran.
    out_dir : Path
        The demo's output folder; created if missing.
    title : str, optional
        The page's title and heading.
    inputs : mapping of str to Path, optional
        The inputs, by caption: pictures (PNG, JPEG, GIF, WebP) are shown as
        quicklooks, other files (a GeoTIFF, a STAC item) are linked.
    total_seconds : float, optional
        The whole run's wall-clock time; the sum of the steps' times if None.

    Returns
    -------
    Path
        The report's path, written atomically (a reader never sees half a page).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = _Page(out_dir)
    text = page.render(list(results), title=title, inputs=dict(inputs or {}), total=total_seconds)
    target = out_dir / REPORT_NAME
    with atomic_output(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def format_score(value: float) -> str:
    """A score as the report shows it: 3 decimals, ``n/a`` when not finite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _e(value)
    return f"{number:.3f}" if math.isfinite(number) else "n/a"


def format_seconds(seconds: float) -> str:
    """A duration in seconds as the report shows it (2 decimals)."""
    return f"{float(seconds):.2f}"


def _png_size(data: bytes) -> tuple[int, int] | None:
    # The IHDR chunk comes first in every PNG: width and height, big-endian,
    # at bytes 16-24. Giving <img> its size keeps the layout still while it loads.
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    return None


def _anchor(name: str) -> str:
    return "step-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "unnamed")


class _Page:
    """Renders the page; holds the output folder that every path is made relative to."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.copied = 0

    # -- paths -------------------------------------------------------------
    def href(self, path: Path) -> str | None:
        """A relative, percent-encoded URL of ``path`` from the report, or None."""
        try:
            rel = os.path.relpath(Path(path).absolute(), self.out_dir.absolute())
        except ValueError:  # another drive on Windows: no relative path exists
            return None
        url = quote(Path(rel).as_posix(), safe="/._-~")
        if Path(path).is_dir():
            url += "/"
        return url

    def image_src(self, path: Path) -> tuple[str, str]:
        """The ``src`` of a picture a browser can show, and its size attributes."""
        mime = _MIME[path.suffix.lower()]
        if path.stat().st_size <= EMBED_LIMIT_BYTES:
            data = path.read_bytes()
            dims = _png_size(data)
            size = f' width="{dims[0]}" height="{dims[1]}"' if dims else ""
            return f"data:{mime};base64," + base64.b64encode(data).decode("ascii"), size
        if not path.absolute().is_relative_to(self.out_dir.absolute()):
            # Copy it in, so that the output folder alone holds the whole report.
            self.copied += 1
            copy = self.out_dir / _IMAGE_FOLDER / f"{self.copied:03d}-{path.name}"
            with atomic_output(copy) as tmp:
                shutil.copyfile(path, tmp)
            path = copy
        with path.open("rb") as f:
            dims = _png_size(f.read(24))
        size = f' width="{dims[0]}" height="{dims[1]}"' if dims else ""
        return self.href(path) or "", size

    # -- pieces ------------------------------------------------------------
    def figure(self, caption: str, path: Path) -> str:
        path = Path(path)
        cap = f"<figcaption>{_e(caption)}</figcaption>"
        if not path.is_file():
            return f'<figure><p class="missing">picture missing: {_e(path.name)}</p>{cap}</figure>'
        if path.suffix.lower() not in _MIME:
            # A browser cannot show it (a GeoTIFF quicklook): link it instead.
            return f"<figure><ul>{self.link(caption, path)}</ul>{cap}</figure>"
        src, size = self.image_src(path)
        return f'<figure><img src="{_e(src)}" alt="{_e(caption)}"{size}>{cap}</figure>'

    def link(self, label: str, path: Path) -> str:
        path = Path(path)
        url = self.href(path) if path.exists() else None
        if url is None:
            missing = f'<span class="missing">{_e(path.name)} (missing)</span>'
            return f"<li>{_e(label)}: {missing}</li>"
        shown = unquote(url)  # the path as a person reads it; the href stays encoded
        return f'<li>{_e(label)}: <a href="{_e(url)}"><code>{_e(shown)}</code></a></li>'

    def inputs(self, inputs: dict[str, Path]) -> str:
        if not inputs:
            return ""
        shown = {c: Path(p) for c, p in inputs.items() if Path(p).suffix.lower() in _MIME}
        linked = {c: Path(p) for c, p in inputs.items() if c not in shown}
        parts = ['<section id="inputs"><h2>Inputs</h2>']
        if shown:
            figures = "".join(self.figure(c, p) for c, p in shown.items())
            parts.append(f'<div class="gallery">{figures}</div>')
        if linked:
            parts.append("<ul>" + "".join(self.link(c, p) for c, p in linked.items()) + "</ul>")
        parts.append("</section>")
        return "\n".join(parts)

    def summary(self, results: list[StepResult], anchors: list[str]) -> str:
        if not results:
            return (
                '<section id="summary"><h2>Summary</h2>'
                '<p class="missing">No step was run.</p></section>'
            )
        rows = []
        for step, anchor in zip(results, anchors, strict=True):
            if step.scores:
                scores = "<br>".join(f"{_e(k)}: {format_score(v)}" for k, v in step.scores.items())
            else:
                scores = '<span class="missing">no score</span>'
            status = _status(step)
            rows.append(
                f'<tr><td><a href="#{anchor}">{_e(step.title)}</a></td>'
                f'<td class="num">{format_seconds(step.seconds)}</td>'
                f"<td>{scores}</td>"
                f'<td class="status-{status}">{status}</td></tr>'
            )
        return (
            '<section id="summary"><h2>Summary</h2><table>'
            '<thead><tr><th scope="col">Step</th><th scope="col">Time (s)</th>'
            '<th scope="col">Scores</th><th scope="col">Status</th></tr></thead>'
            "<tbody>" + "\n".join(rows) + "</tbody></table></section>"
        )

    def step(self, step: StepResult, anchor: str) -> str:
        status = _status(step)
        parts = [
            f'<section id="{anchor}" class="step">',
            f'<h2>{_e(step.title)} <small class="status-{status}">{status}</small></h2>',
            f'<p class="meta">step <code>{_e(step.name)}</code> · '
            f"{format_seconds(step.seconds)} s</p>",
        ]
        if step.error:
            parts.append(f'<p class="error" role="alert">{_e(step.error)}</p>')
        elif _skipped(step):
            parts.append(f'<p class="skipped">Skipped: {_e(_skipped(step))}</p>')
        if step.images:
            figures = "".join(self.figure(c, p) for c, p in step.images.items())
            parts.append(f'<div class="gallery">{figures}</div>')
        if step.scores:
            cells = "".join(
                f'<tr><th scope="row">{_e(k)}</th><td class="num">{format_score(v)}</td></tr>'
                for k, v in step.scores.items()
            )
            parts.append(f'<table class="scores"><tbody>{cells}</tbody></table>')
        if step.notes:
            parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in step.notes) + "</ul>")
        if step.outputs:
            links = "".join(self.link(label, p) for label, p in step.outputs.items())
            parts.append(f"<h3>Files</h3><ul>{links}</ul>")
        parts.append("</section>")
        return "\n".join(parts)

    def render(
        self,
        results: list[StepResult],
        *,
        title: str,
        inputs: dict[str, Path],
        total: float | None,
    ) -> str:
        anchors: list[str] = []
        for step in results:
            # Two steps of one name (a rerun) still get two anchors.
            anchor, n = _anchor(step.name), 2
            while anchor in anchors:
                anchor, n = f"{_anchor(step.name)}-{n}", n + 1
            anchors.append(anchor)
        total = sum(s.seconds for s in results) if total is None else total
        counts = {k: sum(1 for s in results if _status(s) == k) for k in ("failed", "skipped")}
        verdict = f"{len(results)} steps, " + (
            ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "all ok"
        )
        body = [
            "<header>",
            f"<h1>{_e(title)}</h1>",
            f'<p class="meta">Total time <strong>{format_seconds(total)} s</strong> · '
            f"{verdict}</p>",
            "</header>",
            "<main>",
            self.inputs(inputs),
            self.summary(results, anchors),
            *(self.step(s, a) for s, a in zip(results, anchors, strict=True)),
            "</main>",
            f"<footer>Written by satlearn {_e(__version__)}. The page needs no network: "
            "pictures are embedded or lie beside it, and files are linked by relative path."
            "</footer>",
        ]
        return (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            # An empty icon, so that a browser does not request /favicon.ico.
            '<link rel="icon" href="data:,">\n'
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(part for part in body if part)
            + "\n</body>\n</html>\n"
        )


def _skipped(step: StepResult) -> str | None:
    # StepResult.skipped came after the first StepResult; read it so either works.
    return getattr(step, "skipped", None)


def _status(step: StepResult) -> str:
    if step.error:
        return "failed"
    return "skipped" if _skipped(step) else "ok"
