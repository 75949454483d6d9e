"""journeymap.journeys."""
