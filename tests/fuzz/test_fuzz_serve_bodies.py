"""Fuzzing the model server's request bodies: V2 JSON and binary tensors, TF-Serving
instances/inputs, multipart image uploads, the Accept header; in-process, and a few
requests through the real ASGI app (every answer 2xx or a 4xx JSON error, never a 500)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from fixtures_fuzz import (
    FUZZ,
    NASTY_TOKENS,
    deep_nesting,
    expect_clean,
    json_documents,
    json_dumps,
    json_values,
    mutated_bytes,
    mutated_json,
)
from satlearn.bundle import write_bundle
from satlearn.errors import InvalidInputError
from satlearn.serve import ServeSettings, create_app
from satlearn.serve._images import _preferred, decode_image
from satlearn.serve._tensors import V2_TO_NUMPY, v2_datatype
from satlearn.serve._tfserving import parse_predict_request
from satlearn.serve._v2 import HEADER_LENGTH, _requested, parse_infer_request

pytestmark = pytest.mark.timeout(120)

BANDS = ["red", "green", "nir"]
# What a refusal may name: the input, the field or the header at fault.
NAMES = [
    "input",
    "output",
    "request",
    "body",
    "'inputs'",
    "'instances'",
    "'parameters'",
    "'outputs'",
    "upload",
    "image",
    HEADER_LENGTH,
]


def _graph(inputs: list[tuple[str, int, list]], outputs: list[tuple[str, int, list]], nodes):
    import onnx
    from onnx import helper

    graph = helper.make_graph(
        nodes,
        "fuzz",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _repository(root: Path) -> Path:
    """``seg``: (N, 3, H, W) float32 -> 2 logits per pixel (the sum of two bands, their
    difference); ``pair``: two inputs of two datatypes (float32 image, int32 counts)."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.array([[1, 1, 0], [1, -1, 0]], np.float32).reshape(2, 3, 1, 1)
    seg = _graph(
        [("image", TensorProto.FLOAT, [None, 3, None, None])],
        [("logits", TensorProto.FLOAT, [None, 2, None, None])],
        [
            helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w)),
            helper.make_node("Conv", ["image", "w"], ["logits"]),
        ],
    )
    pair = _graph(
        [
            ("image", TensorProto.FLOAT, [None, 3, None, None]),
            ("count", TensorProto.INT32, [None, 2]),
        ],
        [("a", TensorProto.FLOAT, [None, 3, None, None]), ("b", TensorProto.INT32, [None, 2])],
        [
            helper.make_node("Identity", ["image"], ["a"]),
            helper.make_node("Identity", ["count"], ["b"]),
        ],
    )
    cls = _graph(
        [("image", TensorProto.FLOAT, [None, 3, 8, 8])],
        [("logits", TensorProto.FLOAT, [None, 3])],
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["logits"]),
        ],
    )
    write_bundle(
        root / "cls" / "1",
        model_onnx=cls,
        metadata={
            "task": "classification",
            "bands": BANDS,
            "classes": [{"id": i, "name": n} for i, n in enumerate("abc")],
        },
    )
    # A centernet layout (heatmaps of 2 classes, box size, offset at stride 2): bright red
    # or nir pixels are objects, so the GeoJSON of boxes is written for most uploads.
    wd = np.zeros((6, 3, 1, 1), np.float32)
    wd[0, 0], wd[1, 2] = 0.05, 0.05
    detector = _graph(
        [("image", TensorProto.FLOAT, [None, 3, None, None])],
        [("heads", TensorProto.FLOAT, [None, 6, None, None])],
        [
            helper.make_node("Constant", [], ["wd"], value=numpy_helper.from_array(wd)),
            helper.make_node(
                "AveragePool", ["image"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]
            ),
            helper.make_node("Conv", ["pooled", "wd"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["heads"]),
        ],
    )
    write_bundle(
        root / "det" / "1",
        model_onnx=detector,
        metadata={
            "task": "object-detection",
            "bands": BANDS,
            "classes": [{"id": 0, "name": "ship"}, {"id": 1, "name": "plane"}],
            "tile_size": 16,
            "output": {"kind": "heatmap+wh+offset", "classes": 2, "stride": 2},
        },
    )
    meta = {
        "task": "semantic-segmentation",
        "bands": BANDS,
        "classes": [{"id": 0, "name": "land"}, {"id": 1, "name": "water"}],
        "tile_size": 16,
    }
    write_bundle(root / "seg" / "1", model_onnx=seg, metadata=meta)
    write_bundle(root / "pair" / "1", model_onnx=pair, metadata=meta)
    return root


# Module level (hypothesis and function-scoped fixtures do not mix); removed at exit.
_TMP = tempfile.TemporaryDirectory(prefix="satlearn-fuzz-serve-")
_ROOT = _repository(Path(_TMP.name))
APP = create_app(ServeSettings(models=_ROOT, max_body_mb=1))
REPO = APP.state.repository
MODELS = {name: REPO.get(name) for name in ("seg", "pair")}

X = (np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2) - 5) / 4
COUNT = np.array([[3, -7]], np.int32)
_IMAGE = {"name": "image", "datatype": "FP32", "shape": [1, 3, 2, 2]}
_COUNT = {"name": "count", "datatype": "INT32", "shape": [1, 2]}
JSON_SAMPLES = {
    "seg": {
        "id": "q1",
        "inputs": [{**_IMAGE, "data": X.ravel().tolist()}],
        "outputs": [{"name": "logits", "parameters": {"binary_data": False}}],
    },
    "pair": {
        "inputs": [{**_IMAGE, "data": X.tolist()}, {**_COUNT, "data": COUNT.ravel().tolist()}],
        "parameters": {"binary_data_output": True},
    },
}
BINARY_HEADER = {
    "inputs": [
        {**_IMAGE, "parameters": {"binary_data_size": X.nbytes}},
        {**_COUNT, "parameters": {"binary_data_size": COUNT.nbytes}},
    ],
    "outputs": [{"name": "a", "parameters": {"binary_data": True}}, {"name": "b"}],
}
BINARY_BLOB = X.tobytes() + COUNT.tobytes()
TF_SAMPLES = {
    "seg": {"instances": X.tolist()},
    "pair": {"inputs": {"image": X.tolist(), "count": COUNT.tolist()}},
}
TF_ROWS = {"instances": [{"image": X[0].tolist(), "count": COUNT[0].tolist()}]}

