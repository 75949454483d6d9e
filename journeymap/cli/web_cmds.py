"""``journeymap users`` (people and roles of the shared web map) and ``journeymap serve``."""

from __future__ import annotations

import sys

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import emit, format_option, handle_errors
from journeymap.errors import missing_extra

ROLES = ("viewer", "commenter", "editor", "owner")


def _db(ctx: Context):
    try:
        from journeymap.web.db import Database
    except ImportError as e:
        raise missing_extra(e.name or "fastapi", "web", "The web map") from None
    from journeymap.workspace import Workspace

    path = Workspace.open(ctx.workspace_path, read_only=True).path  # finds the folder; the warehouse stays closed
    return Database.for_workspace(path)


@main.group("users")
def users_group() -> None:
    """People who may open the shared web map (journeymap serve), and their roles.

    \b
    viewer reads; commenter also comments; editor also edits the blueprint and
    rebuilds the map; owner also manages members.

    \b
    Example:
      printf '%s\\n' 'a long password' | journeymap -w shop users add ana@example.com --role editor --password-stdin
      journeymap -w shop users list
    """


@users_group.command("add")
@click.argument("email")
@click.option("--role", required=True, type=str, help="viewer, commenter, editor or owner.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@format_option()
@handle_errors
@pass_ctx
def users_add(ctx: Context, email: str, role: str, password_stdin: bool, fmt: str) -> None:
    """Add a user with a role (the password is asked for, or read with --password-stdin).

    \b
    Example:
      journeymap -w shop users add ana@example.com --role commenter
    """
    from journeymap.web.users import add_user, check_email, check_role

    check_role(role)
    check_email(email)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    emit(add_user(_db(ctx), email, role, password, by="cli"), fmt, title="user added")


@users_group.command("list")
@format_option()
@handle_errors
@pass_ctx
def users_list(ctx: Context, fmt: str) -> None:
    """List the users and their roles.

    \b
    Example:
      journeymap -w shop users list --format json
    """
    from journeymap.web.users import list_users

    emit(list_users(_db(ctx)), fmt, title="users")


@users_group.command("remove")
@click.argument("email")
@handle_errors
@pass_ctx
def users_remove(ctx: Context, email: str) -> None:
    """Remove a user (their comments stay, without an author).

    \b
    Example:
      journeymap -w shop users remove ana@example.com
    """
    from journeymap.web.users import remove_user

    remove_user(_db(ctx), email, by="cli")
    click.echo(f"Removed {email}")


@users_group.command("role")
@click.argument("email")
@click.argument("role")
@handle_errors
@pass_ctx
def users_role(ctx: Context, email: str, role: str) -> None:
    """Change a user's role.

    \b
    Example:
      journeymap -w shop users role ana@example.com editor
    """
    from journeymap.web.users import set_role

    set_role(_db(ctx), email, role, by="cli")
    click.echo(f"{email} is now {role}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@handle_errors
@pass_ctx
def serve_cmd(ctx: Context, host: str, port: int) -> None:
    """Serve the workspace's map to a team: log in, comment, curate (the web extra).

    \b
    Example:
      journeymap -w shop serve --port 8000     # then open http://127.0.0.1:8000/
    """
    try:
        import uvicorn  # noqa: F401  (the web extra: a missing server says so here)

        from journeymap.web.app import create_app, run
    except ImportError as e:
        raise missing_extra(e.name or "fastapi", "web", "journeymap serve") from None
    from journeymap.workspace import Workspace

    path = Workspace.open(ctx.workspace_path, read_only=True).path
    app = create_app(path)
    click.echo(f"Serving {path} on http://{host}:{port}/ (Ctrl+C stops)", err=True)
    run(app, host=host, port=port)  # uvicorn; Ctrl+C also ends the pages' open event streams
