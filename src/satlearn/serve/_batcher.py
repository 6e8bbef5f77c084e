"""Dynamic batching: one bounded queue per model, requests grouped and run in threads.

A request is queued at once or refused at once (:class:`OverloadedError`), so
latency stays bounded under overload. The worker takes the first waiting
request, waits at most ``max_queue_delay_ms`` for the others it expects (as
many as recently waited at once, up to ``max_batch_size``), and runs requests
whose inputs agree in every dimension but the first as one forward pass
(concatenated on axis 0; split back afterwards). The pass runs in a worker
thread (ONNX Runtime releases the GIL), so the event loop keeps parsing and
queueing while a batch runs; ``instances`` passes may run at once.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import math
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
        # A deque and one Event rather than an asyncio.Queue: a queue get under
        # asyncio.wait_for costs a task and a timer per request; here the worker
        # sleeps on the Event and is woken once per batch (see ``_want``).
        self._pending: collections.deque[tuple[dict[str, np.ndarray], asyncio.Future]] = (
            collections.deque()
        )
        self._wake: asyncio.Event | None = None
        #: How many waiting requests wake the worker: 1 while it waits for a first
        #: request, the rest of a full batch while it gathers one.
        self._want = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._running: set[asyncio.Task] = set()
        self._retired = threading.Event()
        self._filled = threading.Event()
        self._recent_batch = 1.0
        #: Requests submitted and not answered yet (on the event loop), and the most
        #: of them seen at once since a wait last ran out (_shrink): about how many
        #: clients are sending. A batch waits for them, not for max_batch_size, so a
        #: crowd smaller than a batch does not pay the whole delay every time. (A
        #: decay of 5 % a batch started batches one request short of the crowd.)
        self._inside = 0
        self._crowd = 1.0
        #: Requests in batches that run now (their clients cannot send meanwhile).
        self._running_requests = 0
        self._running_lock = threading.Lock()

    @property
    def depth(self) -> int:
        """Requests waiting in the queue."""
        return len(self._pending)

    def _worth_waiting(self, delay_s: float) -> bool:
        """Whether to wait up to the queue delay for company.

        Only while recent batches held more than one request: a client sending
        one request at a time would otherwise pay the whole delay on every one
        (at concurrency 1 the server was 27 % slower than one forward per
        request). A rising load turns the wait back on by itself: requests that
        arrive while a batch runs make the next batch bigger.
        """
        return delay_s > 0 and not self._retired.is_set() and self._recent_batch >= 1.5

    def _count(self, size: int) -> None:
        # An exponential mean over the last few batches (read by _worth_waiting).
        self._recent_batch = 0.8 * self._recent_batch + 0.2 * size

    def _target(self) -> int:
        """How many waiting requests make the next batch worth starting at once.

        The requests expected soon: the recent crowd less those running now,
        at most a full batch. At concurrency 32 the batch waits for all 32
        (the last arrive ~4 ms after the first, while their answers go out)
        instead of splitting them in groups of ~20, each slower a sample.
        """
        size = self.settings.max_batch_size if self._batchable else 1
        return max(1, min(size, math.ceil(self._crowd) - self._running_requests))

    def _shrink(self, taken: int) -> None:
        # A wait that ran out: fewer clients than expected are sending. Those that came
        # within the delay are the crowd now, so the next batches do not wait for the
        # ones that left.
        self._crowd = max(1.0, float(len(self._pending) + taken + self._running_requests))

    def check_room(self) -> None:
        """Raise :class:`OverloadedError` now if the queue is full.

        The HTTP path asks this before it reads and decodes a request's body, so
        a refusal under overload costs little of the event loop that also has to
        answer the accepted requests (their goodput collapsed otherwise).
        """
        if len(self._pending) >= self.settings.max_queue:
            raise OverloadedError(
                f"the model's queue is full ({self.settings.max_queue} requests waiting); "
                "retry later"
            )

    def _start(self) -> None:
        # Made on first use, inside the event loop that serves the requests.
        if self._wake is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._slots = asyncio.Semaphore(self.settings.instances)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.settings.instances, thread_name_prefix="satlearn-serve"
            )
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def submit(
        self, inputs: dict[str, np.ndarray], *, timeout_s: float | None = None
    ) -> dict[str, np.ndarray]:
        """Queue one request and wait for its outputs.

        Parameters
        ----------
        inputs : dict of str to numpy.ndarray
        timeout_s : float, optional
            Give up after this long (:class:`TimeoutError`); a request given up
            while still queued is not run.

        Raises
        ------
        OverloadedError
            The queue holds ``max_queue`` requests already.
        TimeoutError
            No answer within ``timeout_s``.
        """
        self._start()
        assert self._wake is not None and self._loop is not None
        self.check_room()
        future: asyncio.Future = self._loop.create_future()
        # A timer handle, not asyncio.wait_for (a task per request).
        timer = None if timeout_s is None else self._loop.call_later(timeout_s, _expire, future)
        self._pending.append((inputs, future))
        self._inside += 1
        self._crowd = max(self._crowd, self._inside)
        self._on_queue(len(self._pending))
        if len(self._pending) >= self._target():
            self._filled.set()  # a worker thread waiting for the rest of a batch
        if len(self._pending) >= self._want:
            self._wake.set()
        try:
            return await future
        finally:
            self._inside -= 1
            if timer is not None:
                timer.cancel()

    def retire(self) -> None:
        """Stop once every queued request is answered (called from any thread)."""
        self._retired.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            # A closed loop (RuntimeError) has no worker waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def drain(self) -> None:
        """Wait until queued and running requests are answered, then stop the worker."""
        self.retire()
        if self._worker is not None:
            await self._worker
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _wait(self, want: int, deadline: float | None = None) -> None:
        """Sleep until ``want`` requests wait, the deadline passes or the batcher retires."""
        assert self._wake is not None and self._loop is not None
        self._want = want
        self._wake.clear()
        timer = None if deadline is None else self._loop.call_at(deadline, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            self._want = 1
            if timer is not None:
                timer.cancel()

    async def _work(self) -> None:
        assert self._slots is not None
        loop = asyncio.get_running_loop()
        pending = self._pending
        delay_s = self.settings.max_queue_delay_ms / 1000
        try:
            while True:
                # A free instance first, then the batch: while every instance is busy the
                # queue fills, and the next batch takes all it can at once.
                await self._slots.acquire()
                while not pending and not self._retired.is_set():
                    await self._wait(1)
                if not pending:  # retired and every request answered
                    self._slots.release()
                    return
                try:
                    batch = [pending.popleft()]
                except IndexError:  # another instance's thread took it (_run_chain)
                    self._slots.release()
                    continue
                want = self._target() - 1  # one is taken already
                if len(pending) < want and self._worth_waiting(delay_s):
                    await self._wait(want, loop.time() + delay_s)
                    if len(pending) < want:
                        self._shrink(taken=1)
                groups = self._take(batch)
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
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._run_chain, loop, group)
        finally:
            self._slots.release()

    def _run_chain(self, loop: asyncio.AbstractEventLoop, group: list) -> None:
        """In a worker thread: run ``group``, then every full batch that waits.

        Answers go back to the event loop in one callback per group, and while a
        full batch is queued the thread takes it itself (the deque is safe to pop
        from any thread) instead of returning to the loop for it: under overload
        the loop is busy refusing requests, and each hop through it cost the model
        one of its turns (goodput fell to a tenth of capacity).
        """
        pending = self._pending
        delay_s = self.settings.max_queue_delay_ms / 1000
        groups = [group]
        while groups:
            for one in groups:
                self._on_batch(len(one))
                answers = _run_safely(self._run, one)
                with self._running_lock:
                    self._running_requests -= len(one)
                loop.call_soon_threadsafe(_resolve, one, answers)
            if not self._batchable:
                return
            # The same wait as the loop's: up to max_queue_delay_ms for the expected
            # batch, woken by submit() when the queue holds it (a busy loop is late).
            if len(pending) < self._target() and self._worth_waiting(delay_s):
                self._filled.clear()
                if len(pending) < self._target() and not self._filled.wait(delay_s):
                    # (again first: submit may have set it just before the clear)
                    self._shrink(taken=0)
            if not pending:
                return
            groups = self._take([])

    def _take(self, batch: list) -> list[list]:
        """``batch`` filled from the queue up to a full one, in groups that run together.

        Called from the event loop and from worker threads: the deque's pops are
        atomic, and another instance may take the last requests between a length
        check and a pop. Requests that timed out while waiting are not run (one
        that expires after this check is skipped by _resolve).
        """
        size = self.settings.max_batch_size if self._batchable else 1
        with contextlib.suppress(IndexError):
            while len(batch) < size:
                batch.append(self._pending.popleft())
        self._count(len(batch))
        self._on_queue(len(self._pending))
        batch = [(x, f) for x, f in batch if not f.done()]
        with self._running_lock:
            self._running_requests += len(batch)
        return _groups(batch) if self._batchable else [[b] for b in batch]


def _run_safely(run: RunFn, group: list) -> list[Any]:
    """The group's answers; one odd request must not fail its neighbours."""
    try:
        return _run_group(run, group)
    except Exception as err:
        if len(group) == 1:
            return [err]
    answers: list[Any] = []
    for item in group:
        try:
            answers.append(_run_group(run, [item])[0])
        except Exception as one:
            answers.append(one)
    return answers


def _resolve(group: list, answers: list[Any]) -> None:
    """On the event loop: each request's answer (or error) to its future."""
    for (_, future), answer in zip(group, answers, strict=True):
        if future.done():
            continue
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


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