_HOSTILE_NAMES = ["..", "../seg", "seg/..", "/", "a/b", "\x00", "seg\x00", ".hidden", "", "é"]
_DATATYPES = ["FP32", "fp32", "FP64", "INT32", "BYTES", "BF16", "FP8", "", "\x00", "FLOAT"]
_HEADER_LENGTHS = st.one_of(
    st.sampled_from(NASTY_TOKENS),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["+12", " 12", "12 ", "1e2", "0b1", "٣", "-0"]),
)


def _tensor_fields() -> st.SearchStrategy[dict]:
    """A tensor object whose fields are drawn from hostile values."""
    return st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(st.sampled_from(["image", "count", *_HOSTILE_NAMES]), json_values(3)),
            "datatype": st.one_of(st.sampled_from(_DATATYPES), json_values(2)),
            "shape": st.one_of(
                st.lists(st.integers(-2, 2**64), max_size=5),
                st.sampled_from([[2**40, 3, 2**40, 2**40], [1, 3, 10**400, 1], [1, 3, -1, 4]]),
                json_values(3),
            ),
            "data": st.one_of(
                st.lists(st.floats(), max_size=12),
                st.lists(st.integers(-(2**70), 2**70), max_size=12),
                json_values(8),
            ),
            "parameters": st.one_of(
                st.fixed_dictionaries(
                    {"binary_data_size": st.one_of(st.integers(-(2**70), 2**70), json_values(2))}
                ),
                json_values(3),
            ),
        },
    )


def _structured_bodies() -> st.SearchStrategy[bytes]:
    doc = st.fixed_dictionaries(
        {"inputs": st.one_of(st.lists(_tensor_fields(), max_size=3), json_values(4))},
        optional={"outputs": json_values(4), "parameters": json_values(3), "id": json_values(1)},
    )
    return doc.map(lambda d: json_dumps(d).encode())


_HOSTILE_JSON = [
    deep_nesting(100_000).encode(),
    ('{"inputs":' + deep_nesting(5000) + "}").encode(),
    b'{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 3, 2, 2], "data": '
    + b"[" * 3000
    + b"1"
    + b"]" * 3000
    + b"}]}",
    b"\xff\xfe{}",
    b'{"inputs": "\xc3"}',
    b"",
]


def _check_inputs(inputs: dict, model) -> None:
    specs = {s.name: s for s in model.inputs}
    assert set(inputs) == set(specs)
    for name, array in inputs.items():
        spec = specs[name]
        assert isinstance(array, np.ndarray)
        assert array.dtype == np.dtype(V2_TO_NUMPY[v2_datatype(spec.dtype)])
        assert len(array.shape) == len(spec.shape)
        assert all(d is None or d == n for d, n in zip(spec.shape, array.shape, strict=True))


