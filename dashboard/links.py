"""The public stable-link resolver: `GET /s/<token>` -> 302 to a freshly minted presigned URL.

A plain Starlette route, mounted beside the dashboard by `streamlit_app.py`
and runnable alone (`python -m dashboard serve-links`) where the dashboard is
internal and the links are public.  It only ever redirects to a URL it minted
for the link's own bucket and key: there is no parameter to redirect anywhere
else.  Unknown, expired and revoked links get a small page, never an S3 error.
"""

from __future__ import annotations

import asyncio
import html
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard.clicks import ClickWriter
from dashboard.errors import DeskError
from dashboard.store import Click, StableLink, fingerprint
from dashboard.strategies import ShareRequest

if TYPE_CHECKING:
    from dashboard.desk import Desk

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
#: Signers a click may mint with, best first: a long-term key outlives any download.
MINT_ORDER = ("iam-user", "role-session", "ambient")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


@dataclass(frozen=True)
class Outcome:
    status: int
    location: str | None = None
    title: str = ""
    message: str = ""
    click: Future[None] | None = None  # resolves once the click row is committed


@dataclass(frozen=True)
class _Minted:
    url: str
    usable_until: datetime


class Resolver:
    """Looks a token up, checks the link is live, mints (or reuses) a URL, records the click."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.clicks = ClickWriter(desk.log.record_clicks)
        self._cache: dict[int, _Minted] = {}
        self._lock = threading.Lock()
        self.minted = 0  # URLs signed so far (the cache's effect is visible in tests)

    def resolve(
        self,
        token: str,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
        now: datetime | None = None,
        may_sign: bool = True,
    ) -> Outcome | None:
        """The answer to one click; None when `may_sign` is False and a URL must be signed first.

        The lookup is a read of the WAL-mode log, which never waits for a writer,
        so the route runs it on the event loop and moves to a worker thread only
        when a URL must be minted (signing may call STS or Secrets Manager).
        """
        now = now or datetime.now(timezone.utc)
        if not TOKEN_RE.fullmatch(token or ""):
            return _not_found()
        link = self.desk.log.find_stable(fingerprint(token))
        if link is None:
            return _not_found()
        if link.entry.revoked_at is not None and link.entry.revoked_at <= now:
            outcome = Outcome(410, title="This link was withdrawn", message="The sender withdrew this download link. Ask your support contact for a new link.")
        elif now >= link.expires_at:
            outcome = Outcome(410, title="This link has expired", message="This download link has expired. Ask your support contact for a new link.")
        elif _policy_refusal(self.desk, link):
            outcome = Outcome(403, title="This link was withdrawn", message="The sender's sharing policy no longer allows this file to be shared. Ask your support contact.")
        else:
            try:
                location = self._cached(link, now)
                if location is None:
                    if not may_sign:
                        return None
                    location = self._mint(link, now)
                outcome = Outcome(302, location=location)
            except DeskError:
                outcome = Outcome(
                    503, title="The file cannot be fetched right now", message="The desk could not prepare your download. Try again in a few minutes, or ask your support contact."
                )
        click = self.clicks.submit(Click(link.entry.id, now, outcome.status, client_ip, user_agent))
        return Outcome(outcome.status, outcome.location, outcome.title, outcome.message, click)

    def _cached(self, link: StableLink, now: datetime) -> str | None:
        """The URL minted for this link earlier, while it has comfortably more life than a download needs."""
        margin = timedelta(seconds=max(60, link.mint_seconds // 2))
        with self._lock:
            cached = self._cache.get(link.entry.id)
        if cached is not None and cached.usable_until - now >= margin:
            return cached.url
        return None

    def _mint(self, link: StableLink, now: datetime) -> str:
        """A fresh URL from the best signer that works now."""
        lifetime = min(timedelta(seconds=link.mint_seconds), link.expires_at - now)
        request = ShareRequest(
            bucket=link.entry.bucket,
            key=link.entry.key,
            lifetime=max(lifetime, timedelta(seconds=1)),
            issuer=link.entry.issuer,
            filename=link.entry.filename,
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
                self._cache[link.entry.id] = _Minted(signed.url, until)
                self.minted += 1
            return signed.url
        raise last or DeskError("No signer is available to mint a download URL.")


def _policy_refusal(desk: Desk, link: StableLink) -> str | None:
    """The sharing policy's word on serving this object now (the same rule the pages and the CLI apply)."""
    from dashboard.policy import policy_for

    try:
        return policy_for(desk.settings).click_refusal(link.entry.bucket, link.entry.key)
    except DeskError as exc:  # an unreadable policy file serves nothing rather than everything
        return str(exc)


def _not_found() -> Outcome:
    return Outcome(404, title="Link not found", message="This download link is not valid. Check that it was copied whole, or ask your support contact for a new link.")


def _page(outcome: Outcome) -> HTMLResponse:
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{html.escape(outcome.title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:12vh auto;padding:0 1rem;color:#222}}h1{{font-size:1.4rem}}p{{line-height:1.5}}</style>
</head><body><h1>{html.escape(outcome.title)}</h1><p>{html.escape(outcome.message)}</p></body></html>"""
    return HTMLResponse(body, status_code=outcome.status, headers=NO_STORE)


def _client_ip(request: Request, header: str | None) -> str | None:
    if header and (value := request.headers.get(header)):
        return value.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


def routes(desk: Callable[[], Desk]) -> list[BaseRoute]:
    """The stable-link route (GET and HEAD); `desk` is called on first use."""
    state: dict[str, Resolver] = {}
    lock = threading.Lock()

    def resolver() -> Resolver:
        with lock:
            if "resolver" not in state:
                state["resolver"] = Resolver(desk())
            return state["resolver"]

    async def stable_link(request: Request) -> Response:
        found = state.get("resolver")
        if found is None:  # the first click builds the desk, which may start the demo
            found = await run_in_threadpool(resolver)
        token = request.path_params["token"]
        client_ip = _client_ip(request, found.desk.settings.client_ip_header)
        user_agent = request.headers.get("user-agent")
        outcome = found.resolve(token, client_ip=client_ip, user_agent=user_agent, may_sign=False)
        if outcome is None:  # a URL must be signed: off the event loop
            outcome = await run_in_threadpool(lambda: found.resolve(token, client_ip=client_ip, user_agent=user_agent))
        assert outcome is not None
        if outcome.click is not None:
            await asyncio.wrap_future(outcome.click)  # the click is durable before the customer moves on
        if outcome.location:
            return RedirectResponse(outcome.location, status_code=302, headers=NO_STORE)
        return _page(outcome)

    return [Route("/s/{token:path}", stable_link, methods=["GET", "HEAD"])]


def standalone_app(desk: Callable[[], Desk]) -> Starlette:
    """The resolver alone: the link route and a health route, nothing of the dashboard."""

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        return _page(_not_found())

    return Starlette(
        routes=[*routes(desk), Route("/healthz", health, methods=["GET", "HEAD"])],
        exception_handlers={404: not_found, 405: not_found},
    )


def serve(desk: Callable[[], Desk], host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(standalone_app(desk), host=host, port=port, log_level="warning", access_log=False)


def link_token(url_or_token: str) -> str:
    """The token of a stable link given as a full URL or as the bare token."""
    text = (url_or_token or "").strip()
    return text.rsplit("/s/", 1)[1].split("?", 1)[0].split("#", 1)[0] if "/s/" in text else text


__all__ = ["Outcome", "Resolver", "link_token", "routes", "serve", "standalone_app"]
