"""The public stable-link resolver: `GET /s/<token>` -> 302 to a freshly minted presigned URL.

A plain Starlette route, mounted beside the dashboard by `streamlit_app.py`
and runnable alone (`python -m dashboard serve-links`) where the dashboard is
internal and the links are public.  It only ever redirects to a URL it minted
for the link's own bucket and key: there is no parameter to redirect anywhere
else.  Unknown, expired and revoked links get a small page, never an S3 error;
a click whose row the log cannot take in time gets the desk's 503 page (and
is recorded once the log recovers), never a bare server error.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import gc
import html
import ipaddress
import itertools
import logging
import re
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard.clicks import ClickWriter, PendingClick, running_loop
from dashboard.errors import BadInput, DeskError
from dashboard.safetext import one_line
from dashboard.store import Click, LogError, StableTarget, fingerprint
from dashboard.strategies import ShareRequest

if TYPE_CHECKING:
    from dashboard.desk import Desk
    from dashboard.store.postgres_async import AsyncClickStore

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
#: Signers a click may mint with, best first: a long-term key outlives any download.
MINT_ORDER = ("iam-user", "role-session", "ambient")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
#: How long a click waits for its row before the customer gets the 503 page instead.
COMMIT_WAIT = 3.0
#: How long it then waits for a write already under way (SQLite gives up on a lock after 5 s).
ATTEMPT_WAIT = 8.0
#: The standalone resolver's cyclic-collector thresholds (Python's are 700, 10, 10). A click allocates
#: a few hundred objects, almost none in cycles, so the default ran a young collection every few
#: clicks and, after the frozen start-up heap, a full one often enough to stall every click in flight
#: for tens of milliseconds (bench/resolve.py's p99: about 100 ms, 11 ms with these).
GC_THRESHOLDS = (50_000, 50, 100)
#: Most tokens one batched lookup asks a network log for.
LOOKUP_BATCH = 500


@dataclass(frozen=True)
class Outcome:
    status: int
    location: str | None = None
    title: str = ""
    message: str = ""
    click: PendingClick | None = None  # `click.settled` resolves once the click row is committed (or an attempt failed)


@dataclass(frozen=True)
class _Minted:
    url: str
    usable_until: datetime


class Resolver:
    """Looks a token up, checks the link is live, mints (or reuses) a URL, records the click."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        log_ = desk.log
        # On the event loop, a click batch is committed there: a local SQLite log takes it when its lock
        # is free; a network log's is awaited through the loop's own store (see dashboard.clicks).
        #: True when a lookup may wait on the network (a PostgreSQL log): then it never runs on the event loop itself.
        self.reads_may_block = bool(getattr(log_, "reads_may_block", False))
        if self.reads_may_block:
            self.clicks = ClickWriter(log_.record_clicks, write_now=self._record_on_loop, gather=0)
        else:
            self.clicks = ClickWriter(log_.record_clicks, write_now=partial(log_.record_clicks, wait=False), checkpoint=log_.checkpoint)
        self._on_loop: _OnLoop | None = None
        self.commit_wait = COMMIT_WAIT
        self.attempt_wait = ATTEMPT_WAIT
        self._cache: dict[int, _Minted] = {}
        self._lock = threading.Lock()
        self.minted = 0  # URLs signed so far (the cache's effect is visible in tests)
        self.unavailable = 0  # clicks answered with the 503 page because the log was in trouble

    def resolve(
        self,
        token: str,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
        now: datetime | None = None,
        may_sign: bool = True,
        method: str = "GET",
    ) -> Outcome | None:
        """The answer to one click; None when `may_sign` is False and a URL must be signed first.

        The lookup is a read of the WAL-mode SQLite log, which never waits for a
        writer, so the route runs it on the event loop and moves to a worker
        thread only when a URL must be minted (signing may call STS or Secrets
        Manager). A network log (PostgreSQL) is read through `resolve_on_loop`
        instead, or on a worker thread when it offers no store for the loop.

        A HEAD (a link checker, a mail scanner) is told whether the link works
        (200, or the 403, 404 or 410 a GET would get) and recorded as a check: no URL is minted or handed
        out for it, and it does not count as a download.
        """
        if not TOKEN_RE.fullmatch(token or ""):
            return _not_found()
        link = self.desk.log.stable_target(fingerprint(token))
        if link is None:
            return _not_found()
        now = now or datetime.now(timezone.utc)
        answer = self.answer(link, now, may_sign=may_sign, method=method)
        return None if answer is None else self._submitted(answer, link, now, client_ip, user_agent, method)

    async def resolve_on_loop(
        self, on_loop: _OnLoop, token: str, *, client_ip: str | None = None, user_agent: str | None = None, method: str = "GET"
    ) -> Outcome:
        """`resolve` for a network log: the lookup is awaited, batched with every click waiting (see `_Lookups`).

        A `LogError` when the log cannot be read. A URL that must be signed
        is signed on a worker thread; the click is submitted here, on the
        loop, whose store commits it.
        """
        if not TOKEN_RE.fullmatch(token or ""):
            return _not_found()
        link = await on_loop.lookups.target(fingerprint(token))
        if link is None:
            return _not_found()
        now = datetime.now(timezone.utc)
        answer = self.answer(link, now, may_sign=False, method=method)
        if answer is None:
            answer = await run_in_threadpool(partial(self.answer, link, now, method=method))
        assert answer is not None
        return self._submitted(answer, link, now, client_ip, user_agent, method)

    def answer(self, link: StableTarget, now: datetime, *, may_sign: bool = True, method: str = "GET") -> Outcome | None:
        """What a click on `link` at `now` is answered (no click recorded); None when `may_sign` is False and a URL must be signed."""
        if link.revoked_at is not None and link.revoked_at <= now:
            return Outcome(410, title="This link was withdrawn", message="The sender withdrew this download link. Ask your support contact for a new link.")
        if now >= link.expires_at:
            return Outcome(410, title="This link has expired", message="This download link has expired. Ask your support contact for a new link.")
        if _policy_refusal(self.desk, link):
            return Outcome(403, title="This link was withdrawn", message="The sender's sharing policy no longer allows this file to be shared. Ask your support contact.")
        if method == "HEAD":
            return Outcome(200, title="This link works", message="Open it in a browser to download the file.")
        try:
            location = self._cached(link, now)
            if location is None:
                if not may_sign:
                    return None
                location = self._mint(link, now)
        except DeskError:
            return _unavailable()
        return Outcome(302, location=location)

    def _submitted(self, answer: Outcome, link: StableTarget, now: datetime, client_ip: str | None, user_agent: str | None, method: str) -> Outcome:
        """`answer`, with its click on its way to the log (the route waits for the row before answering)."""
        click = self.clicks.submit(Click(link.link_id, now, answer.status, client_ip, user_agent, "HEAD" if method == "HEAD" else "GET"))
        return Outcome(answer.status, answer.location, answer.title, answer.message, click)

    async def recorded(self, pending: PendingClick) -> bool:
        """Wait for the click's row; False when the customer must get the 503 page instead.

        The row is committed before the customer moves on.  When the log cannot
        take it in time, the click stays queued and is recorded, with status
        503, once the log recovers (see `dashboard.clicks`).
        """
        loop = asyncio.get_running_loop()
        await _wait(pending.settled, self.commit_wait, loop)
        for _ in range(3):
            if pending.committed:
                return True
            attempt = self.clicks.answer_instead(pending, 503)
            if attempt is None:
                break  # still queued: its row will say 503
            await _wait(attempt, self.attempt_wait, loop)
            if not attempt.done():
                break  # a write that outlasts every wait; should it commit, its row keeps the decided status
        if pending.committed:
            return True
        self.count_unavailable()
        return False

    def count_unavailable(self) -> None:
        with self._lock:
            self.unavailable += 1

    def on_loop(self) -> _OnLoop | None:
        """The running event loop's store and lookups when the log is a network database, else None.

        A store belongs to the loop it was made on (psycopg's async pool): a
        resolver served by a new loop (a test client's) gets a new one.
        """
        if not self.reads_may_block:
            return None
        loop = running_loop()
        state = self._on_loop
        if loop is None:
            return None
        if state is None or state.loop is not loop:
            store = self.desk.log.loop_store()
            if store is None:
                return None
            state = self._on_loop = _OnLoop(loop, store)
        return state

    async def aclose(self) -> None:
        """Close the event loop's store (the app's shutdown); queued clicks go on through the writer thread."""
        state, self._on_loop = self._on_loop, None
        if state is not None:
            await state.store.close()

    def _record_on_loop(self, clicks: Sequence[Click]) -> Awaitable[None]:
        """The click writer's commit on the event loop: awaited through the loop's store."""
        state = self.on_loop()
        if state is None:  # no loop store here (a log that only says reads may block): the writer thread commits
            raise LookupError("no store on this event loop")
        return state.store.record_clicks(clicks)

    def _cached(self, link: StableTarget, now: datetime) -> str | None:
        """The URL minted for this link earlier, while it has comfortably more life than a download needs."""
        margin = timedelta(seconds=max(60, link.mint_seconds // 2))
        with self._lock:
            cached = self._cache.get(link.link_id)
        if cached is not None and cached.usable_until - now >= margin:
            return cached.url
        return None

    def _mint(self, link: StableTarget, now: datetime) -> str:
        """A fresh URL from the best signer that works now, saving the file under its own name."""
        lifetime = min(timedelta(seconds=link.mint_seconds), link.expires_at - now)
        request = ShareRequest(
            bucket=link.bucket,
            key=link.key,
            lifetime=max(lifetime, timedelta(seconds=1)),
            issuer=one_line(link.issuer, 200),  # only names a role session; never refused here
            filename=download_name(link.filename, link.key),
        )
        last: DeskError | None = None
        for name in MINT_ORDER:
            strategy = self.desk.strategies.get(name)
            if strategy is None:
                continue
            try:
                signed = strategy.sign(request, now)
            except DeskError as exc:
                last = exc
                continue
            assert signed.expiry is not None
            until = signed.expiry.effective_expires_at or signed.expiry.nominal_expires_at
            with self._lock:
                self._cache[link.link_id] = _Minted(signed.url, until)
                self.minted += 1
            return signed.url
        raise last or DeskError("No signer is available to mint a download URL.")


class _Lookups:
    """Stable targets read on the event loop in batches: every click waiting shares one statement.

    The first click starts a read; the clicks that arrive while it is in
    flight wait for the next one, which starts as soon as it is done. A
    failed read fails every click of its batch (the 503 page), not the next.
    """

    def __init__(self, read: Callable[[list[str]], Awaitable[dict[str, StableTarget]]]) -> None:
        self._read = read
        self._waiting: dict[str, list[asyncio.Future[StableTarget | None]]] = {}
        self._task: asyncio.Future[None] | None = None

    async def target(self, token_hash: str) -> StableTarget | None:
        future: asyncio.Future[StableTarget | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(token_hash, []).append(future)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                hashes = list(itertools.islice(self._waiting, LOOKUP_BATCH))
                batch = {h: self._waiting.pop(h) for h in hashes}
                try:
                    found = await self._read(hashes)
                except Exception as exc:  # a LogError (the log is unreadable) or a bug: each click answers 503
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for token_hash, futures in batch.items():
                    for future in futures:
                        if not future.done():  # a click whose request was cancelled no longer waits
                            future.set_result(found.get(token_hash))
        finally:
            self._task = None


class _OnLoop:
    """A network log's store, and the lookups waiting on it, for one event loop."""

    __slots__ = ("loop", "lookups", "store")

    def __init__(self, loop: asyncio.AbstractEventLoop, store: AsyncClickStore) -> None:
        self.loop, self.store, self.lookups = loop, store, _Lookups(store.targets)


def download_name(filename: str | None, key: str) -> str | None:
    """The name a stable link's download is saved under: the one given at issue, else the key's base name."""
    return filename or key.rstrip("/").rsplit("/", 1)[-1] or None


async def _wait(future: Future[Any], timeout: float, loop: asyncio.AbstractEventLoop) -> None:
    """Until `future` (resolved by another thread) is done or `timeout` has passed; never cancels it."""
    if future.done():
        return
    waiter: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    def done(_: Future[Any]) -> None:
        if running_loop() is loop:  # resolved on the loop itself (a click committed there): no wake-up through the loop's pipe
            wake()
            return
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the event loop has closed: nobody waits any more
            pass

    future.add_done_callback(done)
    timer = loop.call_later(timeout, wake)
    try:
        await waiter
    finally:
        timer.cancel()


def _policy_refusal(desk: Desk, link: StableTarget) -> str | None:
    """The sharing policy's word on serving this object now (the same rule the pages and the CLI apply)."""
    from dashboard.policy import policy_for

    try:
        return policy_for(desk.settings).click_refusal(link.bucket, link.key)
    except DeskError as exc:  # an unreadable policy file serves nothing rather than everything
        return str(exc)


def _not_found() -> Outcome:
    return Outcome(404, title="Link not found", message="This download link is not valid. Check that it was copied whole, or ask your support contact for a new link.")


def _unavailable() -> Outcome:
    return Outcome(
        503, title="The file cannot be fetched right now", message="The desk could not prepare your download. Try again in a few minutes, or ask your support contact."
    )


def _page(outcome: Outcome) -> HTMLResponse:
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{html.escape(outcome.title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:12vh auto;padding:0 1rem;color:#222}}h1{{font-size:1.4rem}}p{{line-height:1.5}}</style>
</head><body><h1>{html.escape(outcome.title)}</h1><p>{html.escape(outcome.message)}</p></body></html>"""
    headers = dict(NO_STORE)
    if outcome.status == 503:
        headers["Retry-After"] = "60"
    return HTMLResponse(body, status_code=outcome.status, headers=headers)


@functools.lru_cache(maxsize=4096)  # the same proxies and customers click again and again
def normal_ip(text: str | None) -> str | None:
    """`text` as an IP address in its normal form (an IPv4-mapped IPv6 address as IPv4), or None."""
    if not text:
        return None
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        address = ipaddress.ip_address(candidate.split("%", 1)[0])  # a zone id names a local interface: not kept
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_ip(header_values: Iterable[str], peer: str | None, *, trusted_hops: int = 1) -> str | None:
    """The customer's address for the click log.

    A proxy appends the address it saw to X-Forwarded-For, so everything left
    of what the trusted proxies added was written by the client and proves
    nothing.  The entry `trusted_hops` places from the right is the one the
    outermost trusted proxy added; when there is no such entry, or it is not
    an IP address, the socket's peer is kept instead.  Nothing but an address
    is ever stored.
    """
    entries = [entry.strip() for value in header_values for entry in value.split(",")]
    if entries and len(entries) >= trusted_hops:
        found = normal_ip(entries[-trusted_hops])
        if found is not None:
            return found
    return normal_ip(peer)


def routes(desk: Callable[[], Desk], resolver: Resolver | None = None, *, state: dict[str, Resolver] | None = None) -> list[BaseRoute]:
    """The stable-link route (GET and HEAD); `desk` is called on first use (or `resolver` is used).

    `/s` itself is answered too: otherwise Starlette would redirect it to `/s/`
    with an address built from the request's own Host header. `state` holds
    the resolver once built (its "resolver"), for the app that closes it.
    """
    state = {} if state is None else state
    if resolver is not None:
        state["resolver"] = resolver
    lock = threading.Lock()

    def first_resolver() -> Resolver:
        with lock:
            if "resolver" not in state:
                state["resolver"] = Resolver(desk())
            return state["resolver"]

    async def stable_link(request: Request) -> Response:
        found = state.get("resolver")
        if found is None:  # the first click builds the desk, which may start the demo
            found = await run_in_threadpool(first_resolver)
        token = request.path_params.get("token", "")
        settings = found.desk.settings
        header = settings.client_ip_header
        ip = client_ip(request.headers.getlist(header) if header else [], request.client.host if request.client else None, trusted_hops=settings.client_ip_trusted_hops)
        asked: dict[str, Any] = {"client_ip": ip, "user_agent": request.headers.get("user-agent"), "method": request.method}
        resolve = partial(found.resolve, token, **asked)
        try:
            on_loop = found.on_loop()
            outcome: Outcome | None
            if on_loop is not None:
                outcome = await found.resolve_on_loop(on_loop, token, **asked)
            elif found.reads_may_block:
                outcome = await run_in_threadpool(resolve)
            else:
                outcome = resolve(may_sign=False)
                if outcome is None:  # a URL must be signed: off the event loop
                    outcome = await run_in_threadpool(resolve)
        except LogError:  # the lookup itself failed: nothing to record the click against
            found.count_unavailable()
            return _page(_unavailable())
        except Exception:  # a bug must not answer Starlette's bare 500 to a customer
            log.exception("Share Desk could not resolve a stable-link click")
            found.count_unavailable()
            return _page(_unavailable())
        assert outcome is not None
        if outcome.click is not None and not await found.recorded(outcome.click):
            return _page(_unavailable())
        if outcome.location:
            return RedirectResponse(outcome.location, status_code=302, headers=NO_STORE)
        return _page(outcome)

    return [Route("/s", stable_link, methods=["GET", "HEAD"]), Route("/s/{token:path}", stable_link, methods=["GET", "HEAD"])]


def standalone_app(desk: Callable[[], Desk], resolver: Resolver | None = None) -> Starlette:
    """The resolver alone: the link route and a health route, nothing of the dashboard.

    No trailing-slash redirects: Starlette builds them from the request's Host
    header, so `/healthz/` would send a client to any host it names.
    """

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        return _page(_not_found())

    state: dict[str, Resolver] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if "resolver" in state:
            await state["resolver"].aclose()

    app = Starlette(
        routes=[*routes(desk, resolver, state=state), Route("/healthz", health, methods=["GET", "HEAD"])],
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    return app


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` for the resolver, or a `BadInput` sentence saying why not."""
    shown = one_line(host, 80)
    # The C resolver stops at a NUL ("127.0.0.1\x00junk" would bind 127.0.0.1): refuse such names first.
    plain = bool(host) and len(host) <= 253 and all(ch.isprintable() and not ch.isspace() for ch in host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE) if plain else []
    except (OSError, UnicodeError, ValueError):
        infos = []
    if not infos:
        raise BadInput(f"--host {shown!r} is not an address or name this machine can listen on: use an address such as 127.0.0.1 or 0.0.0.0.")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait for TIME_WAIT
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BadInput(f"Port {port} on {shown} is already in use by another program: stop it, or choose another port with --port.") from None
        if exc.errno == errno.EACCES:
            raise BadInput(f"This user may not listen on port {port}: choose a port above 1023 with --port.") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise BadInput(f"--host {shown!r} is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its own addresses.") from None
        raise BadInput(f"The resolver cannot listen on {shown} port {port} ({exc.strerror or exc}): choose another --host or --port.") from None
    return sock


def serve(desk: Callable[[], Desk], sock: socket.socket) -> None:
    """Serve the standalone resolver on an already bound socket until interrupted."""
    import uvicorn

    def built() -> Desk:
        made = desk()
        # The desk's start-up objects (botocore's models, the demo's moto backends) live as long as
        # the process: out of the cyclic collector's reach, a full collection no longer stalls
        # every click in flight for tens of milliseconds.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        return made

    config = uvicorn.Config(standalone_app(built), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def link_token(url_or_token: str) -> str:
    """The token of a stable link given as a full URL or as the bare token."""
    text = (url_or_token or "").strip()
    return text.rsplit("/s/", 1)[1].split("?", 1)[0].split("#", 1)[0] if "/s/" in text else text


__all__ = ["Outcome", "Resolver", "bind", "client_ip", "download_name", "link_token", "normal_ip", "routes", "serve", "standalone_app"]
