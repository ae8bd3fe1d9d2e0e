"""The click writer: group commit, retries while the log is in trouble, and what a 503 answer records."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from dashboard.clicks import ClickWriter
from dashboard.store import Click, IssuanceLog, LogWriteError

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


class FlakyLog:
    """A write function that fails `failures` times (as a locked or read-only log does), then keeps rows."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.rows: list[Click] = []
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, clicks):
        self.calls += 1
        self.entered.set()
        self.gate.wait(30)
        if self.failures:
            self.failures -= 1
            raise LogWriteError("The issuance log could not be written (database is locked): no link was issued.")
        self.rows.extend(clicks)


def click(link_id: int = 1, status: int = 302) -> Click:
    return Click(link_id, NOW, status, "203.0.113.9", "agent")


def test_a_batch_the_log_refuses_is_written_again_until_it_is_taken():
    log = FlakyLog(failures=2)
    writer = ClickWriter(log, retry_after=0.01)
    pending = writer.submit(click())
    pending.result(timeout=30)
    assert pending.settled.result(timeout=0) is False  # a waiting request learnt of the trouble at the first failure
    assert pending.committed and pending.attempts == 3
    assert log.rows == [click()] and log.calls == 3
    assert (writer.recorded, writer.failed_attempts, writer.dropped, writer.pending) == (1, 2, 0, 0)


def test_a_click_answered_503_while_queued_is_recorded_with_503():
    log = FlakyLog()
    log.gate.clear()  # the first batch is being written and holds the writer
    writer = ClickWriter(log, retry_after=0.01)
    first = writer.submit(click(1))
    assert log.entered.wait(30)
    second = writer.submit(click(2))  # waits behind the first batch
    assert writer.answer_instead(second, 503) is None  # still queued: its row will say 503
    attempt = writer.answer_instead(first, 503)  # being written: the caller learns how that write ends
    assert attempt is not None and not attempt.done()
    log.gate.set()
    assert attempt.result(timeout=30) is True  # committed after all, with the decided status
    assert writer.flush(timeout=30)
    assert [(c.link_id, c.status) for c in log.rows] == [(1, 302), (2, 503)]
    assert first.committed and second.committed


def test_a_failed_write_lets_a_waiting_answer_amend_the_row():
    log = FlakyLog(failures=1)
    log.gate.clear()
    writer = ClickWriter(log, retry_after=30)  # the retry waits for flush() below
    pending = writer.submit(click())
    assert log.entered.wait(30)
    attempt = writer.answer_instead(pending, 503)
    assert attempt is not None
    log.gate.set()
    assert attempt.result(timeout=30) is False  # that write failed: the click went back to the queue
    assert writer.answer_instead(pending, 503) is None
    assert writer.flush(timeout=30)  # wakes the writer for its retry
    assert [c.status for c in log.rows] == [503]


def test_too_many_waiting_clicks_drop_the_oldest_and_count_them(caplog):
    log = FlakyLog()
    log.gate.clear()
    writer = ClickWriter(log, max_pending=2)
    writer.submit(click(1))
    assert log.entered.wait(30)  # link 1 is being written; 2, 3 and 4 wait
    dropped = writer.submit(click(2))
    writer.submit(click(3))
    writer.submit(click(4))
    assert writer.dropped == 1 and dropped.settled.result(timeout=0) is False and not dropped.committed
    assert "dropped a stable-link click" in caplog.text
    log.gate.set()
    assert writer.flush(timeout=30)
    assert [c.link_id for c in log.rows] == [1, 3, 4]


