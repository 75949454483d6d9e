"""The shared web map: ``journeymap serve`` (FastAPI over the library; needs the ``web`` extra)."""
