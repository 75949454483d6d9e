"""journeymap.report."""
