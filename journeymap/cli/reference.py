"""Generate the CLI reference (docs/cli.md) from the commands' own ``--help``.

Run ``python -m journeymap.cli.reference > docs/cli.md``; a test checks the file is current.
"""

from __future__ import annotations

import click

from journeymap.cli import main


def iter_commands(group: click.Group = main, prefix: tuple[str, ...] = ()):
    """Yield ``(path, command)`` for every command below ``group``, depth first, sorted by name."""
    ctx = click.Context(group, info_name="journeymap")
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        path = (*prefix, name)
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from iter_commands(cmd, path)


def help_text(path: tuple[str, ...]) -> str:
    """The ``--help`` output of ``journeymap PATH...``."""
    from click.testing import CliRunner

    result = CliRunner().invoke(main, [*path, "--help"], prog_name="journeymap", terminal_width=100)
    return result.output


def render() -> str:
    lines = [
        "# Command-line reference",
        "",
        "Generated from each command's `--help` by `python -m journeymap.cli.reference`; do not edit by hand.",
        "",
        "```text",
        help_text(()).rstrip(),
        "```",
        "",
    ]
    for path, _ in iter_commands():
        lines += [f"## journeymap {' '.join(path)}", "", "```text", help_text(path).rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
