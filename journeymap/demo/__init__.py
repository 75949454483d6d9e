"""The demo business: Northwind Clothing, a multi-channel retailer, simulated with planted effects.

:func:`generate` simulates customers (vectorised, fixed seed -> identical data)
and returns the raw source tables; :func:`write_sources` writes them as files
(CSV, or Parquet for big runs, in chunks); :func:`create_demo` builds a complete
workspace from them through the normal ingest path. :data:`PLANTED` names the
effects that later analyses must find (see ``docs/demo.md``).

Examples
--------
>>> data = generate(300, seed=1)
>>> data.events.num_rows > 1000, sorted(data.events.column_names)[:3]
(True, ['channel', 'device', 'event'])
>>> generate(300, seed=1).events.equals(data.events)
True
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeymap.demo import business
from journeymap.demo.business import TOUCHPOINTS, demo_blueprint
from journeymap.demo.feedback import COMPLAINT_KEYWORDS, make_feedback
from journeymap.demo.simulate import CHANNELS, simulate
from journeymap.errors import InputError, WorkspaceError
from journeymap.results import Result

DEFAULT_CUSTOMERS = 5000
DEFAULT_SEED = 42
CHUNK = 100_000
"""Customers simulated per chunk; each chunk has its own random stream, so output never depends on memory."""
PARQUET_FROM = 200_000
"""Runs with at least this many customers write events as Parquet by default."""

PLANTED: dict[str, Any] = {
    "friction_touchpoint": business.FRICTION,
    "friction": business.FRICTION,
    "complaint": "surprise delivery charge shown only at the delivery step",
    "complaint_keywords": list(COMPLAINT_KEYWORDS),
    "lift_touchpoint": business.LIFT,
    "distinct_persona": business.DISTINCT_PERSONA,
    "distinct_persona_first_touchpoint": "Store visit",
    "goal": business.GOAL,
    "no_data_touchpoints": ["Billboard", "Word of mouth"],
}
"""The effects planted in the demo data, which analyses must find (described in docs/demo.md)."""

__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_SEED",
    "PLANTED",
    "DemoData",
    "DemoSummary",
    "create_demo",
    "demo_blueprint",
    "generate",
    "write_sources",
]


@dataclass(frozen=True)
class DemoData:
    """The generated source tables (pyarrow).

    ``events`` holds the raw columns written to file plus two truth columns not
    written: ``touchpoint`` (canonical name) and ``journey`` (0 = first journey).
    ``feedback`` holds the raw columns plus ``topic`` (why the text was written).
    """

    events: pa.Table
    feedback: pa.Table
    customers: pa.Table

    TRUTH_EVENTS: ClassVar[tuple[str, ...]] = ("touchpoint", "journey")
    TRUTH_FEEDBACK: ClassVar[tuple[str, ...]] = ("topic",)


class DemoSummary(Result):
    """What ``journeymap demo`` built and where (``kind`` ``demo``)."""

    kind: ClassVar[str] = "demo"
    workspace: str
    files: dict[str, str]
    rows: dict[str, int]
    touchpoints: int
    channels: int
    personas: list[str]
    planted: dict[str, Any]

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        rows = [["table", name, n] for name, n in self.rows.items()]
        rows += [["file", name, path] for name, path in self.files.items()]
        rows += [
            ["blueprint", "touchpoints", self.touchpoints],
            ["blueprint", "channels", self.channels],
            ["blueprint", "personas", ", ".join(self.personas)],
        ]
        rows += [["planted", k, ", ".join(v) if isinstance(v, list) else v] for k, v in self.planted.items()]
        return {"demo": (["what", "name", "value"], rows)}


def generate(customers: int = DEFAULT_CUSTOMERS, seed: int = DEFAULT_SEED) -> DemoData:
    """Simulate ``customers`` customers and return the raw source tables.

    Parameters
    ----------
    customers : number of customers (each has one or more journeys).
    seed : random seed; the same seed and size give identical tables.

    Examples
    --------
    >>> d = generate(200, seed=3)
    >>> d.customers.num_rows
    200
    """
    parts = list(_chunks(customers, seed))
    return DemoData(*(pa.concat_tables([p[i] for p in parts]) for i in range(3)))


def _chunks(customers: int, seed: int) -> Iterator[tuple[pa.Table, pa.Table, pa.Table]]:
    if isinstance(customers, bool) or not isinstance(customers, (int, np.integer)) or customers < 1:
        raise InputError(f"customers={customers!r} is not a positive whole number; pass e.g. 5000.")
    for k, lo in enumerate(range(0, int(customers), CHUNK)):
        n = min(CHUNK, int(customers) - lo)
        yield _chunk(np.random.default_rng([int(seed), k]), lo, n)


def _chunk(rng: np.random.Generator, offset: int, n: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    shares = np.cumsum([p.share for p in business.PERSONAS])
    persona = (rng.random(n)[:, None] > shares / shares[-1]).sum(axis=1)
    sim = simulate(persona, rng)
    ids = pa.array(np.char.add("C", np.char.zfill((np.arange(n) + offset + 1).astype(str), 7)))
    fb = make_feedback(rng, sim.journeys)
    return _events(rng, sim.events, ids), _feedback(fb, ids), _customers(rng, persona, ids)


def _event_vocab() -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    base = np.full(len(TOUCHPOINTS), -1)
    for i, t in enumerate(TOUCHPOINTS):
        if t.event:
            base[i] = len(names)
            names.append(t.event)
    names += ["order_completed", "pos_sale"]
    names += [f"page_view:/product/{p}" for p in business.PRODUCTS]
    names += [f"page_view:/product/{p}/reviews" for p in business.PRODUCTS]
    return names, base


_UTM_SOURCE = {
    "Search ad": "google",
    "Social ad": "instagram",
    "Display banner": "criteo",
    "Organic search": "google",
    "Influencer post": "instagram",
    "Newsletter": "crm",
    "Reorder reminder": "crm",
    "Order confirmation": "crm",
}


def _events(rng: np.random.Generator, ev: dict[str, np.ndarray], ids: pa.Array) -> pa.Table:
    order = np.lexsort((ev["ts"], ev["cust"]))
    ev = {k: v[order] for k, v in ev.items()}
    names, base = _event_vocab()
    tp = ev["tp"]
    raw = base[tp]
    tp_index = {t.name: i for i, t in enumerate(TOUCHPOINTS)}
    n_products = len(business.PRODUCTS)
    product = rng.integers(0, n_products, len(tp))
    raw = np.where(tp == tp_index["Product page"], len(names) - 2 * n_products + product, raw)
    raw = np.where(tp == tp_index["Customer reviews"], len(names) - n_products + product, raw)
    store = np.array(CHANNELS)[ev["channel"]] == "store"
    buy = tp == tp_index[business.GOAL]
    raw = np.where(buy, np.where(store, names.index("pos_sale"), names.index("order_completed")), raw)
    medium = [dict(t.where).get("utm_medium") for t in TOUCHPOINTS]
    campaign = [dict(t.where).get("utm_campaign") for t in TOUCHPOINTS]
    source = [_UTM_SOURCE.get(t.name) for t in TOUCHPOINTS]
    chan = np.array(CHANNELS)[ev["channel"]]
    device = np.full(len(tp), None, dtype=object)
    web, app = np.isin(chan, ["web", "direct"]), chan == "app"
    device[web] = np.where(rng.random(int(web.sum())) < 0.55, "mobile", "desktop")
    device[app] = np.where(rng.random(int(app.sum())) < 0.6, "ios", "android")
    user = ids.take(pa.array(ev["cust"]))
    session = pc.binary_join_element_wise(user, pa.array(ev["session"]).cast(pa.string()), "-")
    tp_idx = pa.array(tp)
    return pa.table(
        {
            "user": user,
            "event_time": pa.array(ev["ts"], pa.timestamp("s")),
            "event": pa.array(names).take(pa.array(raw)),
            "channel": pa.array(chan),
            "utm_source": pa.array(source, pa.string()).take(tp_idx),
            "utm_medium": pa.array(medium, pa.string()).take(tp_idx),
            "utm_campaign": pa.array(campaign, pa.string()).take(tp_idx),
            "session": session,
            "order_value": pa.array(ev["revenue"], from_pandas=True),
            "device": pa.array(device, pa.string()),
            "touchpoint": pa.array([t.name for t in TOUCHPOINTS]).take(tp_idx),
            "journey": pa.array(ev["journey"].astype(np.int8)),
        }
    )


def _feedback(fb: dict, ids: pa.Array) -> pa.Table:
    order = np.lexsort((fb["ts"], fb["customer"]))
    fb = {k: np.asarray(v)[order] for k, v in fb.items()}
    n = len(order)
    tp_channel = {t.name: t.channel for t in TOUCHPOINTS}
    anonymous = fb["kind"] == "social"
    touchpoint = np.where(anonymous & (np.arange(n) % 2 == 0), None, fb["touchpoint"])
    stars = fb["stars"]

    def score(col: np.ndarray) -> pa.Array:
        return pa.array(col, pa.float64(), from_pandas=True).cast(pa.int16())

    return pa.table(
        {
            "response_id": pa.array([f"R{ids[0].as_py()[1:]}-{i:06d}" for i in range(n)]),
            "customer": ids.take(pa.array(fb["customer"])),
            "submitted_at": pa.array(fb["ts"], pa.timestamp("s")),
            "kind": pa.array(fb["kind"].astype(str)),
            "touchpoint": pa.array(touchpoint, pa.string()),
            "channel": pa.array([tp_channel.get(t) for t in fb["touchpoint"]], pa.string()),
            "comment": pa.array(fb["text"], pa.string()),
            "nps": score(fb["nps"]),
            "csat": score(fb["csat"]),
            "ces": score(fb["ces"]),
            "rating": pa.array(stars, pa.float64(), from_pandas=True),
            "rating_scale": pa.array(np.where(np.isnan(stars), np.nan, 5.0), pa.float64(), from_pandas=True),
            "topic": pa.array(fb["topic"].astype(str)),
        }
    )


def _customers(rng: np.random.Generator, persona: np.ndarray, ids: pa.Array) -> pa.Table:
    n = len(persona)
    specs = business.PERSONAS
    age = np.array([s.age_bands[int(rng.integers(0, len(s.age_bands)))] for s in specs])
    age_pick = [np.array(s.age_bands)[rng.integers(0, len(s.age_bands), n)] for s in specs]
    plan_pick = [np.array(s.plans)[rng.integers(0, len(s.plans), n)] for s in specs]
    del age
    signup = np.datetime64("2019-01-01") + rng.integers(0, 6 * 365, n).astype("timedelta64[D]")
    return pa.table(
        {
            "customer_id": ids,
            "segment": pa.array(np.array([s.segment for s in specs])[persona]),
            "region": pa.array(np.array(business.REGIONS)[rng.integers(0, len(business.REGIONS), n)]),
            "age_band": pa.array(np.choose(persona, age_pick)),
            "signup_date": pa.array(signup.astype(str)),
            "plan": pa.array(np.choose(persona, plan_pick)),
            "marketing_opt_in": pa.array(np.where(rng.random(n) < 0.6, "yes", "no")),
        }
    )


def write_sources(
    directory: str | Path,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    *,
    fmt: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Path]:
    """Generate the demo chunk by chunk and write its source files into ``directory``.

    Events go to ``events.csv`` (``events.parquet`` from :data:`PARQUET_FROM`
    customers or with ``fmt="parquet"``), feedback to ``feedback.csv`` and
    customers to ``customers.csv``. Truth columns are not written. Memory holds
    one chunk of :data:`CHUNK` customers at a time.

    Examples
    --------
    >>> import tempfile
    >>> files = write_sources(tempfile.mkdtemp(), 100, seed=2)
    >>> sorted(files)
    ['customers', 'events', 'feedback']
    """
    if fmt is None:
        fmt = "parquet" if customers >= PARQUET_FROM else "csv"
    if fmt not in ("csv", "parquet"):
        raise InputError(f"fmt={fmt!r} is not a demo file format; use 'csv' or 'parquet'.")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "events": directory / f"events.{fmt}",
        "feedback": directory / "feedback.csv",
        "customers": directory / "customers.csv",
    }
    writers: dict[str, Any] = {}
    total = max(1, -(-customers // CHUNK))
    try:
        for k, tables in enumerate(_chunks(customers, seed)):
            ev, fb, cu = tables
            parts = {
                "events": ev.drop_columns(list(DemoData.TRUTH_EVENTS)),
                "feedback": fb.drop_columns(list(DemoData.TRUTH_FEEDBACK)),
                "customers": cu,
            }
            for name, table in parts.items():
                if name not in writers:
                    path = files[name]
                    writers[name] = (
                        pq.ParquetWriter(path, table.schema)
                        if path.suffix == ".parquet"
                        else pacsv.CSVWriter(path, table.schema)
                    )
                writers[name].write_table(table)
            if progress:
                progress((k + 1) / total)
    finally:
        for w in writers.values():
            w.close()
    return files


def create_demo(
    path: str | Path,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    *,
    force: bool = False,
    fmt: str | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> DemoSummary:
    """Build a complete demo workspace at ``path``: source files, blueprint, warehouse.

    With ``force`` an existing demo workspace at ``path`` is replaced. A folder
    that is not a workspace and not empty is never deleted.

    Examples
    --------
    >>> import tempfile
    >>> s = create_demo(tempfile.mkdtemp() + "/shop", 200, seed=1)
    >>> s.rows["events"] > 0, s.touchpoints >= 20
    (True, True)
    """
    from journeymap.workspace import CONFIG_FILE, Workspace

    path = Path(path)
    if path.exists() and any(path.iterdir()):
        if not (path / CONFIG_FILE).is_file():
            raise WorkspaceError(
                f"{str(path)!r} exists and is not a journeymap workspace; choose an empty or new folder."
            )
        if not force:
            raise WorkspaceError(
                f"{str(path)!r} is already a workspace; pass force=True (--force) to replace it with the demo."
            )
        shutil.rmtree(path)
    tell = progress or (lambda phase, fraction: None)
    files = write_sources(path / "data", customers, seed, fmt=fmt, progress=lambda f: tell("generate", f))
    bp = demo_blueprint()
    ws = Workspace.init(path, blueprint=bp, name="northwind-demo", force=True)
    try:
        ws.ingest_customers(files["customers"])
        tell("ingest", 0.2)
        ws.ingest_events(files["events"])
        tell("ingest", 0.8)
        ws.ingest_feedback(files["feedback"])
        tell("ingest", 1.0)
        rows = {
            name: int(ws.table(name).count().execute()) for name in ("events", "feedback", "customers", "quarantine")
        }
        channels = ws.events().channel.nunique().execute()
        ws_path, warehouse = str(ws.path), ws.settings.url
        if warehouse.startswith("duckdb:///") and not Path(warehouse[10:]).is_absolute():
            warehouse = str(ws.path / warehouse[10:])
    finally:
        ws.close()
    return DemoSummary(
        workspace=ws_path,
        files={
            "blueprint": str(Path(ws_path) / "blueprint.yaml"),
            "warehouse": warehouse,
            **{k: str(v.resolve()) for k, v in files.items()},
        },
        rows=rows,
        touchpoints=len(bp.touchpoints),
        channels=int(channels),
        personas=[p.name for p in bp.personas],
        planted=PLANTED,
        meta={"customers": customers, "seed": seed},
    )
