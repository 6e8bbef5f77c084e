"""The model server under load: ``satlearn serve`` (dynamic batching) against a naive server.

(a) ``satlearn serve --models DIR``: requests to the Open Inference Protocol
(KServe V2) ``POST /v2/models/mlp/infer`` are grouped by the model's batcher
(``max_batch_size`` 32, ``max_queue_delay_ms`` 2, from ``DIR/mlp/config.yaml``).
(b) The naive baseline users write today: a FastAPI app (in this file) whose
endpoint parses the same V2 request and runs one ONNX Runtime forward per
request in Starlette's thread pool, served by uvicorn the same way (one
process, 127.0.0.1). ``--tensors``: the request as V2 JSON tensors, with the
binary tensor extension (tritonclient's default), or both (the default), the
same request to both servers.

The model is an MLP classifier of 4 x 16 x 16 chips (1024 -> H -> H -> 10,
ONNX from torch), H = ``--hidden``: 8192 by default (~75 M weights, the size
of the ViT-B backbones of the field's foundation models such as Prithvi-100M;
~1.7 ms of CPU a sample batched), 4096 (~21 M, a ResNet-50's size, ~0.5 ms)
and 2048 (~6.3 M, ~0.2 ms) for models so light that the server's fixed
~0.1-0.25 ms of HTTP work a request on the same cores outweighs them. Its
batch-1 forward reads every weight for one chip (memory-bound), the regime
where batching pays, as for most models on a GPU. The convolutional
classifiers of satlearn.models gain nothing from batching on a small CPU
(samples/s flat from batch 1 to 32: measured with ``--conv``), so a server
cannot either.

The load generator (in this process: a minimal asyncio HTTP/1.1 client by
default, async httpx with ``--client httpx``) keeps ``concurrency`` requests
in flight until ``--requests`` are answered, for concurrency 1, 8, 32 and 64,
each run after a warm-up run of 4 x concurrency requests (at least 32) that is
not counted (steady state, as perf_analyzer measures it); it records
requests/s, p50 and p99 latency, non-200 answers, and the CPU time per request
of the server process (all threads, from /proc), of the load generator, and of
everything else on the machine (other jobs). Both servers run at once and are
measured in turns, ``--repeats`` rounds (the order alternating), each figure
the median of its rounds; ``--pin`` puts the load generator on the last CPU
and both servers on the others. Both servers are uvicorn with its ``auto``
choices (uvloop and httptools when installed).

The ceiling, measured after each round: the same graph's forward throughput
in-process (ONNX Runtime, no HTTP) at the batch size the server reached at
concurrency 32 in that round (its mean, from /metrics), the best of ONNX
Runtime's defaults and the server's own session options; also at the
configured batch (32) and at batch 1; "of the ceiling" divides by the faster of
the first two. Last, one 1024 x 1024 x 4 float32
tensor sent to a 1 x 1 convolution model (``pix``) as V2 JSON and with the
binary tensor extension (output binary too): the median round trip of each,
client encoding included. Cold figures beside: each server's time from start
to ready and its first request's round trip.

Run: ``.venv/bin/python benchmarks/bench_serve.py [--requests 500] [--repeats 3] [--pin]
[--json out.json]`` (2 min 57 s with its defaults on 2 cores at load 10-15).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from satlearn.testing.process import free_port, start_server, stop_process

CHIP = (4, 16, 16)
HIDDEN = 8192
CLASSES = 10
BANDS = ["blue", "green", "red", "nir"]
BATCH = 32
LARGE = (1, 4, 1024, 1024)


def _onnx(model, example, *, spatial: bool = False) -> bytes:
    import torch

    buffer = io.BytesIO()
    axes = {0: "batch", 2: "y", 3: "x"} if spatial else {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            model.eval(),
            (example,),
            buffer,
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": axes, "output": axes},
        )
    return buffer.getvalue()


def make_models(root: Path, hidden: int = HIDDEN, delay_ms: float = 2.0) -> Path:
    """``root/mlp/1`` (the load test's classifier) and ``root/pix/1`` (a 1 x 1 conv)."""
    import torch

    from satlearn.bundle import write_bundle

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(int(np.prod(CHIP)), hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, CLASSES),
    )
    write_bundle(
        root / "mlp" / "1",
        model_onnx=_onnx(mlp, torch.zeros(2, *CHIP)),
        metadata={
            "task": "classification",
            "bands": BANDS,
            "tile_size": CHIP[-1],
            "classes": [{"id": i, "name": f"class{i}"} for i in range(CLASSES)],
        },
    )
    (root / "mlp" / "config.yaml").write_text(
        f"max_batch_size: {BATCH}\nmax_queue_delay_ms: {delay_ms:g}\nmax_queue: 1024\n"
    )
    pix = torch.nn.Conv2d(4, 2, 1)
    write_bundle(
        root / "pix" / "1",
        model_onnx=_onnx(pix, torch.zeros(1, 4, 8, 8), spatial=True),
        metadata={
            "task": "semantic-segmentation",
            "bands": BANDS,
            "tile_size": 256,
            "classes": [{"id": 0, "name": "a"}, {"id": 1, "name": "b"}],
        },
    )
    return root


