"""journeymap.attribution."""
