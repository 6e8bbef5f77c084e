"""``satlearn register``: a shift found and written; what it cannot register is one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from affine import Affine
from PIL import Image
from scipy import ndimage
from typer.testing import CliRunner

from conftest import TRANSFORM, write_geotiff
from satlearn.cli import app

RUNNER = CliRunner()


def _texture(seed: int = 0, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random((size, size)), 2.0).astype(np.float32)


def test_register_finds_a_known_shift(tmp_path):
    base = _texture(size=128)
    ref = write_geotiff(tmp_path / "ref.tif", base[16:112, 16:112][None])
    # the moving image's content sits 3 rows down and 2 columns left of the reference's
    mov = write_geotiff(tmp_path / "mov.tif", base[13:109, 18:114][None])
    out = tmp_path / "o.tif"
    result = RUNNER.invoke(app, ["register", str(ref), str(mov), str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert abs(abs(report["dy"]) - 3) < 0.1 and abs(abs(report["dx"]) - 2) < 0.1
    assert out.exists()


def test_images_without_georeferencing_are_one_line_errors(tmp_path):
    base = (_texture() * 255).astype(np.uint8)
    Image.fromarray(base).save(tmp_path / "a.png")
    Image.fromarray(np.roll(base, 2, axis=0)).save(tmp_path / "b.png")
    result = RUNNER.invoke(
        app, ["register", str(tmp_path / "a.png"), str(tmp_path / "b.png"), str(tmp_path / "o.tif")]
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "not georeferenced" in result.output and "phase_correlation" in result.output
    assert not (tmp_path / "o.tif").exists()


def test_rasters_that_do_not_overlap_say_so(tmp_path):
    ref = write_geotiff(tmp_path / "ref.tif", _texture()[None])
    far = Affine(TRANSFORM.a, 0, TRANSFORM.c + 1e5, 0, TRANSFORM.e, TRANSFORM.f)
    mov = write_geotiff(tmp_path / "mov.tif", _texture(1)[None], transform=far)
    result = RUNNER.invoke(app, ["register", str(ref), str(mov), str(tmp_path / "o.tif")])
    assert result.exit_code == 1
    assert "error: reference and moving do not overlap" in result.output
    assert "fewer than 4" not in result.output


def test_phase_correlation_does_not_import_scipy_signal():
    # scipy.signal costs ~1.5 s of imports: a one-shot `satlearn register` paid it.
    code = (
        "import sys, numpy as np\n"
        "from satlearn.ops.registration import phase_correlation\n"
        "a = np.random.default_rng(0).random((64, 64)).astype('f4')\n"
        "for window in ('hann', 'tukey'):\n"
        "    phase_correlation(a, np.roll(a, 2, 0), 10, window=window)\n"
        "print('scipy.signal' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
