"""Commands for demo_cmds (to be filled in)."""
