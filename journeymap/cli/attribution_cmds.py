"""Commands for attribution_cmds (to be filled in)."""
