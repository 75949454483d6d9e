"""Helpers of the web tests (no tests here): a demo workspace with one user per role, and logging in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from journeymap.cli import main

ROLES = ("viewer", "commenter", "editor", "owner")
PASSWORD = "correct horse battery"


def add_user(ws: Path, email: str, role: str, password: str = PASSWORD):
    """``journeymap -w WS users add EMAIL --role ROLE --password-stdin``, the user's way."""
    return CliRunner().invoke(
        main, ["-w", str(ws), "users", "add", email, "--role", role, "--password-stdin"], input=password + "\n"
    )


def users_per_role(ws: Path) -> dict[str, str]:
    """One user per role (``viewer@example.com`` ...); returns role -> email."""
    made = {}
    for role in ROLES:
        r = add_user(ws, f"{role}@example.com", role)
        assert r.exit_code == 0, r.output
        made[role] = f"{role}@example.com"
    return made


def login(client, email: str, password: str = PASSWORD) -> str:
    """Log ``client`` in; returns the CSRF token."""
    r = client.post("/api/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf"]


def serve_process(ws: Path, port: int) -> subprocess.Popen:
    """``journeymap -w WS serve --port PORT`` as a process of this checkout (stderr kept for failures)."""
    return subprocess.Popen(
        [sys.executable, "-m", "journeymap", "-w", str(ws), "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
