"""The ``journeymap`` command line: thin commands over the library.

Each command parses its options, makes one library call and formats the output.
Command modules register themselves on :data:`main` when imported below.
"""

from __future__ import annotations

from pathlib import Path

import click

from journeymap import __version__


class Context:
    """What every command gets: where the workspace is (opened lazily)."""

    def __init__(self, workspace: str | None):
        self.workspace_path = workspace
        self._ws = None

    @property
    def ws(self):
        if self._ws is None:
            from journeymap.workspace import Workspace

            self._ws = Workspace.open(self.workspace_path)
        return self._ws


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="journeymap")
@click.option(
    "-w", "--workspace", type=click.Path(file_okay=False, path_type=str), envvar="JOURNEYMAP_WORKSPACE",
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
        workspace_cmds,
    )


_register()

__all__ = ["Context", "Path", "main", "pass_ctx"]
