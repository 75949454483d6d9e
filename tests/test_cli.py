"""Every command has --help with an example, is in the generated CLI reference, and fails cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.cli.reference import help_text, iter_commands, render

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [path for path, cmd in iter_commands()]


def test_there_are_commands():
    names = {p[0] for p in COMMANDS}
    assert {"init", "info", "quarantine"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_has_help_with_an_example(path):
    text = help_text(path)
    assert "Usage:" in text
    assert "Example" in text, f"journeymap {' '.join(path)} --help shows no example"


def test_cli_reference_is_current():
    doc = ROOT / "docs" / "cli.md"
    assert doc.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is stale; regenerate it with: python -m journeymap.cli.reference > docs/cli.md"
    )


def test_version():
    out = CliRunner().invoke(main, ["--version"])
    assert out.exit_code == 0 and "journeymap" in out.output


def test_missing_workspace_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JOURNEYMAP_WORKSPACE", raising=False)
    out = CliRunner().invoke(main, ["info"])
    assert out.exit_code == 1
    assert "No journeymap workspace" in out.output and "journeymap init" in out.output
    assert "Traceback" not in out.output


def test_init_info_and_env_var(tmp_path, monkeypatch):
    runner = CliRunner()
    out = runner.invoke(main, ["init", str(tmp_path / "w"), "--format", "json"])
    assert out.exit_code == 0, out.output
    monkeypatch.setenv("JOURNEYMAP_WORKSPACE", str(tmp_path / "w"))
    out = runner.invoke(main, ["info", "--format", "json"])
    assert out.exit_code == 0, out.output
    import json

    info = json.loads(out.output)
    assert info["tables"] == {"events": 0, "feedback": 0, "customers": 0, "quarantine": 0, "ingest_log": 0}
    again = runner.invoke(main, ["init", str(tmp_path / "w")])
    assert again.exit_code == 1 and "already a journeymap workspace" in again.output


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "journeymap", "--help"], capture_output=True, text=True, check=True)
    assert "journeymap" in out.stdout