def test_many_clicks_share_one_transaction(tmp_path):
    with IssuanceLog(tmp_path / "log.sqlite3") as log:
        calls = []

        def write(clicks):
            calls.append(len(clicks))
            log.record_clicks(clicks)

        gate = threading.Event()
        writer = ClickWriter(lambda clicks: (gate.wait(30), write(clicks)))
        pendings = [writer.submit(click(0)) for _ in range(50)]
        gate.set()
        for pending in pendings:
            pending.result(timeout=30)
        assert sum(calls) == 50 and len(calls) <= 2 and log.count_clicks() == 50


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_only_downloads_bump_a_links_counters(tmp_path, method):
    from dashboard.store import NewLink, StableSpec

    with IssuanceLog(tmp_path / "log.sqlite3") as log:
        row = NewLink(
            issued_at=NOW, issuer="t", strategy="stable", bucket="b", key="k", filename=None, ticket=None, note=None,
            signed_at=NOW, nominal_expires_at=NOW, effective_expires_at=NOW, bound_by="nominal", reason="r",
            credential_source="stable-link", access_key_id=None, credential_kind="long-term", credential_expires_at=None,
            fingerprint="f" * 64, display_url="https://desk.example/s/…",
        )
        [entry] = log.record_many([row], [StableSpec(expires_at=NOW, mint_seconds=300)])
        log.record_clicks([Click(entry.id, NOW, 200, None, None, method)])
        stored = log.get_stable(entry.id)
        assert stored.clicks == (1 if method == "GET" else 0)
        assert [c.method for c in log.clicks_for(entry.id)] == [method]


# --- clicks committed on the event loop ---------------------------------------------


def _on_a_loop(writer: ClickWriter, clicks: list[Click], settle: float = 5.0):
    """Submit `clicks` from a running event loop, as the resolver's route does, and wait for each row."""
    import asyncio

    async def run():
        pendings = [writer.submit(c) for c in clicks]
        loop = asyncio.get_running_loop()
        for pending in pendings:
            await asyncio.wait_for(asyncio.wrap_future(pending.settled, loop=loop), settle)
        return pendings

    return asyncio.run(run())


def test_clicks_submitted_on_an_event_loop_are_committed_there_in_one_batch():
    thread_log, loop_log = FlakyLog(), FlakyLog()
    writer = ClickWriter(thread_log, write_now=loop_log)
    pendings = _on_a_loop(writer, [click(1), click(2), click(3)])
    assert all(p.committed for p in pendings)
    assert loop_log.rows == [click(1), click(2), click(3)] and loop_log.calls == 1  # one transaction for the turn of the loop
    assert thread_log.calls == 0  # the writer thread was never involved
    assert (writer.recorded, writer.recorded_inline, writer.failed_attempts) == (3, 3, 0)


def test_a_click_the_loop_cannot_commit_at_once_is_written_by_the_thread_once():
    thread_log = FlakyLog()
    busy = FlakyLog(failures=1)  # the lock is held: SQLite refuses at once rather than wait on the event loop
    writer = ClickWriter(thread_log, write_now=busy, retry_after=0.01)
    (pending,) = _on_a_loop(writer, [click(7)])
    assert pending.committed and pending.attempts == 1  # the refused try on the loop is not an attempt
    assert busy.rows == [] and thread_log.rows == [click(7)]
    assert (writer.recorded, writer.recorded_inline, writer.failed_attempts) == (1, 0, 0)
    (later,) = _on_a_loop(writer, [click(8)])  # the thread has written what it owed: the loop commits again
    assert later.committed and busy.rows == [click(8)]


def test_clicks_from_a_thread_without_a_loop_go_to_the_writer_thread():
    thread_log, loop_log = FlakyLog(), FlakyLog()
    writer = ClickWriter(thread_log, write_now=loop_log)
    writer.submit(click(4)).result(timeout=30)
    assert thread_log.rows == [click(4)] and loop_log.calls == 0


def test_a_run_of_commits_on_the_loop_asks_the_thread_for_a_checkpoint(monkeypatch):
    from dashboard import clicks

    monkeypatch.setattr(clicks, "CHECKPOINT_EVERY", 2)
    checkpoints = threading.Event()
    writer = ClickWriter(FlakyLog(), write_now=FlakyLog(), checkpoint=checkpoints.set)
    _on_a_loop(writer, [click(1)])
    assert not checkpoints.is_set()
    _on_a_loop(writer, [click(2)])
    assert checkpoints.wait(30)