# -- the naive baseline ------------------------------------------------------------------------


def naive_app(bundle: Path):
    """One ONNX Runtime forward per request; the V2 request (JSON or binary tensors) and answer."""
    import onnxruntime as ort
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    app = FastAPI()

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    async def infer(request) -> JSONResponse:  # a plain Starlette route: the raw request
        name = request.path_params["name"]
        header_length = request.headers.get("inference-header-content-length")
        if header_length is None:
            tensor = (await request.json())["inputs"][0]
            x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        else:
            body = await request.body()
            tensor = json.loads(body[: int(header_length)])["inputs"][0]
            x = np.frombuffer(body[int(header_length) :], dtype=np.float32)
            x = x.reshape(tensor["shape"])
        # In Starlette's thread pool, as FastAPI runs a plain (sync) endpoint.
        (y,) = await run_in_threadpool(session.run, None, {"input": x})
        return JSONResponse(
            {
                "model_name": name,
                "outputs": [
                    {
                        "name": "output",
                        "datatype": "FP32",
                        "shape": list(y.shape),
                        "data": y.ravel().tolist(),
                    }
                ],
            }
        )

    app.router.add_route("/v2/models/{name}/infer", infer, methods=["POST"])
    return app


# -- servers -----------------------------------------------------------------------------------


# -- load --------------------------------------------------------------------------------------


