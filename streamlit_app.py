"""What `streamlit run` is given: the desk's ASGI app.

The dashboard itself is the navigation script in dashboard/ui/; this file adds
the public stable-link route beside it and starts the desk (and its demo) with
the server, so the first visitor never waits for the demo to seed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from streamlit import config
from streamlit.starlette import App

from dashboard.desk import Desk, process_desk
from dashboard.links import routes


def desk() -> Desk:
    # In the demo, stable links point back at this very server.
    return process_desk(local_url=f"http://localhost:{config.get_option('server.port')}")


@contextlib.asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    await asyncio.to_thread(lambda: desk().log)  # start the demo and open (or seed) the log before the first visitor
    yield


app = App("dashboard/ui/navigation.py", lifespan=lifespan, routes=routes(desk))