def _v2(body: bytes, header_length: str | None, model) -> None:
    parsed = expect_clean(lambda: parse_infer_request(body, header_length, model), NAMES)
    if parsed is None:
        return
    inputs, doc = parsed
    _check_inputs(inputs, model)
    wanted = expect_clean(lambda: _requested(doc, model), NAMES)
    if wanted is not None:
        outputs = {s.name for s in model.outputs}
        assert all(n in outputs and isinstance(b, bool) for n, b in wanted)


@FUZZ
@given(
    case=st.one_of(
        *(json_documents(JSON_SAMPLES[m]).map(lambda b, m=m: (m, b)) for m in MODELS),
        st.tuples(st.sampled_from(sorted(MODELS)), _structured_bodies()),
        st.tuples(st.sampled_from(sorted(MODELS)), st.sampled_from(_HOSTILE_JSON)),
    )
)
# Found by fuzzing: a list as the tensor's name (TypeError: unhashable, a 500); nesting
# past orjson's 1024 levels (RecursionError in the standard parser it fell back to); a
# finite number beyond FP32 (a RuntimeWarning, and infinity where warnings are ignored).
@example(case=("seg", b'{"inputs": [{"name": ["image"], "datatype": "FP32"}]}'))
@example(case=("seg", deep_nesting(5000).encode()))
@example(case=("seg", json.dumps({"inputs": [{**_IMAGE, "data": [1e39] * 12}]}).encode()))
# The seeds, and refusals the derandomised examples reach rarely: a wrong band count,
# an input given twice, 'parameters' and 'outputs' of the wrong kind, NaN and Infinity.
@example(case=("seg", json.dumps(JSON_SAMPLES["seg"]).encode()))
@example(case=("pair", json.dumps(JSON_SAMPLES["pair"]).encode()))
@example(
    case=(
        "seg",
        json.dumps({"inputs": [{**_IMAGE, "shape": [1, 4, 1, 3], "data": [0] * 12}]}).encode(),
    )
)
@example(case=("pair", json.dumps({"inputs": JSON_SAMPLES["pair"]["inputs"][:1] * 2}).encode()))
@example(case=("seg", json.dumps({**JSON_SAMPLES["seg"], "parameters": [1]}).encode()))
@example(case=("seg", json.dumps({**JSON_SAMPLES["seg"], "outputs": {"name": "logits"}}).encode()))
@example(
    case=(
        "seg",
        json.dumps(
            {**JSON_SAMPLES["seg"], "outputs": [{"name": "logits", "parameters": 1}]}
        ).encode(),
    )
)
@example(
    case=(
        "seg",
        json.dumps({"inputs": [{**_IMAGE, "data": [float("nan"), float("inf")] * 6}]}).encode(),
    )
)
def test_v2_json_bodies_parse_or_are_refused(case):
    name, body = case
    _v2(body, None, MODELS[name])


def _binary_body(header: dict, blob: bytes) -> tuple[bytes, str]:
    head = json.dumps(header).encode()
    return head + blob, str(len(head))


@st.composite
def _binary_requests(draw) -> tuple[bytes, str | None]:
    header = draw(st.one_of(st.just(BINARY_HEADER), mutated_json(BINARY_HEADER)))
    blob = draw(st.one_of(st.just(BINARY_BLOB), mutated_bytes(BINARY_BLOB, max_mutations=2)))
    body, length = _binary_body(header, blob)
    kind = draw(st.sampled_from(["exact", "mutated body", "odd length", "no header"]))
    if kind == "mutated body":
        body = draw(mutated_bytes(body))
    elif kind == "odd length":
        length = draw(_HEADER_LENGTHS)
    elif kind == "no header":
        length = None
    return body, length


def _header_with(**fields) -> tuple[bytes, str]:
    first = {**BINARY_HEADER["inputs"][0], **fields}
    return _binary_body({"inputs": [first, BINARY_HEADER["inputs"][1]]}, BINARY_BLOB)


