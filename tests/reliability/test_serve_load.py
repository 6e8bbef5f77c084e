"""``satlearn serve`` under load above capacity, slow clients and an oversized upload.

The soak (benchmarks/soak_serve.py, 3 minutes there) runs 10 s here: every
accepted request answered correctly, the excess refused with 503 and
Retry-After, memory flat, latency back to normal afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def soak_serve():
    sys.path.insert(0, str(BENCH))
    try:
        import soak_serve
    finally:
        sys.path.remove(str(BENCH))
    return soak_serve


@pytest.fixture(scope="module")
def models(soak_serve, tmp_path_factory):
    return soak_serve.make_repo(tmp_path_factory.mktemp("soak") / "models")


def test_overload_loses_no_accepted_request(soak_serve, models, tmp_path):
    figures = soak_serve.soak(models, tmp_path / "serve.log", duration=10.0, phase_s=2.0)
    for phase in ("capacity", "before", "overload", "after"):
        row = figures[phase]
        assert row["wrong"] == 0 and row["lost"] == 0 and row["other"] == {}, (phase, row)
    overload = figures["overload"]
    assert overload["ok"] > 0 and overload["refused"] > 0, overload
    assert overload["refused_p99_ms"] < 500, overload  # refused at once, not after a wait
    assert figures["rss_end_mib"] - figures["rss_start_mib"] < 30, figures
    before, after = figures["before"]["ok_p50_ms"], figures["after"]["ok_p50_ms"]
    assert after < 3 * before + 20, (before, after)


async def _slowloris(host, port, connections, seconds):
    """``connections`` clients sending a request's headers a byte at a time, never finishing."""
    head = f"POST /v2/models/m/infer HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\n"
    writers = []
    for _ in range(connections):
        _, writer = await asyncio.open_connection(host, port)
        writers.append(writer)
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        for writer in writers:
            if not writer.is_closing():
                writer.write(head[i % len(head)].encode())
        i += 1
        await asyncio.sleep(0.1)
    for writer in writers:
        writer.close()


def test_slow_clients_do_not_stall_the_others(soak_serve, models, tmp_path):
    body, want = soak_serve.request_body()
    with soak_serve.running(models, tmp_path / "serve.log") as (_, base):
        host, port = base.removeprefix("http://").split(":")

        async def main():
            slow = asyncio.create_task(_slowloris(host, int(port), 200, 4.0))
            await asyncio.sleep(0.5)
            fine = await soak_serve.drive(base, body, want, rate=50.0, seconds=3.0, connections=2)
            await slow
            return fine

        fine = asyncio.run(main())
    assert fine["ok"] > 50 and fine["lost"] == 0 and fine["wrong"] == 0, fine
    assert fine["ok_p99_ms"] < 1000, fine


def test_an_oversized_upload_is_413_without_reading_it_all(soak_serve, models, tmp_path):
    with soak_serve.running(models, tmp_path / "serve.log", "--max-body-mb", "1") as (_, base):
        host, port = base.removeprefix("http://").split(":")

        async def main():
            reader, writer = await asyncio.open_connection(host, int(port))
            declared = 512 << 20  # 512 MiB declared; 2 MiB sent at most
            writer.write(
                f"POST /v2/models/m/infer HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode()
            )
            started = time.monotonic()
            sent = 0
            try:  # a declared length past the limit may be refused before any body
                status_line = await asyncio.wait_for(reader.readline(), 2)
            except TimeoutError:
                # Not yet: 1.5 MiB, past the 1 MiB limit, then wait for the answer.
                sent = 3 << 19
                with contextlib.suppress(OSError):
                    writer.write(b" " * sent)
                    await asyncio.wait_for(writer.drain(), 5)
                status_line = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            return status_line, sent, time.monotonic() - started

        status_line, sent, seconds = asyncio.run(main())
    assert b" 413 " in status_line, status_line
    assert sent <= (2 << 20) and seconds < 10
