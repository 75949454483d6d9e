"""The ``journeymap`` command line: thin commands over the library.

Each command parses its options, makes one library call and formats the output.
Command modules register themselves on :data:`main` when imported below.
"""

from __future__ import annotations

from pathlib import Path

import click

from journeymap import __version__


class Context:
    """What every command gets: where the workspace is (opened lazily, closed when the command ends).

    Commands read through :attr:`ws` (the warehouse opened read-only, so any number of them run
    beside each other); a command that writes the warehouse asks for :meth:`writer`, and one that
    reads sentiment scores for :meth:`scored` (writing only while some feedback still needs scores).
    """

    def __init__(self, workspace: str | None):
        self.workspace_path = workspace
        self._ws = None

    def _open(self):
        if self._ws is None:
            from journeymap import locks
            from journeymap.workspace import Workspace

            current = click.get_current_context(silent=True)
            if current is not None:  # "journeymap ingest", named in the workspace's lock records
                locks.set_command(" ".join(["journeymap", *current.command_path.split()[1:]]))
            self._ws = Workspace.open(self.workspace_path, read_only=True)
        return self._ws

    @property
    def ws(self):
        """The workspace; its warehouse is opened read-only on first use."""
        return self._open()

    def writer(self):
        """The workspace with its warehouse opened for writing (one writer at a time)."""
        ws = self._open()
        ws.reopen(read_only=False)
        return ws

    def scored(self, backend: str = "lexicon"):
        """The workspace for a command that reads ``backend``'s sentiment scores.

        Read-only when every feedback text has its score already; otherwise opened for writing,
        so the scores made now are kept for the next command.
        """
        ws = self._open()
        if ws.read_only and ws.con.name == "duckdb":
            from journeymap.voice.scoring import ensure_table, pending

            if pending(ws.con, backend):
                ws.reopen(read_only=False)
                ensure_table(ws.con)
        return ws

    def close(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            try:
                ws.close()
            except Exception:  # noqa: S110  (the command's outcome is decided; closing is best effort)
                pass


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="journeymap")
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=str),
    envvar="JOURNEYMAP_WORKSPACE",
    help="Workspace folder (default: $JOURNEYMAP_WORKSPACE, else the current folder or a parent).",
)
@click.pass_context
def main(ctx: click.Context, workspace: str | None) -> None:
    """journeymap: turn customer events, surveys and feedback into a living touchpoint map.

    \b
    Example:
      journeymap demo shop            # a complete demo workspace
      journeymap -w shop ingest events web.csv --map customer_id=cookie
    """
    ctx.obj = Context(workspace)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from journeymap.cli import (  # noqa: F401  (each module adds its commands to main)
        attribution_cmds,
        blueprint_cmds,
        demo_cmds,
        funnel_cmds,
        ingest_cmds,
        journeys_cmds,
        map_cmds,
        report_cmds,
        voice_cmds,
        web_cmds,
        workspace_cmds,
    )


_register()

__all__ = ["Context", "Path", "main", "pass_ctx"]
