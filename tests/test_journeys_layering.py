"""DESIGN.md's layering for the journey analytics: no module imports an engine driver.

The analytics build Ibis expressions only, so the same code runs on DuckDB and Spark;
this reads every module's imports (at any depth, lazy ones included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import journeymap.journeys

ENGINES = {"duckdb", "pyspark", "sqlglot", "psycopg", "psycopg2", "snowflake", "google"}
MODULES = sorted(Path(journeymap.journeys.__file__).parent.glob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_there_are_modules_to_check():
    assert {p.name for p in MODULES} >= {"journeys.py", "funnels.py", "transitions.py", "paths.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_engine_imports(path):
    assert imported_roots(path) & ENGINES == set()


def test_the_check_sees_lazy_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    import duckdb\n    from pyspark.sql import SparkSession\n")
    assert imported_roots(f) >= {"duckdb", "pyspark"}