def test_on_a_real_log_whose_lock_another_writer_holds_the_loop_does_not_wait_and_nothing_is_lost(tmp_path):
    """The event loop's commit refuses at once (SQLite's busy timeout is 5 s); the thread records the click after the lock is freed."""
    import sqlite3
    import time

    path = tmp_path / "log.sqlite3"
    log = IssuanceLog(path)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process issuing a link holds the write lock
    writer = ClickWriter(log.record_clicks, write_now=lambda rows: log.record_clicks(rows, wait=False), retry_after=0.05)
    tried = []
    original = writer._write_now

    def timed(rows):
        started = time.monotonic()
        try:
            return original(rows)
        finally:
            tried.append(time.monotonic() - started)

    writer._write_now = timed
    released = threading.Timer(1.0, holder.rollback)
    released.start()
    try:
        (pending,) = _on_a_loop(writer, [click(0)], settle=30)
    finally:
        released.join()
        holder.close()
    assert pending.committed and tried and tried[0] < 1.0  # refused before the holder let go, not after SQLite's 5 s
    assert writer.recorded_inline == 0 and log.count_clicks() == 1


class AwaitedLog:
    """An async write function (a network database's commit, awaited on the loop), held at a gate when asked."""

    def __init__(self, failures: int = 0) -> None:
        import asyncio

        self.failures = failures
        self.batches: list[list[Click]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = asyncio.Event()
        self.gate.set()

    def __call__(self, clicks):
        async def commit():
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await self.gate.wait()
                if self.failures:
                    self.failures -= 1
                    raise LogWriteError("The clicks could not be recorded (server closed the connection unexpectedly).")
                self.batches.append(list(clicks))
            finally:
                self.in_flight -= 1

        return commit()


def test_an_awaited_commit_takes_the_clicks_that_queued_while_it_was_in_flight_as_the_next_batch():
    import asyncio

    thread_log = FlakyLog()

    async def run():
        awaited = AwaitedLog()
        writer = ClickWriter(thread_log, write_now=awaited, gather=0)
        awaited.gate.clear()
        first = writer.submit(click(1))
        await asyncio.sleep(0.01)  # its commit is under way, held at the gate
        assert awaited.in_flight == 1
        rest = [writer.submit(click(n)) for n in (2, 3, 4)]
        await asyncio.sleep(0.01)
        assert awaited.in_flight == 1 and not first.committed  # one batch at a time: the rest wait their turn
        awaited.gate.set()
        loop = asyncio.get_running_loop()
        for pending in (first, *rest):
            assert await asyncio.wait_for(asyncio.wrap_future(pending.settled, loop=loop), 5) is True
        return awaited, writer

    awaited, writer = asyncio.run(run())
    assert awaited.batches == [[click(1)], [click(2), click(3), click(4)]] and awaited.most_in_flight == 1
    assert thread_log.calls == 0
    assert (writer.recorded, writer.recorded_inline, writer.failed_attempts, writer.pending) == (4, 4, 0, 0)


def test_an_awaited_commit_that_fails_is_an_attempt_and_the_thread_writes_the_batch_again():
    import asyncio

    thread_log = FlakyLog()

    async def run():
        writer = ClickWriter(thread_log, write_now=AwaitedLog(failures=1), gather=0, retry_after=0.01)
        pending = writer.submit(click(9))
        loop = asyncio.get_running_loop()
        assert await asyncio.wait_for(asyncio.wrap_future(pending.settled, loop=loop), 5) is False  # the request learns at once
        return writer, pending

    writer, pending = asyncio.run(run())
    pending.result(timeout=30)
    assert thread_log.rows == [click(9)]
    assert pending.attempts == 2 and (writer.recorded, writer.recorded_inline, writer.failed_attempts) == (1, 0, 1)
