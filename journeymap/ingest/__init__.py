"""journeymap.ingest."""
