"""Sharing strategies, one module each, found by looking in this package.

A module is a strategy when it defines `build(desk) -> Strategy`; adding a
strategy is adding a module, nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from dashboard.strategies.base import Preview, ShareRequest, Signed, Strategy

if TYPE_CHECKING:
    from dashboard.desk import Desk

__all__ = ["Preview", "ShareRequest", "Signed", "Strategy", "strategy_modules", "build_all"]

_HELPERS = {"base", "s3links", "sigv4"}


def strategy_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _HELPERS and not m.name.startswith("_"))


def build_all(desk: Desk) -> dict[str, Strategy]:
    """Every strategy for this desk, keyed by its public name, safest first."""
    built = [importlib.import_module(f"{__name__}.{module}").build(desk) for module in strategy_modules()]
    return {s.name: s for s in sorted(built, key=lambda s: s.risk_rank)}
