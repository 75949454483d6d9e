"""Commands for journeys_cmds (to be filled in)."""