@FUZZ
@given(request=_binary_requests())
# The server issue's list: a shape far larger than the body, negative or huge or
# non-integer binary_data_size, a header length past the body, a wrong datatype.
@example(request=_header_with(shape=[2**31, 3, 2**31, 2**31]))
@example(request=_header_with(parameters={"binary_data_size": -48}))
@example(request=_header_with(parameters={"binary_data_size": 2**64}))
@example(request=_header_with(parameters={"binary_data_size": 48.0}))
@example(request=_header_with(datatype="FP64"))
@example(request=(_header_with()[0], str(len(_header_with()[0]) + 1)))
def test_v2_binary_bodies_parse_or_are_refused(request):
    body, length = request
    _v2(body, length, MODELS["pair"])


@FUZZ
@given(
    case=st.one_of(
        *(json_documents(TF_SAMPLES[m]).map(lambda b, m=m: (m, b)) for m in MODELS),
        json_documents(TF_ROWS).map(lambda b: ("pair", b)),
        st.tuples(
            st.sampled_from(sorted(MODELS)),
            st.dictionaries(
                st.sampled_from(["instances", "inputs", "signature_name"]), json_values(10)
            ).map(lambda d: json_dumps(d).encode()),
        ),
        st.tuples(st.sampled_from(sorted(MODELS)), st.sampled_from(_HOSTILE_JSON)),
    )
)
@example(case=("seg", deep_nesting(5000).encode()))  # RecursionError, as in V2
@example(
    case=("pair", json.dumps({"inputs": {"image": X.tolist(), "count": [[1e39, 1]]}}).encode())
)
@example(case=("seg", json.dumps({"instances": (X * 1e38).tolist()}).encode()))  # FP32 overflow
@example(case=("seg", json.dumps(TF_SAMPLES["seg"]).encode()))
@example(case=("pair", json.dumps(TF_SAMPLES["pair"]).encode()))
@example(case=("pair", json.dumps(TF_ROWS).encode()))
@example(case=("seg", json.dumps({"inputs": X.tolist()}).encode()))
@example(case=("pair", json.dumps({"inputs": {"image": X.tolist()}}).encode()))
def test_tfserving_bodies_parse_or_are_refused(case):
    name, body = case
    model = MODELS[name]
    parsed = expect_clean(lambda: parse_predict_request(body, model), NAMES)
    if parsed is not None:
        inputs, _row = parsed
        specs = {s.name: s for s in model.inputs}
        assert set(inputs) == set(specs)
        for n, array in inputs.items():
            assert array.dtype == np.dtype(specs[n].dtype)
            assert all(
                d is None or d == k for d, k in zip(specs[n].shape, array.shape, strict=True)
            )


def _png(mode: str = "RGB") -> bytes:
    from PIL import Image

    array = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    buffer = io.BytesIO()
    Image.fromarray(array, mode="RGB").convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8), mode="RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


def _tiff(values: np.ndarray | None = None, **extra) -> bytes:
    import rasterio

    if values is None:
        values = np.arange(72, dtype=np.uint16).reshape(3, 4, 6)
    profile = {"driver": "GTiff", "height": 4, "width": 6, "count": 3, "dtype": values.dtype.name}
    profile.update(crs="EPSG:32633", transform=Affine(10, 0, 399960, 0, -10, 5000040))
    profile.update(extra)
    with rasterio.MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(values)
            for i, band in enumerate(BANDS, 1):
                dst.set_band_description(i, band)
        return bytes(memfile.read())


def _band_bomb() -> bytes:
    """6 KB of sparse GeoTIFF declaring 1000 bands of 4096 x 4096 (67 GB as float32)."""
    import rasterio

    blank = {"compress": "deflate", "tiled": True, "blockxsize": 4096, "blockysize": 4096}
    with rasterio.MemoryFile() as memfile:
        with memfile.open(driver="GTiff", width=4096, height=4096, count=1000, dtype="uint8",
                          crs="EPSG:32633", transform=Affine(10, 0, 0, 0, -10, 0), sparse_ok=True,
                          **blank):  # fmt: skip
            pass  # nothing written: every tile is sparse
        return bytes(memfile.read())


BAND_BOMB = _band_bomb()
UPLOADS = {
    "png": _png(),
    "png-palette": _png("P"),
    "jpeg": _jpeg(),
    "tiff": _tiff(),
    "tiff-tiled": _tiff(tiled=True, blockxsize=16, blockysize=16, compress="deflate"),
    # Stored values no model answer can carry as JSON: NaN, infinities, float32's extremes.
    "tiff-float": _tiff(
        np.array([np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 0], np.float32)
        .repeat(12)
        .reshape(3, 4, 6)
    ),
    "tiff-float64": _tiff(np.full((3, 4, 6), 1e300)),  # infinite as float32
    # Grids with no way to WGS 84: an engineering CRS, a NaN geotransform.
    "tiff-local-crs": _tiff(
        crs='LOCAL_CS["grid",UNIT["metre",1]]', transform=Affine(1, 0, 0, 0, -1, 0)
    ),
    "tiff-nan-transform": _tiff(transform=Affine(float("nan"), 0, 0, 0, -10, 0)),
}


