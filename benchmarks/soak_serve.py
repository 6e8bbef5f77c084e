"""``satlearn serve`` under a sustained load above its capacity: nothing accepted is lost.

One server (``satlearn serve``, a subprocess on 127.0.0.1) holds a tiny 1x1
convolution model whose queue takes 8 requests (``max_queue: 8``,
``max_batch_size: 8``). The phases, each with a minimal HTTP/1.1 keep-alive
client on asyncio streams (httpx would cost more CPU than the server):

1. capacity: a closed loop of 16 connections for a few seconds; its
   answered requests/s is the server's throughput T;
2. before: a paced load at 0.3 T (normal latency);
3. overload: a paced load at 2 T for ``--duration`` seconds, spread over 64
   connections, each sending on its own schedule (late sends go at once);
4. after: 0.3 T again (has the latency recovered?).

Every answer is checked: a 200 must carry the model's output (compared with
ONNX Runtime's own, computed here), anything else must be a 503 with
Retry-After; a connection error or another status counts as lost. The
server's resident memory (VmRSS) is sampled every 0.5 s.

Run: ``.venv/bin/python benchmarks/soak_serve.py [--duration 180] [--json out.json]``
(~3.3 minutes with the default 3-minute overload). tests/reliability runs it
for 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from satlearn.testing.process import free_port, running_server

SHAPE = (1, 3, 16, 16)


def make_repo(root: Path) -> Path:
    """A model repository with one tiny model ``m`` (a 1x1 convolution, 3 -> 2 channels)."""
    from onnx import TensorProto, helper, numpy_helper

    from satlearn.bundle import write_bundle

    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (2, 3, 1, 1)).astype(np.float32)
    b = np.array([0.1, -0.1], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w", "b"], ["logits"])],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 3, None, None])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2, None, None])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    metadata = {
        "task": "semantic-segmentation",
        "bands": ["red", "green", "nir"],
        "classes": [{"id": 0, "name": "land"}, {"id": 1, "name": "water"}],
        "tile_size": 16,
    }
    write_bundle(root / "m" / "1", model_onnx=model.SerializeToString(), metadata=metadata)
    (root / "m" / "config.yaml").write_text("max_queue: 8\nmax_batch_size: 8\n")
    return root


def request_body() -> tuple[bytes, np.ndarray]:
    """A V2 JSON request for one (1, 3, 16, 16) tensor, and the answer it must get."""
    x = np.random.default_rng(1).normal(size=SHAPE).astype(np.float32)
    body = json.dumps(
        {"inputs": [{"name": "image", "datatype": "FP32", "shape": list(SHAPE),
                     "data": x.ravel().tolist()}]}
    ).encode()  # fmt: skip
    w = np.random.default_rng(0).normal(0, 0.3, (2, 3, 1, 1)).astype(np.float32)
    want = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x) + np.array([0.1, -0.1])[None, :, None, None]
    return body, want.astype(np.float32)


@contextlib.contextmanager
def running(models: Path, log: Path, *args: str):
    """``satlearn serve --models MODELS`` on a free port: yields (process, base URL)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "COVERAGE"))}
    command = [sys.executable, "-m", "satlearn", "serve", "--models", str(models)]
    command += ["--port", str(port), *args]
    base = f"http://127.0.0.1:{port}"
    ready = f"{base}/v2/health/ready"
    with running_server(command, ready_url=ready, log=log, timeout_s=90, env=env) as proc:
        yield proc, base


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def _exchange(reader, writer, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        if key:
            headers[key.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, headers, body


async def drive(
    base: str,
    body: bytes,
    want: np.ndarray,
    *,
    rate: float | None,
    seconds: float,
    connections: int,
) -> dict[str, Any]:
    """Load for ``seconds``: paced at ``rate`` req/s overall, or a closed loop if None."""
    host, port = base.removeprefix("http://").split(":")
    request = (
        f"POST /v2/models/m/infer HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    ok_ms: list[float] = []
    refused_ms: list[float] = []
    wrong = lost = 0
    other: dict[int, int] = {}
    end = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal wrong, lost
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            lost += 1
            return
        interval = connections / rate if rate else 0.0
        due = time.perf_counter() + (index / connections) * interval
        while True:
            now = time.perf_counter()
            if rate:
                if due > now:
                    await asyncio.sleep(due - now)
                due += interval
            started = time.perf_counter()
            if started >= end:
                break
            try:
                status, headers, answer = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError):
                lost += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
                continue
            ms = (time.perf_counter() - started) * 1e3
            if status == 200:
                got = np.asarray(json.loads(answer)["outputs"][0]["data"], np.float32)
                if not np.allclose(got.reshape(want.shape), want, atol=1e-4):
                    wrong += 1
                ok_ms.append(ms)
            elif status == 503 and b"retry-after" in headers:
                refused_ms.append(ms)
            else:
                other[status] = other.get(status, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    elapsed = time.perf_counter() - started

    def pct(values: list[float], q: float) -> float | None:
        return float(np.percentile(values, q)) if values else None

    return {
        "offered_per_s": rate,
        "seconds": elapsed,
        "answered_per_s": len(ok_ms) / elapsed,
        "ok": len(ok_ms),
        "refused": len(refused_ms),
        "wrong": wrong,
        "lost": lost,
        "other": other,
        "ok_p50_ms": pct(ok_ms, 50),
        "ok_p99_ms": pct(ok_ms, 99),
        "refused_p99_ms": pct(refused_ms, 99),
    }


def soak(models: Path, log: Path, *, duration: float, phase_s: float = 3.0) -> dict[str, Any]:
    """The four phases against one server; the figures of each and the RSS samples."""
    body, want = request_body()
    with running(models, log) as (proc, base):
        samples: list[int] = []

        async def main() -> dict[str, Any]:
            async def sample() -> None:
                while True:
                    samples.append(rss_bytes(proc.pid))
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            await drive(base, body, want, rate=None, seconds=1.0, connections=4)  # warm
            capacity = await drive(base, body, want, rate=None, seconds=phase_s, connections=16)
            throughput = max(capacity["answered_per_s"], 1.0)
            before = await drive(
                base, body, want, rate=0.3 * throughput, seconds=phase_s, connections=4
            )
            rss_start = samples[-1]
            overload = await drive(
                base, body, want, rate=2 * throughput, seconds=duration, connections=64
            )
            rss_end = samples[-1]
            after = await drive(
                base, body, want, rate=0.3 * throughput, seconds=phase_s, connections=4
            )
            sampler.cancel()
            return {
                "capacity": capacity,
                "before": before,
                "overload": overload,
                "after": after,
                "rss_start_mib": rss_start / 2**20,
                "rss_end_mib": rss_end / 2**20,
                "rss_max_mib": max(samples) / 2**20,
                "load": os.getloadavg(),
            }

        return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="overload seconds")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        models = make_repo(Path(tmp) / "models")
        figures = soak(models, Path(tmp) / "serve.log", duration=args.duration)
    for phase in ("capacity", "before", "overload", "after"):
        row = figures[phase]
        print(
            f"{phase:9s} offered {row['offered_per_s'] or 0:7.1f}/s answered "
            f"{row['answered_per_s']:7.1f}/s  ok {row['ok']:6d} refused {row['refused']:6d} "
            f"wrong {row['wrong']} lost {row['lost']} other {row['other']}  "
            f"p50 {row['ok_p50_ms'] or 0:6.1f} ms p99 {row['ok_p99_ms'] or 0:6.1f} ms  "
            f"refusal p99 {row['refused_p99_ms'] or 0:6.1f} ms"
        )
    print(
        f"RSS {figures['rss_start_mib']:.0f} -> {figures['rss_end_mib']:.0f} MiB over the "
        f"overload (max {figures['rss_max_mib']:.0f}); load average {figures['load'][0]:.1f}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
