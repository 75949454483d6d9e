"""The version of journeymap (one place; the root package and the map document read it)."""

__version__ = "0.1.0"
