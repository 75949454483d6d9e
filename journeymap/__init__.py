"""journeymap: turn the customer data you already have into a living customer touchpoint map.

>>> import journeymap
>>> journeymap.__version__
'0.1.0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeymap._version import __version__

__all__ = ["Blueprint", "Workspace", "__version__"]

if TYPE_CHECKING:
    from journeymap.blueprint import Blueprint
    from journeymap.workspace import Workspace


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import journeymap`` stays cheap and has no effects.
    if name == "Workspace":
        from journeymap.workspace import Workspace

        return Workspace
    if name == "Blueprint":
        from journeymap.blueprint import Blueprint

        return Blueprint
    raise AttributeError(f"module 'journeymap' has no attribute {name!r}")
