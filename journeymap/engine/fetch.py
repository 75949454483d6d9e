"""Run a table expression and fetch its rows as plain Python values, without pandas.

:func:`journeymap.engine.execute` gives pandas, whose import alone costs a command about 0.3 s of
CPU; an analysis whose result is a short table of numbers and names reads its rows here instead.
On DuckDB the rows come straight from the driver (no pandas, no pyarrow); other engines go
through pyarrow. :func:`table` is ``con.table(name)`` without pyarrow on DuckDB (Ibis reads a
table's schema through pyarrow, whose import with numpy's costs another 0.15 s).

Values are Python's own: ``int``, ``float``, ``str``, ``bool``, ``datetime``, ``None`` for a null.
Unlike a pandas frame, an integer column with nulls keeps its integers (pandas makes them floats),
and a NaN stays NaN; callers that had pandas' values convert alike for the types they return.

Examples
--------
>>> import ibis
>>> rows(ibis.memtable({"a": [1, 2], "b": ["x", None]}).order_by("a"))
(['a', 'b'], [(1, 'x'), (2, None)])
>>> con = ibis.duckdb.connect()
>>> _ = con.raw_sql("CREATE TABLE t AS SELECT 1::BIGINT AS a, 'x' AS b, NULL::TIMESTAMP AS c")
>>> table(con, "t").schema() == con.table("t").schema(), rows(table(con, "t"), con)
(True, (['a', 'b', 'c'], [(1, 'x', None)]))
"""

from __future__ import annotations

from typing import Any

import ibis

from journeymap.engine import backend_of
from journeymap.errors import EngineError, InputError


def table(con: Any, name: str) -> ibis.Table:
    """The warehouse table ``name`` as an expression, as ``con.table(name)`` gives it.

    On DuckDB its schema is read with one ``DESCRIBE`` fetched as Python rows (Ibis fetches it as
    Arrow). ``con`` is a connection or a workspace.
    """
    backend = backend_of(con)
    if backend.name != "duckdb":
        return backend.table(name)
    import duckdb
    import ibis.expr.operations as ops
    import sqlglot as sg
    import sqlglot.expressions as sge
    from ibis.common.exceptions import TableNotFound

    query = sge.Describe(this=sg.table(name, quoted=backend.compiler.quoted)).sql(backend.dialect)
    try:
        described = backend.con.sql(query).fetchall()
    except duckdb.CatalogException:
        raise TableNotFound(name) from None
    mapper = backend.compiler.type_mapper
    schema = ibis.schema({col: mapper.from_string(kind, nullable=null == "YES") for col, kind, null, *_ in described})
    return ops.DatabaseTable(
        name, schema=schema, source=backend, namespace=ops.Namespace(catalog=None, database=None)
    ).to_expr()


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
