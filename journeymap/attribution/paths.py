"""Aggregated paths: distinct channel sequences with their conversions, value and non-conversions.

The Markov and Shapley models read paths, not touches. :func:`aggregate_paths`
builds them in the engine (each path's channels collected in order as a list of
small integer codes, then grouped by that list: no strings are built), and
:func:`read_path_file` reads the ChannelAttribution format (``path`` as
``"a > b > c"``, ``total_conversions``, ``total_conversion_value``,
``total_null``) so its users can switch. Non-converting paths are kept.

Examples
--------
>>> import io
>>> p = read_path_file(io.StringIO("path,total_conversions,total_conversion_value,total_null\\n"
...                                "a > b,2,10.0,1\\nb,0,0,3\\n"))
>>> p.channels, p.sequences(), p.conversions.tolist(), p.nulls.tolist()
(['a', 'b'], [('a', 'b'), ('b',)], [2.0, 0.0], [1.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import ibis
import ibis.expr.types as ir
import numpy as np

from journeymap.errors import InputError

PATH_FILE_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
"""The columns of a ChannelAttribution path file (value and null are optional)."""


@dataclass(frozen=True, eq=False)
class Paths:
    """Distinct paths as flat numpy arrays: path ``i`` is ``codes[offsets[i]:offsets[i+1]]``.

    >>> p = Paths.from_sequences([["a", "b"], ["b"]], conversions=[1, 0], nulls=[0, 2])
    >>> p.n_paths, p.total_conversions, p.lengths().tolist()
    (2, 1.0, [2, 1])
    """

    channels: list[str]
    offsets: np.ndarray
    codes: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray

    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[Sequence[str]],
        conversions: Sequence[float],
        value: Sequence[float] | None = None,
        nulls: Sequence[float] | None = None,
    ) -> Paths:
        """Build paths from channel sequences (channels are numbered in sorted order)."""
        channels = sorted({c for s in sequences for c in s})
        index = {c: i for i, c in enumerate(channels)}
        codes = np.array([index[c] for s in sequences for c in s], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in sequences])]).astype(np.int64)
        n = len(sequences)
        conv = np.asarray(conversions, dtype=float)
        val = np.zeros(n) if value is None else np.asarray(value, dtype=float)
        nul = np.zeros(n) if nulls is None else np.asarray(nulls, dtype=float)
        return cls(channels, offsets, codes, conv, val, nul).merged()

    @property
    def n_paths(self) -> int:
        return len(self.conversions)

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float:
        return float(self.value.sum())

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def path_index(self) -> np.ndarray:
        """For every entry of :attr:`codes`, the path it belongs to."""
        return np.repeat(np.arange(self.n_paths), self.lengths())

    def sequences(self) -> list[tuple[str, ...]]:
        """The paths as tuples of channel names (for small data and tests)."""
        names = np.array(self.channels, dtype=object)
        return [tuple(names[self.codes[a:b]]) for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]

    def with_counts(self, conversions: np.ndarray, value: np.ndarray, nulls: np.ndarray) -> Paths:
        """The same paths with other counts (bootstrap replicates)."""
        return replace(self, conversions=conversions, value=value, nulls=nulls)

    def relabelled(self, names: Sequence[str]) -> Paths:
        """The same paths with channel ``i`` renamed ``names[i]`` (codes keep their meaning)."""
        return replace(self, channels=list(names))

    def collapsed(self, merge: bool = True) -> Paths:
        """Immediate repeats removed (``a > a > b`` read as ``a > b``), as ChannelAttribution's Markov reads paths.

        With ``merge=False`` paths that became identical are not summed into one
        (the Markov chain counts them the same either way).
        """
        if len(self.codes) == 0:
            return self
        pidx = self.path_index()
        keep = np.ones(len(self.codes), dtype=bool)
        keep[1:] = (self.codes[1:] != self.codes[:-1]) | (pidx[1:] != pidx[:-1])
        counts = np.bincount(pidx[keep], minlength=self.n_paths)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        out = replace(self, offsets=offsets, codes=self.codes[keep])
        return out.merged() if merge else out

    def merged(self) -> Paths:
        """Identical sequences summed into one path; empty paths and paths with no journeys dropped."""
        lengths = self.lengths()
        ok = (lengths > 0) & ((self.conversions + self.nulls) > 0)
        seqs = self._keys()
        keys, inverse = np.unique(seqs[ok], return_inverse=True) if ok.any() else (seqs[:0], np.zeros(0, int))
        idx = np.flatnonzero(ok)
        first = np.full(len(keys), -1)
        first[inverse[::-1]] = idx[::-1]
        sums = [
            np.bincount(inverse, weights=a[ok], minlength=len(keys)) for a in (self.conversions, self.value, self.nulls)
        ]
        order = np.argsort(first, kind="stable")  # keep the order of first appearance
        first, sums = first[order], [x[order] for x in sums]
        starts, ends = self.offsets[first], self.offsets[first + 1]
        new_len = ends - starts
        offsets = np.concatenate([[0], np.cumsum(new_len)]).astype(np.int64)
        take = np.arange(offsets[-1]) + np.repeat(starts - offsets[:-1], new_len)
        codes = self.codes[take.astype(np.int64)]
        return Paths(self.channels, offsets, codes, *sums)

    def _keys(self) -> np.ndarray:
        """One hashable key per path (packed into int64 words when they fit, else bytes)."""
        lengths = self.lengths()
        bits = max(1, (len(self.channels) + 1).bit_length())
        per_word = 62 // bits
        longest = int(lengths.max()) if len(lengths) else 0
        words = -(-longest // per_word) if longest else 1
        if words > 8:
            return np.array(
                [self.codes[a:b].tobytes() for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)],
                dtype=object,
            )
        pidx = self.path_index()
        step = np.arange(len(self.codes)) - self.offsets[pidx]
        packed = np.zeros((self.n_paths, words + 1), dtype=np.int64)
        packed[:, words] = lengths
        np.add.at(packed, (pidx, step // per_word), (self.codes + 1) << ((step % per_word) * bits))
        view = np.ascontiguousarray(packed).view(np.dtype((np.void, 8 * (words + 1))))
        return view.ravel()


MAX_CHUNKS = 4
"""Paths longer than 4 int64 words of channel codes are aggregated as lists instead."""


def aggregate_paths(touches: ir.Table, con=None, method: str = "auto") -> Paths:
    """Aggregate the touches of :func:`attribution_touches` into :class:`Paths`, in the engine.

    ``method="codes"`` packs each path exactly into a few int64 words (channel
    code ``c`` at position ``p`` is ``c + 1`` shifted by ``bits * p``): summing
    them per path needs no sort, and the words are decoded in numpy.
    ``method="lists"`` collects each path's channels as an ordered list. ``auto``
    packs when the channels and the longest path fit in :data:`MAX_CHUNKS` words.
    """
    if method not in ("auto", "codes", "lists"):
        raise InputError(f"method {method!r} is unknown; use auto, codes or lists.")
    if method != "lists":
        plan = _packing(touches, con)
        if plan is not None:
            return _aggregate_codes(touches, con, *plan)
        if method == "codes":
            raise InputError("These paths are too long to pack into int64 words; use method='lists'.")
    per = touches.group_by("path_id").agg(
        seq=touches.channel.collect(order_by=touches.pos),
        conversions=touches.conversions.max(),
        value=touches.value.max(),
        nulls=touches.nulls.max(),
    )
    agg = per.group_by("seq").agg(conversions=per.conversions.sum(), value=per.value.sum(), nulls=per.nulls.sum())
    return _from_arrow(_to_arrow(agg, con))


def _packing(touches: ir.Table, con) -> tuple[list[str], int, int, int] | None:
    from journeymap.engine import execute

    per = execute(touches.group_by("channel").agg(longest=touches.pos.max()), con)  # one scan for both
    names = [str(c) for c in per["channel"] if c is not None]
    if not names or len(names) > 1000:
        return None
    longest = int(per["longest"].max())
    bits = max(1, int(len(names) + 1).bit_length())
    per_word = 62 // bits
    words = -(-longest // per_word)
    if words > MAX_CHUNKS or words == 0:
        return None
    return sorted(names), bits, per_word, words


def _aggregate_codes(touches: ir.Table, con, names: list[str], bits: int, per_word: int, words: int) -> Paths:
    touches = touches.filter(touches.channel.notnull())
    code = touches.channel.substitute({c: i + 1 for i, c in enumerate(names)}, else_=0).cast("int64")
    slot = (touches.pos - 1).cast("int64")
    touches = touches.mutate(_slot=slot, _shifted=code << ((slot % per_word) * bits))  # once per touch
    terms = {
        f"w{k}": ibis.ifelse(
            (touches._slot >= k * per_word) & (touches._slot < (k + 1) * per_word), touches._shifted, 0
        )
        .sum()
        .cast("int64")
        for k in range(words)
    }
    per = touches.group_by("path_id").agg(
        n=touches.pos.max(),
        conversions=touches.conversions.max(),
        value=touches.value.max(),
        nulls=touches.nulls.max(),
        **terms,
    )
    agg = per.group_by(["n", *terms]).agg(
        conversions=per.conversions.sum(), value=per.value.sum(), nulls=per.nulls.sum()
    )
    t = _to_arrow(agg, con)
    slots = np.asarray(t.column("n").to_numpy(), dtype=np.int64)
    packed = np.stack([np.asarray(t.column(f"w{k}").to_numpy(), dtype=np.int64) for k in range(words)], axis=1)
    pidx = np.repeat(np.arange(len(slots)), slots)
    step = np.arange(len(pidx)) - np.repeat(np.cumsum(slots) - slots, slots)
    word = packed[pidx, step // per_word] if len(pidx) else np.zeros(0, np.int64)
    digit = (word >> ((step % per_word) * bits)) & ((1 << bits) - 1)
    keep = digit > 0  # 0 marks a step that is not a credited touch (pos may have gaps)
    lengths = np.bincount(pidx[keep], minlength=len(slots))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def col(name: str) -> np.ndarray:
        return np.asarray(t.column(name).to_numpy(), dtype=float)

    paths = Paths(names, offsets, (digit[keep] - 1).astype(np.int64), col("conversions"), col("value"), col("nulls"))
    # the engine grouped by the packed words: without gaps the sequences are distinct already
    return paths if keep.all() else paths.merged()


def _to_arrow(expr: ir.Table, con):
    from journeymap.engine import to_pyarrow

    return to_pyarrow(expr, con)


def _from_arrow(table) -> Paths:
    import pyarrow as pa
    import pyarrow.compute as pc

    seq = table.column("seq")
    seq = seq.combine_chunks() if seq.num_chunks else pa.array([], pa.list_(pa.string()))
    offsets = np.asarray(seq.offsets, dtype=np.int64)
    offsets = offsets - offsets[0] if len(offsets) else np.zeros(1, np.int64)
    encoded = pc.dictionary_encode(seq.flatten().cast(pa.string()))
    names = np.array(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[np.asarray(encoded.indices, dtype=np.int64)] if len(names) else np.zeros(0, np.int64)

    def col(name: str) -> np.ndarray:
        return np.asarray(table.column(name).to_numpy(), dtype=float)

    return Paths([str(n) for n in names[order]], offsets, codes, col("conversions"), col("value"), col("nulls"))


def read_path_file(source: str | Path | IO[str], sep: str = ">") -> Paths:
    """Read a ChannelAttribution path file (CSV, ``,`` or ``;`` separated) into :class:`Paths`."""
    frame = _read_frame(source)
    paths = [[c.strip() for c in str(p).split(sep) if c.strip()] for p in frame["path"]]
    return Paths.from_sequences(
        paths, frame["total_conversions"], frame.get("total_conversion_value"), frame.get("total_null")
    )


def path_touches(paths: Paths) -> ir.Table:
    """The touches of aggregated paths as an Ibis table (``path_id, channel, pos, conversions, value, nulls``).

    Each row stands for as many journeys as its path's counts say, so heuristic
    models run on it exactly as on journeys' touches.
    """
    pidx = paths.path_index()
    pos = np.arange(len(paths.codes)) - paths.offsets[pidx] + 1
    names = np.array(paths.channels, dtype=object)
    data = {
        "path_id": pidx.astype(np.int64),
        "channel": names[paths.codes] if len(paths.codes) else [],
        "pos": pos.astype(np.int64),
        "conversions": paths.conversions[pidx],
        "value": paths.value[pidx],
        "nulls": paths.nulls[pidx],
    }
    import pandas as pd

    frame = pd.DataFrame(data).astype(
        {
            "channel": "string",
            "path_id": "int64",
            "pos": "int64",
            "conversions": "float64",
            "value": "float64",
            "nulls": "float64",
        }
    )
    return ibis.memtable(frame)


def _read_frame(source: str | Path | IO[str]):
    import pandas as pd

    try:
        frame = pd.read_csv(source, sep=None, engine="python")
    except FileNotFoundError:
        raise InputError(f"Path file {str(source)!r} does not exist; pass an existing CSV to --paths.") from None
    if "path" not in frame.columns or "total_conversions" not in frame.columns:
        raise InputError(
            f"Path file {str(getattr(source, 'name', source))!r} has columns {', '.join(map(str, frame.columns))}; "
            "it needs at least 'path' and 'total_conversions' (ChannelAttribution format)."
        )
    for col in ("total_conversions", "total_conversion_value", "total_null"):
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").fillna(0.0)
    return frame
