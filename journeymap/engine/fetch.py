"""Run a table expression and fetch its rows as plain Python values, without pandas.

:func:`journeymap.engine.execute` gives pandas, whose import alone costs a command about 0.3 s of
CPU; an analysis whose result is a short table of numbers and names reads its rows here instead.
On DuckDB the rows come straight from the driver (no pandas, no pyarrow); other engines go
through pyarrow.

Values are Python's own: ``int``, ``float``, ``str``, ``bool``, ``datetime``, ``None`` for a null.
Unlike a pandas frame, an integer column with nulls keeps its integers (pandas makes them floats),
and a NaN stays NaN; callers that had pandas' values convert alike for the types they return.

Examples
--------
>>> import ibis
>>> rows(ibis.memtable({"a": [1, 2], "b": ["x", None]}).order_by("a"))
(['a', 'b'], [(1, 'x'), (2, None)])
"""

from __future__ import annotations

from typing import Any

import ibis

from journeymap.engine import backend_of
from journeymap.errors import EngineError, InputError


def rows(expr: ibis.Table, con: Any = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of a table expression run on ``con`` (a connection, a workspace, or None:
    where ``expr`` is bound). Engine errors become :class:`~journeymap.errors.EngineError`."""
    try:
        backend = backend_of(con, expr)
        if backend.name == "duckdb":
            rel = backend._to_duckdb_relation(expr)
            return list(rel.columns), rel.fetchall()
        table = backend.to_pyarrow(expr)
        names = list(table.column_names)
        return names, [tuple(r[n] for n in names) for r in table.to_pylist()]
    except InputError:
        raise
    except Exception as e:
        raise EngineError(f"The engine failed to run a query: {e}") from e
