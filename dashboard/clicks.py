"""Group commit for stable-link clicks: many clicks, one transaction, no click lost silently.

Each click is queued and its request waits until the batch holding it is
committed, so a click is durable before the customer is redirected, while a
burst of clicks costs one fsync rather than one each.

When the log cannot take a batch (locked, read-only, unreachable) the batch
stays queued and is written again, with a growing pause, until the log
recovers: the click is recorded late rather than lost.  A request that could
not wait that long is answered with the desk's 503 page, and its click is then
recorded with status 503, what the customer really got (`answer_instead`).
Only when more than `max_pending` clicks wait at once are the oldest dropped;
they are counted in `dropped` and logged, never silently forgotten.  Clicks
still queued when the process stops are lost with it.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from dashboard.store import Click

MAX_BATCH = 500
MAX_PENDING = 100_000

log = logging.getLogger(__name__)


class PendingClick:
    """One click on its way to the log.

    `settled` resolves True once its row is committed, or False at its first
    failed attempt, so a waiting request learns at once that the log is in
    trouble; a click whose attempt failed is still retried until committed.
    """

    __slots__ = ("_changed", "attempt", "attempts", "click", "settled", "state", "status")

    def __init__(self, click: Click, changed: threading.Condition) -> None:
        self.click = click
        self.status = click.status
        self.state = "queued"  # queued -> writing -> done (or back to queued after a failed attempt)
        self.settled: Future[bool] = Future()
        self.attempt: Future[bool] | None = None  # made only when someone waits on the write in progress
        self.attempts = 0
        self._changed = changed

    @property
    def committed(self) -> bool:
        return self.state == "done"

    def result(self, timeout: float | None = None) -> None:
        """Wait until the row is committed, retries included (tests, benchmarks)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.state in ("done", "dropped"), timeout):
                raise TimeoutError(f"the click on link {self.click.link_id} was not recorded within {timeout} s")
        if self.state == "dropped":
            raise RuntimeError(f"the click on link {self.click.link_id} was dropped: too many clicks waited for the log")

    def row(self) -> Click:
        return self.click if self.status == self.click.status else dataclasses.replace(self.click, status=self.status)


class ClickWriter:
    def __init__(
        self,
        write: Callable[[Sequence[Click]], None],
        *,
        retry_after: float = 0.25,
        max_retry_after: float = 5.0,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._write = write
        self._retry_after = retry_after
        self._max_retry_after = max_retry_after
        self._max_pending = max_pending
        self._queue: collections.deque[PendingClick] = collections.deque()
        self._writing: list[PendingClick] = []
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self.recorded = 0  # clicks committed
        self.failed_attempts = 0  # batches the log refused (each retried)
        self.dropped = 0  # clicks given up because too many waited at once
        self._thread = threading.Thread(target=self._run, name="share-desk-clicks", daemon=True)
        self._thread.start()

    def submit(self, click: Click) -> PendingClick:
        pending = PendingClick(click, self._changed)
        lost: list[PendingClick] = []
        with self._changed:
            self._queue.append(pending)
            while len(self._queue) > self._max_pending:
                dropped = self._queue.popleft()
                dropped.state = "dropped"
                lost.append(dropped)
                self.dropped += 1
            self._changed.notify_all()
        for dropped in lost:
            _resolve(dropped.settled, False)
            log.error("Share Desk dropped a stable-link click (link %s): %s clicks were waiting for the log.", dropped.click.link_id, self._max_pending)
        return pending

    def answer_instead(self, pending: PendingClick, status: int) -> Future[bool] | None:
        """The request is answered `status` instead of what was decided.

        Returns None when the row will say `status` (the click was still
        queued: it is recorded so once the log takes it), or the attempt being
        written right now, whose result tells whether the decided answer was
        committed after all.
        """
        with self._changed:
            if pending.state in ("queued", "dropped"):
                pending.status = status
                return None
            if pending.state == "writing":
                if pending.attempt is None:
                    pending.attempt = Future()
                return pending.attempt
        done: Future[bool] = Future()
        done.set_result(True)
        return done

    @property
    def pending(self) -> int:
        with self._changed:
            return len(self._queue) + len(self._writing)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted click is committed (or dropped); True when none is left."""
        self._wake.set()  # skip the pause before the next retry
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._writing, timeout)

    def _take(self) -> list[PendingClick]:
        with self._changed:
            self._changed.wait_for(lambda: bool(self._queue))
            batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            for pending in batch:
                pending.state = "writing"
                pending.attempts += 1
            self._writing = batch
            return batch

    def _run(self) -> None:
        pause = self._retry_after
        while True:
            batch = self._take()
            with self._changed:
                rows = [p.row() for p in batch]
            try:
                self._write(rows)
            except Exception as exc:
                self._finish(batch, committed=False)
                if self.failed_attempts == 1 or pause >= self._max_retry_after:
                    log.warning("Share Desk could not record %d stable-link click(s), retrying: %s", len(batch), exc)
                self._wake.wait(pause)
                self._wake.clear()
                pause = min(pause * 2, self._max_retry_after)
                continue
            pause = self._retry_after
            self._finish(batch, committed=True)

    def _finish(self, batch: list[PendingClick], *, committed: bool) -> None:
        """One attempt is over: the batch is done, or back at the head of the queue."""
        with self._changed:
            attempts = [p.attempt for p in batch if p.attempt is not None]
            for pending in batch:
                pending.state = "done" if committed else "queued"
                pending.attempt = None
            if committed:
                self.recorded += len(batch)
            else:
                self.failed_attempts += 1
                self._queue.extendleft(reversed(batch))  # first in, first written, as before
            self._writing = []
            self._changed.notify_all()
        for attempt in attempts:
            _resolve(attempt, committed)
        for pending in batch:
            _resolve(pending.settled, committed)


def _resolve(future: Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
