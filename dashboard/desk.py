"""What every entry point needs: settings, the AWS factory, the demo when there is one.

The pages, the command line and the stable-link resolver all open the same
`Desk`, so they share one client factory and one issuance log per process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dashboard import demo as demo_mod
from dashboard.aws import Aws
from dashboard.config import Settings

if TYPE_CHECKING:
    from dashboard.store import IssuanceLog


@dataclass
class Desk:
    settings: Settings
    aws: Aws
    demo: demo_mod.DemoServer | None = None
    _log: IssuanceLog | None = field(default=None, repr=False)
    _strategies: dict[str, Any] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_demo(self) -> bool:
        return self.demo is not None

    @property
    def strategies(self) -> dict[str, Any]:
        """Every sharing strategy, built once per desk (role sessions are cached inside)."""
        with self._lock:
            if self._strategies is None:
                from dashboard.strategies import build_all

                self._strategies = build_all(self)
            return self._strategies

    @property
    def log(self) -> IssuanceLog:
        """The issuance log, opened (and migrated) on first use.

        A demo desk fills an empty log with its history of past links then, so
        commands that never read the log (`ls`) do not pay for it. A location
        that keeps nothing raises `LogLocationError` here, before any link.
        """
        with self._lock:
            if self._log is not None:
                return self._log
            from dashboard.store import IssuanceLog

            self._log = IssuanceLog.open(self.settings.database_url)
        if self.is_demo:
            from dashboard.demo_history import seed_history

            seed_history(self)  # a no-op when the log already has rows
        return self._log


def open_desk(
    settings: Settings | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: Mapping[str, Any] | None = None,
    share_demo: bool = False,
    local_url: str | None = None,
) -> Desk:
    """Build the desk; with no AWS settings, start (or join) the embedded demo first.

    `local_url` is where this process serves stable links; the demo uses it as
    their public base when none is configured.
    """
    settings = settings or Settings.load(environ, secrets)
    if not settings.demo:
        return Desk(settings=settings, aws=Aws(settings))
    server = demo_mod.start(settings, share=share_demo, reuse=not share_demo, desk_url=local_url)
    settings = demo_mod.demo_settings(settings, server.endpoint, server.cloudfront_url)
    if not settings.public_base_url and (local_url or server.desk_url):
        settings = settings.replace(public_base_url=local_url or server.desk_url)
    return Desk(settings=settings, aws=Aws(settings, demo_mod.ambient_session(server.endpoint)), demo=server)


_PROCESS_DESK: Desk | None = None
_PROCESS_LOCK = threading.Lock()


def process_desk(secrets: Mapping[str, Any] | None = None, local_url: str | None = None) -> Desk:
    """One desk per server process, shared by the Streamlit pages and the link route."""
    global _PROCESS_DESK
    with _PROCESS_LOCK:
        if _PROCESS_DESK is None:
            _PROCESS_DESK = open_desk(secrets=secrets, share_demo=True, local_url=local_url)
        return _PROCESS_DESK
