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

A click submitted on an event loop is committed on that loop, together with
every click queued in the same half millisecond, when the log can take it at
once (`write_now`: a local SQLite file whose write lock is free; it never
waits for a lock and never checkpoints). Handing every click to the writer
thread and back cost the resolver more than the write itself: two Python
threads trading the GIL on every request. On a network database (PostgreSQL)
`write_now` returns an awaitable instead: the batch's one statement is awaited
on the loop while it serves other clicks, and the clicks queued meanwhile form
the next batch as soon as it is done. Whatever `write_now` cannot take (the
lock is held, the log fails) goes to the writer thread, which waits and
retries as above; the thread also checkpoints the WAL after a run of such
commits. One batch is written at a time, by the loop or by the thread.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future

from dashboard.store import Click

MAX_BATCH = 500
MAX_PENDING = 100_000
#: Commits on the event loop between two WAL checkpoints by the writer thread.
CHECKPOINT_EVERY = 200
#: How long the event loop gathers clicks before committing them in one transaction (a commit costs
#: about as much as a whole request; half a millisecond more before the redirect buys a batch).
#: An awaited commit (a network database) needs no such pause: the clicks that arrive while one
#: batch is in flight form the next (`gather=0`).
GATHER = 0.0005
#: How soon a commit on the event loop is tried again while the writer thread commits a batch.
RETRY_INLINE = 0.0005

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
        write_now: Callable[[Sequence[Click]], Awaitable[None] | None] | None = None,
        checkpoint: Callable[[], None] | None = None,
        gather: float = GATHER,
        retry_after: float = 0.25,
        max_retry_after: float = 5.0,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._write = write
        self._write_now = write_now
        self._checkpoint = checkpoint
        self._gather = gather
        self._retry_after = retry_after
        self._max_retry_after = max_retry_after
        self._max_pending = max_pending
        self._queue: collections.deque[PendingClick] = collections.deque()
        self._writing: list[PendingClick] = []
        lock = threading.Lock()
        self._changed = threading.Condition(lock)  # a click's state changed (results and flush wait on it)
        # The writer thread waits on its own condition: waking it at every
        # commit on the event loop would make the two threads trade the GIL.
        self._work = threading.Condition(lock)
        self._wake = threading.Event()
        self._thread_owed = 0  # queued clicks handed to the writer thread (it writes while any are owed)
        self._flush_scheduled = False
        self._inline_busy = False  # a commit awaited on the event loop is in flight (see _flush_inline)
        self._awaiting: asyncio.Future[None] | None = None  # its task, kept referenced until done
        self._inline_commits = 0
        self._checkpoint_due = False
        self.recorded = 0  # clicks committed
        self.recorded_inline = 0  # of which on an event loop
        self.failed_attempts = 0  # batches the log refused (each retried)
        self.dropped = 0  # clicks given up because too many waited at once
        self._thread = threading.Thread(target=self._run, name="share-desk-clicks", daemon=True)
        self._thread.start()

    def submit(self, click: Click) -> PendingClick:
        pending = PendingClick(click, self._changed)
        loop = running_loop() if self._write_now is not None else None
        lost: list[PendingClick] = []
        schedule = False
        with self._changed:
            self._queue.append(pending)
            while len(self._queue) > self._max_pending:
                dropped = self._queue.popleft()
                dropped.state = "dropped"
                lost.append(dropped)
                self.dropped += 1
            if loop is None:
                self._hand_to_thread()
            elif not self._flush_scheduled:
                self._flush_scheduled = schedule = True
        if schedule:
            assert loop is not None
            if self._gather > 0:
                loop.call_later(self._gather, self._flush_inline)
            else:
                loop.call_soon(self._flush_inline)
        for dropped in lost:
            _resolve(dropped.settled, False)
            log.error("Share Desk dropped a stable-link click (link %s): %s clicks were waiting for the log.", dropped.click.link_id, self._max_pending)
        return pending

    def _hand_to_thread(self) -> None:
        """(With `_changed` held.) The writer thread writes every click queued now."""
        self._thread_owed = len(self._queue)
        self._work.notify()

    def _flush_inline(self) -> None:
        """On the event loop: commit what the last GATHER seconds queued, or hand it to the writer thread."""
        assert self._write_now is not None
        with self._changed:
            self._flush_scheduled = False
            if not self._queue or self._inline_busy:  # a commit awaited on the loop flushes the rest when it is done
                return
            if self._thread_owed:  # the thread is waiting for the log (or retrying): these follow in its next batch
                self._hand_to_thread()
                return
            if self._writing:  # the thread is committing a batch: try again once it is done, not behind it for ever
                self._flush_scheduled = True
                asyncio.get_running_loop().call_later(RETRY_INLINE, self._flush_inline)
                return
            batch = self._start_batch()
            rows = [p.row() for p in batch]
        try:
            written = self._write_now(rows)
        except Exception:  # locked, or failing: the thread waits for the log and retries, as for any click
            with self._changed:
                for pending in batch:
                    pending.state = "queued"
                    pending.attempts -= 1  # not an attempt: nothing waited for the log
                self._queue.extendleft(reversed(batch))
                self._writing = []
                self._hand_to_thread()
            return
        if inspect.isawaitable(written):  # a network database: the loop serves other clicks meanwhile
            self._inline_busy = True
            self._awaiting = asyncio.ensure_future(self._await_inline(batch, written))
            return
        self._inline_done(batch)

    async def _await_inline(self, batch: list[PendingClick], written: Awaitable[None]) -> None:
        try:
            await written
        except Exception as exc:  # an attempt that waited for the log: the thread retries it, as its own
            self._inline_busy = False
            self._finish(batch, committed=False)
            log.warning("Share Desk could not record %d stable-link click(s), retrying: %s", len(batch), exc)
            return
        self._inline_busy = False
        self._inline_done(batch)

    def _inline_done(self, batch: list[PendingClick]) -> None:
        """A batch committed on the loop; whatever queued meanwhile goes next."""
        self._finish(batch, committed=True, inline=True)
        with self._changed:
            if self._queue and not self._flush_scheduled and not self._thread_owed:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self._flush_inline)

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
            if self._queue:
                self._hand_to_thread()
            return self._changed.wait_for(lambda: not self._queue and not self._writing, timeout)

    def _start_batch(self) -> list[PendingClick]:
        """(With `_changed` held.) The next batch, marked as being written."""
        batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
        for pending in batch:
            pending.state = "writing"
            pending.attempts += 1
        self._writing = batch
        return batch

    def _take(self) -> list[PendingClick]:
        """The writer thread's next batch; [] when only a checkpoint is due."""
        with self._changed:
            # Not while a batch is written on the event loop: one batch in flight at a time, in order.
            self._work.wait_for(lambda: (self._thread_owed > 0 and bool(self._queue) and not self._writing) or self._checkpoint_due)
            if not (self._thread_owed and self._queue):
                self._checkpoint_due = False
                return []
            batch = self._start_batch()
            self._thread_owed = max(0, self._thread_owed - len(batch))
            return batch

    def _run(self) -> None:
        pause = self._retry_after
        while True:
            batch = self._take()
            if not batch:
                self._run_checkpoint()
                continue
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

    def _run_checkpoint(self) -> None:
        if self._checkpoint is None:
            return
        try:
            self._checkpoint()
        except Exception as exc:  # the next run of inline commits asks again
            log.warning("Share Desk could not checkpoint the issuance log: %s", exc)

    def _finish(self, batch: list[PendingClick], *, committed: bool, inline: bool = False) -> None:
        """One attempt is over: the batch is done, or back at the head of the queue."""
        with self._changed:
            attempts = [p.attempt for p in batch if p.attempt is not None]
            for pending in batch:
                pending.state = "done" if committed else "queued"
                pending.attempt = None
            if committed:
                self.recorded += len(batch)
                if inline:
                    self.recorded_inline += len(batch)
                    self._inline_commits += 1
                    if self._inline_commits >= CHECKPOINT_EVERY and self._checkpoint is not None:
                        self._inline_commits = 0
                        self._checkpoint_due = True
                        self._work.notify()
            else:
                self.failed_attempts += 1
                self._queue.extendleft(reversed(batch))  # first in, first written, as before
                self._thread_owed += len(batch)  # the thread retries them
            self._writing = []
            self._changed.notify_all()
            if self._thread_owed:
                self._work.notify()
        for attempt in attempts:
            _resolve(attempt, committed)
        for pending in batch:
            _resolve(pending.settled, committed)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _resolve(future: Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