async def raw_load(
    url: str, body: bytes, *, concurrency: int, requests: int, headers: dict[str, str]
) -> dict:
    """:func:`load` with a minimal HTTP/1.1 keep-alive client on asyncio streams.

    One pre-built request, written as it is on ``concurrency`` connections; the
    answer read by its Content-Length. It costs the load generator ~10x less
    CPU per request than httpx (measured: httpx ~5 ms of CPU a request at
    concurrency 32, more than either server), so on a machine whose cores the
    client shares with the server it measures the server, not the client.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    fields = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{fields}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    failures: dict[int, int] = {}
    left = requests

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    connections = [
        await asyncio.open_connection(parts.hostname, parts.port) for _ in range(concurrency)
    ]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            status = await one(reader, writer)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures[status] = failures.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    elapsed = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    ms = np.array(latencies) * 1e3
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "failures": failures,
    }


async def load(
    url: str, body: bytes, *, concurrency: int, requests: int, headers: dict[str, str]
) -> dict:
    """Keep ``concurrency`` requests in flight until ``requests`` are answered (httpx)."""
    import httpx

    latencies: list[float] = []
    failures: dict[int, int] = {}
    left = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    failures[response.status_code] = failures.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1e3
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "failures": failures,
    }


def ceiling(
    bundle: Path, batch: int = BATCH, seconds: float = 3.0, *, spin: bool = True
) -> tuple[float, float]:
    """Samples/s of the graph at ``batch`` in-process (ONNX Runtime, no HTTP); CPU ms a sample.

    ``spin=True``: ONNX Runtime's defaults (threads spin between runs, fastest on
    an idle machine); ``spin=False``: the server's sessions (no spinning, faster
    when other processes want the cores).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = ort.InferenceSession(
        str(bundle / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    x = np.random.default_rng(0).random((batch, *CHIP), dtype=np.float32)
    session.run(None, {"input": x})
    runs, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        session.run(None, {"input": x})
        runs += 1
    rate = runs * batch / (time.perf_counter() - started)
    # This process does nothing else meanwhile (the load generator is idle).
    cpu_ms_per_sample = (time.process_time() - cpu) / (runs * batch) * 1e3
    return rate, cpu_ms_per_sample


def large_tensor_times(base: str, repeats: int = 3, budget_s: float = 40.0) -> dict:
    """Median round trip of one 1024 x 1024 x 4 float32 tensor as V2 JSON and as binary.

    Fewer than ``repeats`` rounds once ``budget_s`` is spent (JSON takes 6-30 s a
    round, with the machine's load), so the benchmark stays within ~3 minutes.
    """
    import httpx

    x = np.random.default_rng(1).random(LARGE, dtype=np.float32)
    url = f"{base}/v2/models/pix/infer"
    out: dict[str, list[float]] = {"json": [], "binary": []}
    began = time.perf_counter()
    with httpx.Client(timeout=600) as client:
        for _ in range(repeats):
            if out["json"] and time.perf_counter() - began > budget_s:
                break
            started = time.perf_counter()
            body = json.dumps(
                {
                    "inputs": [
                        {
                            "name": "input",
                            "shape": list(LARGE),
                            "datatype": "FP32",
                            "data": x.ravel().tolist(),
                        }
                    ]
                }
            )
            response = client.post(url, content=body, headers={"content-type": "application/json"})
            response.raise_for_status()
            answer = response.json()["outputs"][0]
            np.asarray(answer["data"], dtype=np.float32)
            out["json"].append(time.perf_counter() - started)

            started = time.perf_counter()
            header = json.dumps(
                {
                    "inputs": [
                        {
                            "name": "input",
                            "shape": list(LARGE),
                            "datatype": "FP32",
                            "parameters": {"binary_data_size": x.nbytes},
                        }
                    ],
                    "outputs": [{"name": "output", "parameters": {"binary_data": True}}],
                }
            ).encode()
            response = client.post(
                url,
                content=header + x.tobytes(),
                headers={
                    "content-type": "application/octet-stream",
                    "inference-header-content-length": str(len(header)),
                },
            )
            response.raise_for_status()
            length = int(response.headers["inference-header-content-length"])
            meta = json.loads(response.content[:length])
            size = meta["outputs"][0]["parameters"]["binary_data_size"]
            np.frombuffer(response.content[length : length + size], dtype=np.float32)
            out["binary"].append(time.perf_counter() - started)
    medians = {kind: statistics.median(times) * 1e3 for kind, times in out.items()}
    return {**medians, "rounds": len(out["json"])}


def conv_batching() -> list[tuple[int, float]]:
    """Samples/s of satlearn's ResNet classifier (width 16, 32 px chips) at batch 1, 8, 32."""
    import onnxruntime as ort
    import torch

    from satlearn.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet-classifier", in_channels=4, num_classes=10, width=16, depth=2)
    session = ort.InferenceSession(
        _onnx(model, torch.zeros(2, 4, 32, 32)), providers=["CPUExecutionProvider"]
    )
    rates = []
    for batch in (1, 8, 32):
        x = np.random.default_rng(0).random((batch, 4, 32, 32), dtype=np.float32)
        session.run(None, {"input": x})
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < 1.5:
            session.run(None, {"input": x})
            runs += 1
        rates.append((batch, runs * batch / (time.perf_counter() - started)))
    return rates


# -- CPU accounting ----------------------------------------------------------------------------


def _process_cpu_s(pid: int, *, main_thread: bool = False) -> float:
    """User + system CPU seconds of a process, all its threads (Linux /proc).

    ``main_thread``: of its main thread alone (uvicorn's event loop: parsing,
    routing, the batcher; the forward passes run in other threads).
    """
    stat = f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy (not idle, not iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _batches(base: str) -> tuple[float, float]:
    """(sum, count) of the server's batch-size histogram, over every model."""
    import httpx

    total = count = 0.0
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith('satlearn_batch_size_sum{model="mlp"'):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith('satlearn_batch_size_count{model="mlp"'):
            count += float(line.rsplit(" ", 1)[1])
    return total, count


def first_request_ms(url: str, form: tuple[bytes, dict[str, str]]) -> float:
    """The round trip of one request, in milliseconds (the first to a fresh server)."""
    import httpx

    body, headers = form
    started = time.perf_counter()
    httpx.post(url, content=body, headers=headers, timeout=60).raise_for_status()
    return (time.perf_counter() - started) * 1e3


def request_forms() -> dict[str, tuple[bytes, dict[str, str]]]:
    """The load test's one-chip request as V2 JSON and with binary tensors: body, headers."""
    x = np.random.default_rng(2).random((1, *CHIP), dtype=np.float32)
    tensor = {"name": "input", "shape": [1, *CHIP], "datatype": "FP32"}
    plain = json.dumps({"inputs": [{**tensor, "data": x.ravel().tolist()}]}).encode()
    head = json.dumps(
        {"inputs": [{**tensor, "parameters": {"binary_data_size": x.nbytes}}]}
    ).encode()
    return {
        "json": (plain, {"Content-Type": "application/json"}),
        "binary": (
            head + x.tobytes(),
            {
                "Content-Type": "application/octet-stream",
                "Inference-Header-Content-Length": str(len(head)),
            },
        ),
    }


def measure(
    kind: str, server, url: str, form: tuple[bytes, dict[str, str]], level: int, args
) -> dict:
    """One load run against one server, with the CPU its client, server and others used."""
    generate = raw_load if args.client == "raw" else load
    base = url.split("/v2/", 1)[0]
    body, headers = form
    # A warm-up run at the level first, not counted: the batcher's groups settle over
    # the first few hundred requests (500-request runs from cold read 10-20 % low).
    warm = max(4 * level, 32)
    asyncio.run(generate(url, body, concurrency=level, requests=warm, headers=headers))
    before_batches = _batches(base) if kind == "satlearn" else None
    server_cpu, loop_cpu, client_cpu, busy = (
        _process_cpu_s(server.pid),
        _process_cpu_s(server.pid, main_thread=True),
        time.process_time(),
        _machine_busy_s(),
    )
    wall = time.perf_counter()
    row = asyncio.run(
        generate(url, body, concurrency=level, requests=args.requests, headers=headers)
    )
    wall = time.perf_counter() - wall
    server_cpu = _process_cpu_s(server.pid) - server_cpu
    loop_cpu = _process_cpu_s(server.pid, main_thread=True) - loop_cpu
    client_cpu = time.process_time() - client_cpu
    busy = _machine_busy_s() - busy
    n = row["requests"]
    row["server_cpu_ms"] = server_cpu / n * 1e3
    row["loop_cpu_ms"] = loop_cpu / n * 1e3
    row["client_cpu_ms"] = client_cpu / n * 1e3
    # Cores busy with anything else (other jobs, this machine's own work) during the run.
    row["other_cores"] = max(busy - server_cpu - client_cpu, 0.0) / wall
    if before_batches is not None:
        total, count = _batches(base)
        row["mean_batch"] = (total - before_batches[0]) / max(count - before_batches[1], 1)
    return row


def _median_rows(rows: list[dict]) -> dict:
    out = {"concurrency": rows[0]["concurrency"], "tensors": rows[0]["tensors"]}
    out["repeats"] = len(rows)
    for key in rows[0]:
        if key in ("concurrency", "tensors", "requests", "failures"):
            continue
        out[key] = statistics.median(r[key] for r in rows)
    out["failures"] = {}
    for r in rows:
        for code, count in r["failures"].items():
            out["failures"][code] = out["failures"].get(code, 0) + count
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per level")
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--conv", action="store_true", help="also time a conv net's batching")
    parser.add_argument(
        "--hidden", type=int, default=HIDDEN, help="the MLP's hidden width (2048, 4096: lighter)"
    )
    parser.add_argument(
        "--tensors",
        default="json,binary",
        help="request forms, each measured in every round: json (V2 JSON tensors), binary "
        "(the binary tensor extension, tritonclient's default), or both",
    )
    parser.add_argument(
        "--delay-ms", type=float, default=2.0, help="the batcher's max_queue_delay_ms"
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal asyncio HTTP/1.1 client (default) or async httpx",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the load generator to the last CPU and both servers to the others",
    )
    parser.add_argument("--naive", type=Path, help=argparse.SUPPRESS)  # child: the baseline
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        import uvicorn

        uvicorn.run(naive_app(args.naive), host="127.0.0.1", port=args.port, log_level="warning")
        return

    import uvicorn.config

    levels = [int(c) for c in args.concurrency.split(",")]
    forms = request_forms()
    kinds = args.tensors.split(",")
    if not kinds or any(k not in forms for k in kinds):
        parser.error(f"--tensors takes json, binary or json,binary, not {args.tensors!r}")
    cpus = sorted(os.sched_getaffinity(0))
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "requests": args.requests,
        "hidden": args.hidden,
        "max_queue_delay_ms": args.delay_ms,
        "repeats": args.repeats,
        "client": args.client,
        "tensors": kinds,
        # What uvicorn's "auto" picks, for both servers alike.
        "uvicorn_loop": "uvloop" if _importable("uvloop") else "asyncio",
        "uvicorn_http": "httptools" if _importable("httptools") else "h11",
        "uvicorn_version": uvicorn.__version__,
        "pinned": args.pin,
        "load_average_before": os.getloadavg(),
    }
    server_cpus = set(cpus[:-1]) if args.pin and len(cpus) > 1 else set(cpus)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_models(Path(tmp) / "models", args.hidden, args.delay_ms)
        bundle = root / "mlp" / "1"
        servers: dict[str, tuple[subprocess.Popen, str]] = {}
        try:
            # Both servers up at once, measured in turns: other jobs on the machine load
            # them alike, and each figure has its peer from the same minutes.
            for kind in ("satlearn", "naive"):
                port = free_port()
                if kind == "satlearn":
                    settings = Path(tmp) / "serve.yaml"
                    settings.write_text(f"models: {root}\nport: {port}\nmax_body_mb: 512\n")
                    command = [
                        sys.executable,
                        "-m",
                        "satlearn",
                        "serve",
                        "--settings",
                        str(settings),
                        "--log-level",
                        "warning",
                    ]
                else:
                    command = [
                        sys.executable,
                        __file__,
                        "--naive",
                        str(bundle),
                        "--port",
                        str(port),
                    ]
                started = time.perf_counter()
                process = start_server(
                    command,
                    ready_url=f"http://127.0.0.1:{port}/v2/health/ready",
                    log=Path(tmp) / f"{kind}.log",
                    env={**os.environ, "PYTHONWARNINGS": "ignore"},
                )
                ready_s = time.perf_counter() - started
                url = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
                # What the first user pays: the first request to a fresh server (cold).
                results.setdefault("cold", {})[kind] = {
                    "ready_s": ready_s,
                    "first_request_ms": first_request_ms(url, forms[kinds[0]]),
                }
                if args.pin:
                    for task in os.listdir(f"/proc/{process.pid}/task"):
                        os.sched_setaffinity(int(task), server_cpus)
                servers[kind] = (process, url)
            if args.pin:
                os.sched_setaffinity(0, {cpus[-1]})
            runs: dict[str, dict[tuple[str, int], list[dict]]] = {
                k: {(t, c): [] for t in kinds for c in levels} for k in servers
            }
            ceilings: list[tuple[float, float, float]] = []
            batch_at = {32: BATCH}
            for repeat in range(args.repeats):
                order = ["satlearn", "naive"] if repeat % 2 == 0 else ["naive", "satlearn"]
                for level in levels:
                    for tensors, kind in ((t, k) for t in kinds for k in order):
                        process, url = servers[kind]
                        row = measure(kind, process, url, forms[tensors], level, args)
                        row["tensors"] = tensors
                        runs[kind][tensors, level].append(row)
                        print(
                            f"[{repeat}] {kind:8s} {tensors:6s} c={level:3d} "
                            f"{row['requests_per_s']:8.1f} req/s "
                            f"p50 {row['p50_ms']:7.2f} p99 {row['p99_ms']:7.2f} ms, CPU/request "
                            f"server {row['server_cpu_ms']:.2f} (loop {row['loop_cpu_ms']:.2f}) "
                            f"client {row['client_cpu_ms']:.2f}"
                            f" ms, other cores {row['other_cores']:.2f}"
                            + (
                                f", mean batch {row['mean_batch']:.1f}"
                                if "mean_batch" in row
                                else ""
                            )
                            + (f", failures {row['failures']}" if row["failures"] else ""),
                            flush=True,
                        )
                # The ceiling beside each round: the batch the server reached at c=32 in
                # this round (rounded), the configured batch, and batch 1.
                reached = [
                    r["mean_batch"] for t in kinds for r in runs["satlearn"].get((t, 32), [])[-1:]
                ]
                batch = max(1, round(min(reached))) if reached else BATCH
                batch_at[32] = batch
                # Each the best of ONNX Runtime's defaults and the server's own options,
                # so the ceiling is the most the graph does in-process at that batch; on
                # the servers' CPUs (all of them unless --pin).
                os.sched_setaffinity(0, server_cpus)
                best = [
                    max(ceiling(bundle, batch=b, seconds=t, spin=spin) for spin in (True, False))
                    for b, t in ((batch, 1.0), (BATCH, 1.0), (1, 0.5))
                ]
                ceilings.append((*(rate for rate, _ in best), best[0][1]))
                if args.pin:
                    os.sched_setaffinity(0, {cpus[-1]})
                print(
                    f"[{repeat}] ceiling: {ceilings[-1][0]:.0f} samples/s at batch {batch} "
                    f"(reached), {ceilings[-1][1]:.0f} at {BATCH}, {ceilings[-1][2]:.0f} at 1",
                    flush=True,
                )
            if args.pin:
                os.sched_setaffinity(0, set(cpus))
            for kind in servers:
                results[kind] = [_median_rows(runs[kind][t, c]) for t in kinds for c in levels]
            results["ceiling_batch"] = batch_at[32]
            results["ceiling_samples_per_s"] = statistics.median(c[0] for c in ceilings)
            results["ceiling_batch32_samples_per_s"] = statistics.median(c[1] for c in ceilings)
            results["batch1_samples_per_s"] = statistics.median(c[2] for c in ceilings)
            results["ceiling_cpu_ms_per_sample"] = statistics.median(c[3] for c in ceilings)
            base = servers["satlearn"][1].split("/v2/", 1)[0]
            results["large_tensor_ms"] = large_tensor_times(base)
        finally:
            for process, _ in servers.values():
                stop_process(process)
    if args.conv:
        results["conv_batching_samples_per_s"] = conv_batching()
    # "Of the ceiling" divides by the most the graph does in-process, at the batch the
    # server reached or at the configured one, whichever is faster: the stricter figure.
    ceiling_rate = max(results["ceiling_samples_per_s"], results["ceiling_batch32_samples_per_s"])
    results["ceiling_best_samples_per_s"] = ceiling_rate
    print(
        f"ceiling (in-process, median of {args.repeats}): {ceiling_rate:.0f} samples/s at "
        f"batch {results['ceiling_batch']} (the server's mean batch at c=32), "
        f"{results['ceiling_batch32_samples_per_s']:.0f} at {BATCH}, "
        f"{results['batch1_samples_per_s']:.0f} at 1; "
        f"{results['ceiling_cpu_ms_per_sample']:.3f} ms CPU a sample at the reached batch"
    )
    for ours, naive in zip(results["satlearn"], results["naive"], strict=True):
        print(
            f"{ours['tensors']:6s} c={ours['concurrency']:3d} (medians of {ours['repeats']}): "
            f"{ours['requests_per_s']:.0f} vs {naive['requests_per_s']:.0f} req/s = "
            f"{ours['requests_per_s'] / naive['requests_per_s']:.2f}x naive, "
            f"{ours['requests_per_s'] / ceiling_rate:.0%} of the ceiling, "
            f"p99 {ours['p99_ms']:.1f} vs {naive['p99_ms']:.1f} ms, server CPU/request "
            f"{ours['server_cpu_ms']:.2f} (event loop {ours['loop_cpu_ms']:.2f}) vs "
            f"{naive['server_cpu_ms']:.2f} ms, client "
            f"{ours['client_cpu_ms']:.2f} / {naive['client_cpu_ms']:.2f} ms"
        )
    for kind, cold in results["cold"].items():
        print(
            f"cold {kind}: ready {cold['ready_s']:.2f} s after start, first request "
            f"{cold['first_request_ms']:.1f} ms ({kinds[0]})"
        )
    large = results["large_tensor_ms"]
    print(
        f"1024x1024x4 float32: JSON {large['json']:.0f} ms, binary {large['binary']:.0f} ms "
        f"({large['json'] / large['binary']:.1f}x; median of {large['rounds']})"
    )
    if "conv_batching_samples_per_s" in results:
        print("conv net samples/s by batch:", results["conv_batching_samples_per_s"])
    results["load_average_after"] = os.getloadavg()
    print(
        f"uvicorn {results['uvicorn_version']} with {results['uvicorn_loop']} + "
        f"{results['uvicorn_http']}; load average before {results['load_average_before']}, "
        f"after {results['load_average_after']}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    main()
