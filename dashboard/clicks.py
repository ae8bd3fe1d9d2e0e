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

    `committed` resolves once its row is committed (it never fails: a failed
    attempt is retried); `failed_once` resolves at the first failed attempt, so
    a waiting request learns at once that the log is in trouble.
    """

    def __init__(self, click: Click) -> None:
        self.click = click
        self.status = click.status
        self.state = "queued"  # queued -> writing -> done (or back to queued after a failed attempt)
        self.committed: Future[None] = Future()
        self.failed_once: Future[None] = Future()
        self.attempt: Future[bool] | None = None  # the write in progress: True once committed
        self.attempts = 0

    def result(self, timeout: float | None = None) -> None:
        """Wait until the row is committed (tests, benchmarks)."""
        self.committed.result(timeout)

    def row(self) -> Click:
        return dataclasses.replace(self.click, status=self.status)


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
        pending = PendingClick(click)
        with self._changed:
            self._queue.append(pending)
            while len(self._queue) > self._max_pending:
                lost = self._queue.popleft()
                lost.state = "dropped"
                _resolve(lost.failed_once, None)
                self.dropped += 1
                log.error("Share Desk dropped a stable-link click (link %s): %s clicks were waiting for the log.", lost.click.link_id, self._max_pending)
            self._changed.notify_all()
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
                assert pending.attempt is not None
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
                pending.attempt = Future()
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
                with self._changed:
                    self.failed_attempts += 1
                    for pending in batch:
                        pending.state = "queued"
                    self._queue.extendleft(reversed(batch))  # first in, first written, as before
                    self._writing = []
                    self._changed.notify_all()
                for pending in batch:
                    assert pending.attempt is not None
                    _resolve(pending.attempt, False)
                    _resolve(pending.failed_once, None)
                if self.failed_attempts == 1 or pause >= self._max_retry_after:
                    log.warning("Share Desk could not record %d stable-link click(s), retrying: %s", len(batch), exc)
                self._wake.wait(pause)
                self._wake.clear()
                pause = min(pause * 2, self._max_retry_after)
                continue
            pause = self._retry_after
            with self._changed:
                self.recorded += len(batch)
                for pending in batch:
                    pending.state = "done"
                self._writing = []
                self._changed.notify_all()
            for pending in batch:
                assert pending.attempt is not None
                _resolve(pending.attempt, True)
                _resolve(pending.committed, None)


def _resolve(future: Future[bool] | Future[None], value: bool | None) -> None:
    if not future.done():
        future.set_result(value)  # type: ignore[arg-type]
