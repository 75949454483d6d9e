"""Commands for blueprint_cmds (to be filled in)."""
