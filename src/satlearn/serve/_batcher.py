"""Dynamic batching: one bounded queue per model, requests grouped and run in threads.

A request is queued at once or refused at once (:class:`OverloadedError`), so
latency stays bounded under overload. The worker takes the first waiting
request, waits at most ``max_queue_delay_ms`` for up to ``max_batch_size - 1``
more, and runs requests whose inputs agree in every dimension but the first
as one forward pass (concatenated on axis 0; split back afterwards). The pass
runs in a worker thread (ONNX Runtime releases the GIL), so the event loop
keeps parsing and queueing while a batch runs; ``instances`` passes may run at
once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from satlearn.errors import OverloadedError
from satlearn.serve._settings import BatchSettings

__all__ = ["Batcher", "RunFn"]

#: Runs a model on a dict of batched inputs and returns its outputs.
RunFn = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


class Batcher:
    """The dynamic batcher of one loaded model version.

    Parameters
    ----------
    run : callable
        ``run(inputs) -> outputs``, called in a worker thread; thread-safe for
        ``settings.instances`` concurrent calls.
    settings : BatchSettings
    batchable : bool
        Whether the model's inputs have a free first (batch) dimension; when
        not, every request runs alone.
    on_batch, on_queue : callable, optional
        Told each batch's size and the queue depth (metrics).
    """

    def __init__(
        self,
        run: RunFn,
        settings: BatchSettings,
        *,
        batchable: bool = True,
        on_batch: Callable[[int], None] | None = None,
        on_queue: Callable[[int], None] | None = None,
    ) -> None:
        self._run = run
        self.settings = settings
        self._batchable = batchable
        self._on_batch = on_batch or (lambda n: None)
        self._on_queue = on_queue or (lambda n: None)
        self._queue: asyncio.Queue[tuple[dict[str, np.ndarray], asyncio.Future]] | None = None
        self._worker: asyncio.Task | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._running: set[asyncio.Task] = set()
        self._retired = threading.Event()

    @property
    def depth(self) -> int:
        """Requests waiting in the queue."""
        return self._queue.qsize() if self._queue is not None else 0

    def _start(self) -> None:
        # Made on first use, inside the event loop that serves the requests.
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=self.settings.max_queue)
            self._slots = asyncio.Semaphore(self.settings.instances)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.settings.instances, thread_name_prefix="satlearn-serve"
            )
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def submit(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Queue one request and wait for its outputs.

        Raises
        ------
        OverloadedError
            The queue holds ``max_queue`` requests already.
        """
        self._start()
        assert self._queue is not None
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((inputs, future))
        except asyncio.QueueFull:
            raise OverloadedError(
                f"the model's queue is full ({self.settings.max_queue} requests waiting); "
                "retry later"
            ) from None
        self._on_queue(self._queue.qsize())
        return await future

    def retire(self) -> None:
        """Stop once every queued request is answered (called from any thread)."""
        self._retired.set()

    async def drain(self) -> None:
        """Wait until queued and running requests are answered, then stop the worker."""
        self.retire()
        if self._worker is not None:
            await self._worker
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _work(self) -> None:
        assert self._queue is not None and self._slots is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                # A free instance first, then the batch: while every instance is busy the
                # queue fills, and the next batch takes all it can at once.
                await self._slots.acquire()
                try:
                    first = await asyncio.wait_for(self._queue.get(), 0.25)
                except TimeoutError:
                    self._slots.release()
                    if self._retired.is_set() and self._queue.empty():
                        return
                    continue
                batch = [first]
                deadline = loop.time() + self.settings.max_queue_delay_ms / 1000
                while self._batchable and len(batch) < self.settings.max_batch_size:
                    if not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                self._on_queue(self._queue.qsize())
                # Requests that timed out while waiting are not run.
                batch = [(x, f) for x, f in batch if not f.done()]
                groups = _groups(batch) if self._batchable else [[b] for b in batch]
                if not groups:
                    self._slots.release()
                for i, group in enumerate(groups):
                    if i:  # the first group runs on the instance acquired above
                        await self._slots.acquire()
                    task = loop.create_task(self._answer(group))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
        finally:
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None

    async def _answer(self, group: list[tuple[dict[str, np.ndarray], asyncio.Future]]) -> None:
        assert self._slots is not None
        try:
            self._on_batch(len(group))
            loop = asyncio.get_running_loop()
            try:
                answers = await loop.run_in_executor(self._executor, _run_group, self._run, group)
            except Exception as err:
                if len(group) > 1:
                    # One odd request must not fail its neighbours: run each alone.
                    answers = []
                    for item in group:
                        try:
                            answers.append(
                                (
                                    await loop.run_in_executor(
                                        self._executor, _run_group, self._run, [item]
                                    )
                                )[0]
                            )
                        except Exception as one:
                            answers.append(one)
                else:
                    answers = [err] * len(group)
            for (_, future), answer in zip(group, answers, strict=True):
                if future.done():
                    continue
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
        finally:
            self._slots.release()


def _key(inputs: dict[str, np.ndarray]) -> tuple:
    return tuple(sorted((k, v.shape[1:], v.dtype.str) for k, v in inputs.items()))


def _groups(batch: list[tuple[dict[str, np.ndarray], Any]]) -> list[list]:
    """Requests whose inputs agree in all but the first dimension, in arrival order."""
    groups: dict[tuple, list] = {}
    for item in batch:
        inputs = item[0]
        if any(v.ndim == 0 for v in inputs.values()):
            groups[("alone", id(item))] = [item]
        else:
            groups.setdefault(_key(inputs), []).append(item)
    return list(groups.values())


def _run_group(run: RunFn, group: list[tuple[dict[str, np.ndarray], Any]]) -> list[Any]:
    """Run a group as one pass and split each output back per request."""
    if len(group) == 1:
        return [run(group[0][0])]
    names = list(group[0][0])
    counts = [len(inputs[names[0]]) for inputs, _ in group]
    joined = {n: np.concatenate([inputs[n] for inputs, _ in group], axis=0) for n in names}
    outputs = run(joined)
    total = sum(counts)
    if any(np.ndim(v) == 0 or len(v) != total for v in outputs.values()):
        # The graph does not keep the batch on axis 0: run each request alone.
        return [run(inputs) for inputs, _ in group]
    cuts = np.cumsum(counts)[:-1]
    split = {n: np.split(v, cuts, axis=0) for n, v in outputs.items()}
    return [{n: split[n][i] for n in outputs} for i in range(len(group))]
