"""Commands for funnels, stages, friction, retention and drivers (to be filled in)."""
