"""Commands for voice_cmds (to be filled in)."""
