"""Columnar event tables: validation and per-(user, item) aggregation, vectorised with pyarrow.

Every importer turns its format into one canonical table (``user_id, item_id, type, ts, value,
line``), validated here in bulk (never a Python loop per row); the first bad row becomes an
:class:`InputError` naming the file, line and reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graphrec import clock
from graphrec.data.errors import InputError
from graphrec.data.weighing import Weigher
from graphrec.event_types import EVENT_TYPES, VALUED_TYPES
from graphrec.graph.records import InteractionDelta
from graphrec.ids import FORBIDDEN_ID_PATTERN, ID_RULE, MAX_ID_LENGTH, id_problem

CANONICAL = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("type", pa.int8()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("line", pa.int64()),
    ]
)

_TYPE_SET = pa.array(EVENT_TYPES)
_CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]"  # RE2 (Arrow): C0, DEL, C1, line/paragraph separators
_FUTURE_TOLERANCE_MS = 24 * 3600 * 1000


def first_false(mask: pa.Array | pa.ChunkedArray) -> int | None:
    """Index of the first False/null in a boolean array, or None when all hold."""
    filled = pc.fill_null(mask, False)
    if pc.all(filled).as_py():
        return None
    return int(np.flatnonzero(~np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool))[0])


def require(mask: pa.Array | pa.ChunkedArray, lines: pa.Array | pa.ChunkedArray, path: Path, reason: str) -> None:
    """Raise for the first row where ``mask`` fails."""
    bad = first_false(mask)
    if bad is not None:
        raise InputError(path, int(lines[bad].as_py()), reason)


def parse_int_ids(col: pa.ChunkedArray | pa.Array, lines: pa.Array, path: Path, field: str) -> pa.Array:
    """Numeric ids (MovieLens, LightGCN): digits only, kept as their canonical decimal strings."""
    ok = pc.match_substring_regex(col, r"^\s*\d+\s*$")
    bad = first_false(ok)
    if bad is not None:
        raise InputError(
            path, int(lines[bad].as_py()), f"{field} must be a non-negative integer, got {col[bad].as_py()!r}"
        )
    return pc.cast(pc.cast(pc.utf8_trim_whitespace(col), pa.int64()), pa.string())


def parse_float(
    col: pa.ChunkedArray | pa.Array, lines: pa.Array, path: Path, field: str, *, allow_null: bool
) -> pa.Array:
    text = pc.utf8_trim_whitespace(col)
    empty = pc.or_kleene(pc.is_null(text), pc.equal(text, ""))
    ok = pc.or_kleene(pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), empty)
    bad = first_false(ok)
    if bad is not None:
        raise InputError(path, int(lines[bad].as_py()), f"{field} must be a number, got {col[bad].as_py()!r}")
    if not allow_null:
        bad = first_false(pc.invert(empty))
        if bad is not None:
            raise InputError(path, int(lines[bad].as_py()), f"{field} is missing")
    return pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()), text), pa.float64())


def parse_timestamps(col: pa.ChunkedArray | pa.Array, lines: pa.Array, path: Path) -> pa.Array:
    """Epoch milliseconds, or ISO-8601 with a zone (``Z`` or ``+01:00``); stored as UTC epoch ms."""
    text = pc.utf8_trim_whitespace(col)
    missing = first_false(pc.and_kleene(pc.invert(pc.is_null(text)), pc.not_equal(text, "")))
    if missing is not None:
        raise InputError(path, int(lines[missing].as_py()), "timestamp is missing")
    digits = pc.match_substring_regex(text, r"^\d{1,16}$")
    as_int = pc.cast(pc.if_else(digits, text, pa.scalar("0")), pa.int64())
    iso_text = pc.if_else(digits, pa.scalar("1970-01-01T00:00:00Z"), text)
    try:
        iso = pc.cast(pc.cast(iso_text, pa.timestamp("ms", tz="UTC")), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        for k in range(len(iso_text)):  # error path only: find the offending row
            try:
                pc.cast(pa.array([iso_text[k].as_py()]), pa.timestamp("ms", tz="UTC"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputError(
                    path,
                    int(lines[k].as_py()),
                    f"timestamp must be epoch milliseconds or ISO-8601 with a zone, got {text[k].as_py()!r}",
                ) from None
        raise
    ts = pc.if_else(digits, as_int, iso)
    now_ms = clock.now_ms()
    require(pc.less_equal(ts, now_ms + _FUTURE_TOLERANCE_MS), lines, path, "timestamp is in the future")
    return ts


def parse_event_types(col: pa.ChunkedArray | pa.Array, lines: pa.Array, path: Path) -> pa.Array:
    codes = pc.index_in(pc.utf8_lower(pc.utf8_trim_whitespace(col)), value_set=_TYPE_SET)
    bad = first_false(pc.invert(pc.is_null(codes)))
    if bad is not None:
        raise InputError(
            path, int(lines[bad].as_py()), f"event_type {col[bad].as_py()!r} is not one of {', '.join(EVENT_TYPES)}"
        )
    return pc.cast(codes, pa.int8())


def check_values(types: pa.Array, values: pa.Array, lines: pa.Array, path: Path) -> None:
    """Valued types need a value within their range; other types must not carry a stray one."""
    for name, (unit, low, high) in VALUED_TYPES.items():
        code = EVENT_TYPES.index(name)
        is_type = pc.equal(types, code)
        require(
            pc.invert(pc.and_kleene(is_type, pc.is_null(values))),
            lines,
            path,
            f"value is required for {name} events ({unit})",
        )
        in_range = pc.and_kleene(pc.greater_equal(values, low), pc.less_equal(values, high))
        require(
            pc.or_kleene(pc.invert(is_type), pc.fill_null(in_range, False)),
            lines,
            path,
            f"value for {name} must be within [{low:g}, {high:g}] {unit}",
        )


def require_nonempty(col: pa.ChunkedArray | pa.Array, lines: pa.Array, path: Path, field: str) -> pa.Array:
    """An id column under the id rule (graphrec.ids), checked as a whole column.

    Whitespace around a cell is file padding and is trimmed; what remains is NFC-normalised and must
    hold no control character and no '/'."""
    text = pc.utf8_normalize(pc.utf8_trim_whitespace(col), "NFC")
    require(pc.and_kleene(pc.invert(pc.is_null(text)), pc.not_equal(text, "")), lines, path, f"{field} is missing")
    require(
        pc.less_equal(pc.utf8_length(text), MAX_ID_LENGTH),
        lines,
        path,
        f"{field} is longer than {MAX_ID_LENGTH} characters",
    )
    bad = pc.match_substring_regex(text, FORBIDDEN_ID_PATTERN)
    first = first_false(pc.invert(bad))
    if first is not None:
        problem = id_problem(text[first].as_py()) or "breaks the id rule"
        raise InputError(path, int(lines[first].as_py()), f"{field} {problem} (ids: {ID_RULE})")
    return text


def optional_text(
    col: pa.ChunkedArray | pa.Array, lines: pa.Array, path: Path, field: str, *, max_length: int | None
) -> pa.Array:
    """An optional context column (session id, device, page section): empty cells are null; the rest is
    trimmed and NFC-normalised, then held to the id rule (``max_length`` None: it is an id, such as a
    session id) or to at most ``max_length`` characters without control characters."""
    text = pc.utf8_normalize(pc.utf8_trim_whitespace(col), "NFC")
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    absent = pc.is_null(text)
    limit = MAX_ID_LENGTH if max_length is None else max_length
    require(
        pc.or_kleene(absent, pc.less_equal(pc.utf8_length(text), limit)),
        lines,
        path,
        f"{field} is longer than {limit} characters",
    )
    pattern = FORBIDDEN_ID_PATTERN if max_length is None else _CONTROL_PATTERN
    first = first_false(pc.invert(pc.fill_null(pc.match_substring_regex(text, pattern), False)))
    if first is not None:
        line = int(lines[first].as_py())
        if max_length is None:
            problem = id_problem(text[first].as_py()) or "breaks the id rule"
            raise InputError(path, line, f"{field} {problem} (ids: {ID_RULE})")
        raise InputError(path, line, f"{field} must not contain control characters")
    return pc.cast(text, pa.string())


def canonical_table(
    user_id: pa.Array, item_id: pa.Array, types: pa.Array, ts: pa.Array, values: pa.Array, lines: pa.Array
) -> pa.Table:
    return pa.Table.from_arrays([user_id, item_id, types, ts, values, lines], schema=CANONICAL)


def aggregate(events: pa.Table, weigher: Weigher) -> pa.Table:
    """One row per (user, item): summed weight, count, first/last ts, per-type counts and value sums.

    Rows come sorted by (user, item), so batches are the same on every run of the same input
    (the import ledger resumes by batch number).
    """
    codes = events.column("type").to_numpy()
    values = events.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    weights = np.asarray(weigher(codes, values), dtype=np.float64)
    cols: dict[str, pa.Array | np.ndarray] = {
        "u": events.column("user_id"),
        "i": events.column("item_id"),
        "w": weights,
        "ts": events.column("ts"),
        "one": np.ones(len(codes), dtype=np.int64),
    }
    aggs: list[tuple[str, str]] = [("w", "sum"), ("one", "sum"), ("ts", "min"), ("ts", "max")]
    for code, name in enumerate(EVENT_TYPES):
        is_type = codes == code
        if is_type.any():
            cols[f"n_{name}"] = is_type.astype(np.int64)
            aggs.append((f"n_{name}", "sum"))
            if name in VALUED_TYPES:
                cols[f"s_{name}"] = np.where(is_type, np.nan_to_num(values), 0.0)
                aggs.append((f"s_{name}", "sum"))
    grouped = pa.table(cols).group_by(["u", "i"]).aggregate(aggs)
    renamed = grouped.rename_columns(
        [
            {"w_sum": "w", "one_sum": "c", "ts_min": "f", "ts_max": "l"}.get(n, n.removesuffix("_sum"))
            for n in grouped.column_names
        ]
    )
    return renamed.sort_by([("u", "ascending"), ("i", "ascending")])


def delta_batches(
    aggregated: pa.Table, batch_size: int, *, weight_cap: float | None = None
) -> Iterator[list[InteractionDelta]]:
    """InteractionDelta batches from an aggregated table; zero per-type counts are left out. Each delta
    carries ``weight_cap``, the weighting policy's edge cap (None: the edges keep the caps they have)."""
    type_cols = [n for n in aggregated.column_names if n.startswith("n_")]
    sum_cols = [n for n in aggregated.column_names if n.startswith("s_")]
    for batch in aggregated.to_batches(max_chunksize=batch_size):
        b = batch.to_pydict()
        n = len(b["u"])
        counts = [{c[2:]: b[c][k] for c in type_cols if b[c][k]} for k in range(n)]
        sums = [{c[2:]: b[c][k] for c in sum_cols if b[f"n_{c[2:]}"][k]} for k in range(n)]
        yield [
            InteractionDelta(
                user_id=b["u"][k],
                item_id=b["i"][k],
                weight=b["w"][k],
                count=b["c"][k],
                first_ts=b["f"][k],
                last_ts=b["l"][k],
                type_counts=counts[k],
                value_sums=sums[k],
                weight_cap=weight_cap,
            )
            for k in range(n)
        ]
