"""The engine boundary (issue 17, DESIGN.md "Engines"): only ``journeymap/engine`` uses private Ibis API
or talks to a driver; ingest loads through the engine's loader and holds no SQL; ``materialize`` and
``execute`` behave as the analyses rely on.
"""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import pytest

import journeymap
from journeymap import engine

PACKAGE = Path(journeymap.__file__).parent

PRIVATE_IBIS = {
    "ibis.backends.<module>": re.compile(r"\bibis\.backends\.\w"),
    "._find_backend": re.compile(r"\._find_backend\b"),
    "._cached_table": re.compile(r"\._cached_table\b"),
    "._run_pre_execute_hooks": re.compile(r"\._run_pre_execute_hooks\b"),
    ".op() internals": re.compile(r"\.op\(\)"),
    "con.con (the driver's connection)": re.compile(r"\bcon\.con\b"),
    "raw_sql": re.compile(r"\braw_sql\b"),
}
"""Patterns of private Ibis API and driver access, allowed only inside ``journeymap/engine``."""

SQL_TEXT = re.compile(
    r"""["'][^"'\n]*\b(SELECT|INSERT INTO|CREATE (TEMP |OR REPLACE )?TABLE|DROP TABLE|ALTER TABLE|"""
    r"""DELETE FROM|UPDATE \w+ SET|DESCRIBE)\b"""
)
"""SQL statements written as Python string literals."""


def _sources(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def _outside_engine() -> list[Path]:
    return [p for p in _sources(PACKAGE) if not p.relative_to(PACKAGE).parts[0].startswith("engine")]


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of a module's lines that are code, not doctest examples or comments."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith((">>>", "...", "#")):
            continue
        out.append((n, line))
    return out


def test_no_private_ibis_api_outside_the_engine() -> None:
    found = [
        f"{p.relative_to(PACKAGE.parent)}:{n}: {what}: {line.strip()}"
        for p in _outside_engine()
        for n, line in _code_lines(p)
        for what, pattern in PRIVATE_IBIS.items()
        if pattern.search(line)
    ]
    assert not found, "private Ibis API outside journeymap/engine:\n" + "\n".join(found)


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    # the patterns match the forms they forbid, and leave public API alone
    bad = [
        "db = con.con",
        "backend = t._find_backend(use_default=True)",
        "con.raw_sql('SET x = 1')",
        "from ibis.backends.sql.datatypes import DuckDBType",
        "name = t.op().name",
        "c = con._cached_table(t)",
    ]
    good = [
        "from ibis.backends import BaseBackend",
        "ws.con.list_tables()",
        "engine.execute(t, con)",
        "self.con = con",
        "t.cache()",
    ]
    assert all(any(p.search(line) for p in PRIVATE_IBIS.values()) for line in bad)
    assert not any(p.search(line) for p in PRIVATE_IBIS.values() for line in good)


def test_ingest_holds_no_sql_and_no_driver() -> None:
    """Ingest calls the engine's loader (:mod:`journeymap.engine.loader`); the SQL is DuckDB's loader's."""
    found = []
    for p in _sources(PACKAGE / "ingest"):
        for n, line in _code_lines(p):
            if SQL_TEXT.search(line) or re.search(r"^\s*(import duckdb|from duckdb\b)", line) or ".execute(" in line:
                found.append(f"{p.relative_to(PACKAGE.parent)}:{n}: {line.strip()}")
    assert not found, "SQL or driver calls in journeymap/ingest:\n" + "\n".join(found)


def test_an_engine_without_a_loader_is_told_in_one_sentence() -> None:
    from journeymap.engine.loader import loader_for
    from journeymap.errors import InputError

    class Other:
        name = "postgres"

    with pytest.raises(InputError, match=r"^Ingest into engine 'postgres' is not supported yet; .*\.$"):
        loader_for(Other())


def _tables(con) -> set[str]:
    """The connection's tables, less the views Ibis registers for memtables."""
    return {t for t in con.list_tables() if not t.startswith("ibis_")}


def test_materialize_computes_once_and_release_drops_it(tmp_path: Path) -> None:
    con = engine.connect("duckdb://")
    source = ibis.memtable({"k": ["a", "b", "a", "c"], "v": [1, 2, 3, 4]})
    expr = source.group_by("k").agg(total=source.v.sum())
    before = _tables(con)
    t = engine.materialize(con, expr)
    made = _tables(con) - before
    assert len(made) == 1
    got = engine.execute(t.order_by("k"), con)
    want = {"a": 1 + 3, "b": 2, "c": 4}  # by hand
    assert dict(zip(got["k"], got["total"], strict=True)) == want
    arrow = engine.execute(t, con, arrow=True)
    assert arrow.num_rows == 3 and sorted(arrow.column("k").to_pylist()) == ["a", "b", "c"]
    engine.release(t)
    assert _tables(con) == before
    engine.release(t)  # twice: nothing left to drop, no error


def test_materialized_releases_after_an_error_and_a_lasting_table_stays() -> None:
    con = engine.connect("duckdb://")
    before = _tables(con)
    with pytest.raises(RuntimeError), engine.materialized(con, ibis.memtable({"a": [1]}), "x"):
        raise RuntimeError("stop")
    assert _tables(con) == before
    kept = engine.materialize(con, ibis.memtable({"a": [1, 2]}), "kept", temp=False)
    assert "kept" in con.list_tables() and int(engine.execute(kept.count(), con)) == 2


def test_engine_errors_name_what_failed() -> None:
    from journeymap.errors import EngineError

    con = engine.connect("duckdb://")
    bad = ibis.memtable({"a": ["x"]}).mutate(b=ibis._.a.cast("int64"))  # 'x' is no number: fails when run
    with pytest.raises(EngineError, match="The engine failed to prepare the test rows"):
        engine.materialize(con, bad, what="the test rows")
    with pytest.raises(EngineError, match="The engine failed to run a query"):
        engine.execute(bad, con)
