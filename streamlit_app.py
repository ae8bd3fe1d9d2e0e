"""What `streamlit run` is given: the desk's ASGI app.

The dashboard itself is the navigation script in dashboard/ui/; this file adds
the routes that live beside it and starts the desk (and its demo) with the
server, so the first visitor never waits for the demo to seed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from streamlit.starlette import App

from dashboard.desk import process_desk
from dashboard.links import routes


@contextlib.asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    await asyncio.to_thread(process_desk)
    yield


app = App("dashboard/ui/navigation.py", lifespan=lifespan, routes=routes(process_desk))
