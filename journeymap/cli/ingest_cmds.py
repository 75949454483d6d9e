"""Commands for ingest_cmds (to be filled in)."""