@FUZZ
@given(
    data=st.one_of(
        *(mutated_bytes(sample) for sample in UPLOADS.values()),
        st.binary(max_size=64),
        st.sampled_from([b"II*\x00", b"MM\x00+", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a"]),
    ),
    max_pixels=st.sampled_from([10_000, 20]),
    bands=st.sampled_from([None, BANDS]),
)
# Found by fuzzing: a band count refused only after read() had allocated every band.
@example(data=BAND_BOMB, max_pixels=2**25, bands=BANDS)
def test_uploads_decode_or_are_refused(data, max_pixels, bands):
    image = expect_clean(lambda: decode_image(data, max_pixels=max_pixels, bands=bands), NAMES)
    if image is not None:
        count, height, width = image.data.shape
        assert image.data.dtype == np.float32 and count >= 1
        assert bands is None or image.format != "GTiff" or count == len(bands)
        assert 1 <= height * width <= max_pixels
        assert image.format in ("GTiff", "PNG", "JPEG")


_MEDIA = [
    "image/png",
    "image/tiff",
    "image/*",
    "*/*",
    "text/html",
    "image/tiff; application=geotiff",
]
_accepts = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(_MEDIA), st.text(max_size=12)),
        st.lists(
            st.one_of(
                st.sampled_from(NASTY_TOKENS).map(lambda t: f"q={t}"),
                st.floats().map(lambda q: f"q={q}"),
                st.text(max_size=8),
            ),
            max_size=2,
        ),
    ).map(lambda t: ";".join([t[0], *t[1]])),
    max_size=4,
).map(", ".join)


@FUZZ
@given(accept=st.one_of(_accepts, st.text(max_size=30), st.sampled_from(NASTY_TOKENS)))
def test_accept_headers_choose_a_type_or_are_refused(accept):
    chosen = expect_clean(lambda: _preferred(accept, "image/png"), [repr(accept)])
    assert chosen is None or chosen in ("image/png", "image/tiff")


# Requests through the real app: a few of each kind (the in-process tests above run the many).
def _request_cases() -> st.SearchStrategy[tuple[str, str, bytes | dict, dict]]:
    names = st.one_of(
        st.sampled_from(["seg", "pair", "nope", "..", "%2e%2e", "a%2Fb", "%00", "seg%00", "-x"]),
        st.text(alphabet="abc./%0\\", max_size=8),
    )
    versions = st.one_of(st.none(), st.sampled_from(["1", "..", "%00", "9", "1.0", "%2F"]))

    def path(name: str, version: str | None, tail: str) -> str:
        return f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + tail

    v2 = st.builds(
        lambda n, v, body: ("v2", path(n, v, "/infer"), body, {}),
        names,
        versions,
        st.one_of(json_documents(JSON_SAMPLES["seg"]), st.sampled_from(_HOSTILE_JSON)),
    )
    binary = _binary_requests().map(
        lambda r: (
            "v2",
            "/v2/models/pair/infer",
            r[0],
            {} if r[1] is None else {HEADER_LENGTH: r[1].encode("utf-8", "replace")},
        )
    )
    tf = st.builds(
        lambda n, body: ("tf", f"/v1/models/{n}:predict", body, {}),
        st.sampled_from(["seg", "pair", "..", "nope"]),
        json_documents(TF_SAMPLES["seg"]),
    )
    upload = st.builds(
        lambda path, data, accept: ("upload", path, data, {"accept": accept}),
        st.sampled_from(
            ["/v1/models/seg:segment", "/v1/models/cls:classify", "/v1/models/det:detect"]
        ),
        st.one_of(*(mutated_bytes(s, max_mutations=2) for s in UPLOADS.values())),
        st.sampled_from(["", "image/png", "image/tiff;q=0.5, */*;q=nan", "text/html", "q=1e999"]),
    )
    return st.one_of(v2, binary, tf, upload)


