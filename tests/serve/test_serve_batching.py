"""Dynamic batching and backpressure: in process, and a burst against the real server."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import pytest
from serve_models import add_version, expected, running_server

from satlearn.errors import InvalidInputError, OverloadedError, RequestTimeoutError
from satlearn.serve import Batcher, BatchSettings, ModelRepository, ServeSettings

pytestmark = pytest.mark.timeout(120)


def _doubler(calls):
    def run(inputs):
        calls.append(len(inputs["x"]))
        time.sleep(0.01)
        if np.any(inputs["x"] < 0):
            raise InvalidInputError("negative input")
        return {"y": inputs["x"] * 2}

    return run


def test_concurrent_requests_run_together_and_are_answered_individually():
    calls = []

    async def main():
        batcher = Batcher(_doubler(calls), BatchSettings(max_queue_delay_ms=20))
        xs = [np.full((1, 3), i, np.float32) for i in range(10)]
        outs = await asyncio.gather(*(batcher.submit({"x": x}) for x in xs))
        odd = await asyncio.gather(
            batcher.submit({"x": np.ones((2, 3), np.float32)}),
            batcher.submit({"x": np.ones((1, 4), np.float32)}),  # other dims: run apart
        )
        await batcher.drain()
        return xs, outs, odd

    xs, outs, odd = asyncio.run(main())
    for x, out in zip(xs, outs, strict=True):
        np.testing.assert_array_equal(out["y"], x * 2)
    assert sum(calls[: len(calls) - 2]) == 10 and len(calls) - 2 < 10
    assert odd[0]["y"].shape == (2, 3) and odd[1]["y"].shape == (1, 4)


def _closed_loop(batcher, rounds_by_client):
    """Clients that each send their next request when the last is answered."""

    async def client(rounds):
        for _ in range(rounds):
            await batcher.submit({"x": np.ones((1, 2), np.float32)})

    async def main():
        started = time.perf_counter()
        await asyncio.gather(*(client(r) for r in rounds_by_client))
        elapsed = time.perf_counter() - started
        await batcher.drain()
        return elapsed

    return asyncio.run(main())


def test_a_batch_waits_for_the_clients_that_are_sending_not_for_a_full_batch():
    # 8 clients and room for 32: each batch starts once all 8 are back, long before
    # the 1 s delay (waiting for 32 would cost 1 s a batch, 10 s in all).
    calls = []
    batcher = Batcher(_doubler(calls), BatchSettings(max_batch_size=32, max_queue_delay_ms=1000))
    elapsed = _closed_loop(batcher, [10] * 8)
    assert calls == [8] * 10
    assert elapsed < 5


def test_when_clients_leave_one_wait_runs_out_and_the_next_batches_do_not_wait():
    calls = []
    batcher = Batcher(_doubler(calls), BatchSettings(max_batch_size=32, max_queue_delay_ms=1000))
    elapsed = _closed_loop(batcher, [8, 8] + [3] * 6)
    # Three batches of all 8, one that waited the delay for the 6 gone, then pairs at once.
    assert calls == [8, 8, 8, 2, 2, 2, 2, 2]
    assert elapsed < 1 + 4


def test_a_full_queue_refuses_at_once_and_a_bad_request_fails_alone():
    calls = []

    async def main():
        batcher = Batcher(_doubler(calls), BatchSettings(max_queue=2, max_batch_size=1))
        tasks = [asyncio.ensure_future(batcher.submit({"x": np.ones((1, 1))})) for _ in range(6)]
        done = await asyncio.gather(*tasks, return_exceptions=True)
        solo = Batcher(_doubler(calls), BatchSettings(max_queue_delay_ms=20))
        mixed = await asyncio.gather(
            solo.submit({"x": np.ones((1, 1))}),
            solo.submit({"x": -np.ones((1, 1))}),
            return_exceptions=True,
        )
        return done, mixed

    done, mixed = asyncio.run(main())
    refused = [d for d in done if isinstance(d, OverloadedError)]
    assert refused and len(refused) < 6
    assert all(isinstance(d, dict | OverloadedError) for d in done)
    assert isinstance(mixed[0], dict) and isinstance(mixed[1], InvalidInputError)


def test_a_slow_answer_is_a_timeout(tmp_path):
    add_version(tmp_path, "seg", "1", 0.0)
    repo = ModelRepository(tmp_path, request_timeout_s=0.05)
    repo.scan()
    model = repo.get("seg")
    model.batcher._run = lambda inputs: time.sleep(0.5) or {}

    async def main():
        with pytest.raises(RequestTimeoutError, match=r"0\.05 s"):
            await model.infer({"image": np.zeros((1, 3, 4, 4), np.float32)})

    asyncio.run(main())


def test_a_burst_beyond_the_queue_is_503_with_retry_after(tmp_path):
    add_version(tmp_path, "slow", "1", 0.0, layers=6, width=16)
    (tmp_path / "slow" / "config.yaml").write_text("max_queue: 2\nmax_batch_size: 2\n")
    x = np.random.default_rng(0).normal(size=(1, 3, 96, 96)).astype(np.float32)
    want = expected(tmp_path / "slow" / "1", x)
    head = (
        '{"inputs":[{"name":"image","datatype":"FP32","shape":[1,3,96,96],'
        f'"parameters":{{"binary_data_size":{x.nbytes}}}}}],'
        '"outputs":[{"name":"logits","parameters":{"binary_data":true}}]}'
    ).encode()
    with running_server(tmp_path, log=tmp_path / "log") as srv:

        async def burst():
            async with httpx.AsyncClient(timeout=60) as c:
                return await asyncio.gather(
                    *(
                        c.post(
                            f"{srv.url}/v2/models/slow/infer",
                            content=head + x.tobytes(),
                            headers={"Inference-Header-Content-Length": str(len(head))},
                        )
                        for _ in range(40)
                    )
                )

        answers = asyncio.run(burst())
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 503} and 200 in codes and 503 in codes, codes
    for r in answers:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "1" and "queue is full" in r.json()["error"]
        else:
            size = int(r.headers["inference-header-content-length"])
            got = np.frombuffer(r.content[size:], np.float32).reshape(want.shape)
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_settings_from_yaml(tmp_path):
    (tmp_path / "serve.yaml").write_text("models: repo\nport: 9000\noverload_status: 429\n")
    settings = ServeSettings.from_yaml(tmp_path / "serve.yaml", port=9100)
    assert settings.models == tmp_path / "repo" and settings.port == 9100
    assert settings.overload_status == 429 and settings.host == "127.0.0.1"
    (tmp_path / "bad.yaml").write_text("models: repo\noverload_status: 500\n")
    with pytest.raises(InvalidInputError, match="overload_status"):
        ServeSettings.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(InvalidInputError, match="max_queue"):
        BatchSettings.from_mapping({"max_queue": 0}, "here")
