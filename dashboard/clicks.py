"""Group commit for stable-link clicks: many clicks, one transaction, no click lost.

Each click is queued and its request waits until the batch holding it is
committed, so a click is durable before the customer is redirected, while a
burst of clicks costs one fsync rather than one each.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from dashboard.store import Click

MAX_BATCH = 500


class ClickWriter:
    def __init__(self, write: Callable[[Sequence[Click]], None]) -> None:
        self._write = write
        self._queue: queue.SimpleQueue[tuple[Click, Future[None]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="share-desk-clicks", daemon=True)
        self._thread.start()

    def submit(self, click: Click) -> Future[None]:
        future: Future[None] = Future()
        self._queue.put((click, future))
        return future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write([click for click, _ in batch])
            except Exception as exc:  # the requests waiting on this batch learn it failed
                for _, future in batch:
                    future.set_exception(exc)
            else:
                for _, future in batch:
                    future.set_result(None)