def _answered(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.headers
        error = response.json().get("error")
        assert isinstance(error, str) and error.strip(), response.text


@pytest.fixture(scope="module")
def client():
    with TestClient(APP, raise_server_exceptions=False) as c:
        # Warm up outside the 2 s deadline: the first :detect imports geopandas and
        # opens PROJ's database (seconds on a loaded machine).
        files = {"file": ("a.tif", UPLOADS["tiff"], "image/tiff")}
        assert c.post("/v1/models/det:detect", files=files).status_code == 200
        yield c


@FUZZ
@given(case=_request_cases())
@example(case=("v2", "/v2/models/seg/infer", b'{"inputs": [{"name": ["image"]}]}', {}))
@example(case=("v2", "/v2/models/seg/infer", deep_nesting(100_000).encode(), {}))
@example(case=("upload", "/v1/models/seg:segment", BAND_BOMB, {}))
# Found by fuzzing: 500s of :detect on a CRS with no way to WGS 84 (pyproj ProjError)
# and on a NaN geotransform (GEOSException building the boxes).
@example(case=("upload", "/v1/models/det:detect", UPLOADS["tiff-local-crs"], {}))
@example(case=("upload", "/v1/models/det:detect", UPLOADS["tiff-nan-transform"], {}))
@example(case=("upload", "/v1/models/det:detect", UPLOADS["tiff"], {}))
@example(case=("upload", "/v1/models/cls:classify", UPLOADS["tiff"], {}))
@example(case=("upload", "/v1/models/cls:classify", UPLOADS["tiff-float"], {}))
@example(case=("upload", "/v1/models/cls:classify", UPLOADS["tiff-float64"], {}))  # inf - inf
@example(case=("upload", "/v1/models/seg:segment", UPLOADS["tiff-float"], {}))
@example(case=("upload", "/v1/models/seg:segment", UPLOADS["jpeg"], {"accept": "image/tiff"}))
def test_the_app_answers_2xx_or_a_4xx_json_error(client, case):
    kind, path, body, headers = case
    if kind == "upload":
        files = {"file": ("upload.bin", body, "application/octet-stream")}
        response = client.post(path, files=files, headers=headers)
    else:
        response = client.post(path, content=body, headers=headers)
    _answered(response)
    if response.status_code == 200 and path.endswith(":classify"):
        # Found by fuzzing: NaN stored values answered 200 with null probabilities.
        answer = response.json()
        probabilities = [c["probability"] for c in answer["classes"]]
        assert all(isinstance(p, float) and 0 <= p <= 1 for p in probabilities), probabilities
        assert answer["activation"] != "softmax" or abs(sum(probabilities) - 1) < 1e-6


# Found while fuzzing (by the harness or by targeted inputs), fixed: each refused now,
# with a message saying what was wrong.
@pytest.mark.parametrize(
    ("model", "doc", "says"),
    [
        ("seg", {"inputs": [{"name": ["image"]}]}, "unknown input"),  # TypeError: unhashable
        ("seg", {"inputs": [{**_IMAGE, "data": [1e39] * 12}]}, "out of the range of float32"),
        (
            "pair",
            {"inputs": [JSON_SAMPLES["pair"]["inputs"][0], {**_COUNT, "data": [1.5, 2]}]},
            "fractional",
        ),
    ],
)
def test_found_v2_bodies_are_refused(model, doc, says):
    with pytest.raises(InvalidInputError, match=says):
        parse_infer_request(json.dumps(doc).encode(), None, MODELS[model])


def test_found_deep_json_is_refused_not_a_recursion_error():
    with pytest.raises(InvalidInputError, match="nested too deeply"):
        parse_infer_request(deep_nesting(5000).encode(), None, MODELS["seg"])
    with pytest.raises(InvalidInputError, match="nested too deeply"):
        parse_predict_request(deep_nesting(5000).encode(), MODELS["seg"])


def test_found_a_band_bomb_is_refused_on_its_header():
    with pytest.raises(InvalidInputError, match="1000 band"):
        decode_image(BAND_BOMB, bands=BANDS)


@pytest.mark.parametrize(
    ("path", "upload", "says"),
    [
        ("/v1/models/cls:classify", "tiff-float", "no finite class probabilities"),
        ("/v1/models/cls:classify", "tiff-float64", "no finite class probabilities"),
        ("/v1/models/det:detect", "tiff-local-crs", "cannot be transformed to WGS 84"),
        ("/v1/models/det:detect", "tiff-nan-transform", "geotransform"),
    ],
)
def test_found_uploads_are_400s(client, path, upload, says):
    response = client.post(path, files={"file": ("a.tif", UPLOADS[upload], "image/tiff")})
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]
