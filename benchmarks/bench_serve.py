"""The model server under load: ``satlearn serve`` (dynamic batching) against a naive server.

(a) ``satlearn serve --models DIR``: requests to the Open Inference Protocol
(KServe V2) ``POST /v2/models/mlp/infer`` are grouped by the model's batcher
(``max_batch_size`` 32, ``max_queue_delay_ms`` 2, from ``DIR/mlp/config.yaml``).
(b) The naive baseline users write today: a FastAPI app (in this file) whose
endpoint parses the same V2 JSON request and runs one ONNX Runtime forward per
request (a sync endpoint, so FastAPI runs it in its thread pool), served by
uvicorn the same way (one process, 127.0.0.1).

The model is a small MLP classifier of 4 x 16 x 16 chips (1024 -> 2048 ->
2048 -> 10, ~6.3 M weights, ONNX from torch): its batch-1 forward reads every
weight for one chip (memory-bound), the regime where batching pays, as for
most models on a GPU. The convolutional classifiers of satlearn.models gain
nothing from batching on a small CPU (samples/s flat from batch 1 to 32:
measured with ``--conv``), so a server cannot either.

The load generator (in this process: a minimal asyncio HTTP/1.1 client by
default, async httpx with ``--client httpx``) keeps ``concurrency`` requests
in flight until ``--requests`` are answered, for concurrency 1, 8, 32 and 64;
it records requests/s, p50 and p99 latency, and non-200 answers.
The ceiling is the same graph's batched forward throughput in-process (ONNX
Runtime at batch 32, no HTTP). Last, one 1024 x 1024 x 4 float32 tensor sent
to a 1 x 1 convolution model (``pix``) as V2 JSON and with the binary tensor
extension (output binary too): the median round trip of each, client
encoding included.

Run: ``.venv/bin/python benchmarks/bench_serve.py [--requests 500] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

CHIP = (4, 16, 16)
HIDDEN = 2048
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


def make_models(root: Path) -> Path:
    """``root/mlp/1`` (the load test's classifier) and ``root/pix/1`` (a 1 x 1 conv)."""
    import torch

    from satlearn.bundle import write_bundle

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(int(np.prod(CHIP)), HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, CLASSES),
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
        f"max_batch_size: {BATCH}\nmax_queue_delay_ms: 2\nmax_queue: 1024\n"
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
    """One ONNX Runtime forward per request, the V2 JSON request and answer."""
    import onnxruntime as ort
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    app = FastAPI()

    @app.get("/v2/health/ready")
    def ready() -> dict:
        return {"ready": True}

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, body: dict) -> JSONResponse:
        tensor = body["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        (y,) = session.run(None, {"input": x})
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

    return app


# -- servers -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, log: Path) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with log.open("wb") as sink:  # a file, not a pipe nobody reads (a full pipe blocks)
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not get ready in 120 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- load --------------------------------------------------------------------------------------


async def raw_load(url: str, body: bytes, *, concurrency: int, requests: int) -> dict:
    """:func:`load` with a minimal HTTP/1.1 keep-alive client on asyncio streams.

    One pre-built request, written as it is on ``concurrency`` connections; the
    answer read by its Content-Length. It costs the load generator ~10x less
    CPU per request than httpx (measured: httpx ~5 ms of CPU a request at
    concurrency 32, more than either server), so on a machine whose cores the
    client shares with the server it measures the server, not the client.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
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
    for reader, writer in connections[:8]:  # warm the model
        await one(reader, writer)

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


async def load(url: str, body: bytes, *, concurrency: int, requests: int) -> dict:
    """Keep ``concurrency`` requests in flight until ``requests`` are answered (httpx)."""
    import httpx

    latencies: list[float] = []
    failures: dict[int, int] = {}
    left = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        for _ in range(min(concurrency, 8)):  # warm connections and the model
            await client.post(url, content=body, headers=headers)

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


def ceiling(bundle: Path, batch: int = BATCH, seconds: float = 3.0) -> float:
    """Samples/s of the graph at ``batch`` in-process (ONNX Runtime, no HTTP)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((batch, *CHIP), dtype=np.float32)
    session.run(None, {"input": x})
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        session.run(None, {"input": x})
        runs += 1
    return runs * batch / (time.perf_counter() - started)


def large_tensor_times(base: str, repeats: int = 3) -> dict:
    """Median round trip of one 1024 x 1024 x 4 float32 tensor as V2 JSON and as binary."""
    import httpx

    x = np.random.default_rng(1).random(LARGE, dtype=np.float32)
    url = f"{base}/v2/models/pix/infer"
    out: dict[str, list[float]] = {"json": [], "binary": []}
    with httpx.Client(timeout=600) as client:
        for _ in range(repeats):
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
    return {kind: statistics.median(times) * 1e3 for kind, times in out.items()}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--conv", action="store_true", help="also time a conv net's batching")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal asyncio HTTP/1.1 client (default) or async httpx",
    )
    parser.add_argument("--naive", type=Path, help=argparse.SUPPRESS)  # child: the baseline
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        import uvicorn

        uvicorn.run(naive_app(args.naive), host="127.0.0.1", port=args.port, log_level="warning")
        return

    levels = [int(c) for c in args.concurrency.split(",")]
    x = np.random.default_rng(2).random((1, *CHIP), dtype=np.float32)
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [1, *CHIP],
                    "datatype": "FP32",
                    "data": x.ravel().tolist(),
                }
            ]
        }
    ).encode()
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "requests": args.requests,
        "client": args.client,
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = make_models(Path(tmp) / "models")
        bundle = root / "mlp" / "1"
        results["ceiling_samples_per_s"] = ceiling(bundle)
        results["batch1_samples_per_s"] = ceiling(bundle, batch=1)
        for kind in ("satlearn", "naive"):
            port = _free_port()
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
                command = [sys.executable, __file__, "--naive", str(bundle), "--port", str(port)]
            process = start(command, port, Path(tmp) / f"{kind}.log")
            try:
                url = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
                rows = []
                for level in levels:
                    generate = raw_load if args.client == "raw" else load
                    row = asyncio.run(
                        generate(url, body, concurrency=level, requests=args.requests)
                    )
                    rows.append(row)
                    print(
                        f"{kind:8s} c={level:3d} {row['requests_per_s']:8.1f} req/s "
                        f"p50 {row['p50_ms']:7.2f} ms p99 {row['p99_ms']:7.2f} ms "
                        f"failures {row['failures']}",
                        flush=True,
                    )
                results[kind] = rows
                if kind == "satlearn":
                    results["large_tensor_ms"] = large_tensor_times(f"http://127.0.0.1:{port}")
            finally:
                stop(process)
    if args.conv:
        results["conv_batching_samples_per_s"] = conv_batching()
    ceiling_rate = results["ceiling_samples_per_s"]
    print(
        f"ceiling (in-process, batch {BATCH}): {ceiling_rate:.0f} samples/s; "
        f"batch 1: {results['batch1_samples_per_s']:.0f}"
    )
    for ours, naive in zip(results["satlearn"], results["naive"], strict=True):
        print(
            f"c={ours['concurrency']:3d}: {ours['requests_per_s'] / naive['requests_per_s']:.2f}x "
            f"naive throughput, {ours['requests_per_s'] / ceiling_rate:.0%} of the ceiling, "
            f"p99 {ours['p99_ms']:.1f} vs {naive['p99_ms']:.1f} ms"
        )
    large = results["large_tensor_ms"]
    print(
        f"1024x1024x4 float32: JSON {large['json']:.0f} ms, binary {large['binary']:.0f} ms "
        f"({large['json'] / large['binary']:.1f}x)"
    )
    if "conv_batching_samples_per_s" in results:
        print("conv net samples/s by batch:", results["conv_batching_samples_per_s"])
    results["load_average_after"] = os.getloadavg()
    print(
        f"load average before {results['load_average_before']}, "
        f"after {results['load_average_after']}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
