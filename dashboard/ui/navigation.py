"""What `streamlit run` executes on every rerun: the page frame, then the chosen page.

It lives in a sub-folder on purpose: a navigation script beside `pages/` is
skipped when a fresh server is opened on a deep link (PLATFORM.md).  Widgets
drawn here, before `navigation.run()`, belong to every page and keep their
values across page changes: the demo's issuer name is one.
"""

from __future__ import annotations

import streamlit as st

from dashboard.config import SettingsError
from dashboard.errors import DeskError
from dashboard.ui.frame import PAGES, _desk
from dashboard.ui.identity import prompt

# An emoji favicon is drawn in the page (a data: URL); a :material/…: one is fetched from fonts.gstatic.com on every visit.
st.set_page_config(page_title="Share Desk", page_icon="🔗", layout="wide")
navigation = st.navigation(
    [
        st.Page(f"../../pages/{page.file}", title=page.title, url_path=page.url_path, icon=page.icon, default=page.default)
        for page in PAGES
    ]
)
try:
    desk = _desk()
except (DeskError, SettingsError):
    pass  # the page's guard says why the desk cannot start
else:
    prompt(desk)
navigation.run()
