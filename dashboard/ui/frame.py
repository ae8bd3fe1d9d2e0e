"""The frame every page shares: the desk, the demo banner, errors as sentences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import NoReturn

import streamlit as st

from dashboard.config import SettingsError
from dashboard.desk import Desk, process_desk
from dashboard.errors import DeskError
from dashboard.timefmt import viewer_zone

#: Session-state key holding the objects picked on Browse for the Share page:
#: a dict from "s3://bucket/key" to {"bucket", "key", "size", "storage_class"}.
SELECTION_KEY = "sharedesk.selection"


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    url_path: str
    icon: str
    default: bool = False


PAGES: tuple[PageSpec, ...] = (
    PageSpec("browse.py", "Browse", "browse", ":material/folder_open:", default=True),  # the default page is served at /
    PageSpec("share.py", "Share", "share", ":material/share:"),
    PageSpec("timeline.py", "Expiry timeline", "timeline", ":material/timeline:"),
    PageSpec("inspect.py", "Inspect", "inspect", ":material/search:"),
    PageSpec("stable_links.py", "Stable links", "stable-links", ":material/all_inclusive:"),
    PageSpec("signers.py", "Signers", "signers", ":material/key:"),
)


@st.cache_resource(show_spinner="Starting the desk…")
def _desk() -> Desk:
    try:
        secrets = dict(st.secrets)
    except Exception:  # no secrets file is fine
        secrets = {}
    # Same local address the server's lifespan passes: demo stable links point back here.
    return process_desk(secrets, local_url=f"http://localhost:{st.get_option('server.port')}")


def guard() -> Desk:
    """Call first on every page: the desk, or a sentence saying why it cannot start."""
    try:
        desk = _desk()
    except (DeskError, SettingsError) as exc:
        fail(str(exc))
    if desk.is_demo:
        st.info(
            "**Demo desk** — an embedded S3, STS and IAM (moto) on loopback, seeded with sample files, a simulated "
            "Fargate task role and a signer user. Nothing here touches AWS.",
            icon=":material/science:",
        )
    return desk


def fail(message: str) -> NoReturn:
    st.error(message, icon=":material/error:")
    st.stop()


def viewer_tz() -> tzinfo:
    """The viewer's time zone (from the browser), UTC when it is not known: every page shows times in it."""
    return viewer_zone(st.context.timezone)


def selection() -> dict[str, dict]:
    return st.session_state.setdefault(SELECTION_KEY, {})
