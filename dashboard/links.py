"""Routes served beside the dashboard (the public stable-link resolver lands here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute


def routes(desk: Callable[[], Any]) -> list[BaseRoute]:
    """The public routes of the desk; empty until stable links exist."""
    return []
