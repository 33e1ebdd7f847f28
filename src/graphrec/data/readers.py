"""Readers for each import format: file(s) -> validated canonical event table (+ catalogue, users).

Readers parse whole files with pyarrow's multithreaded CSV reader and validate in bulk, so a bad
row anywhere is found before anything is written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from graphrec import clock
from graphrec.data.choices import FORMATS
from graphrec.data.columns import (
    canonical_table,
    check_values,
    optional_text,
    parse_event_types,
    parse_float,
    parse_int_ids,
    parse_timestamps,
    require,
    require_nonempty,
)
from graphrec.data.errors import InputError
from graphrec.data.ratings import RatingMode, apply_rating_mode
from graphrec.event_types import EVENT_TYPES
from graphrec.graph.records import ItemRecord, UserRecord

EVENT_COLUMNS = ("user_id", "item_id", "event_type", "timestamp")
# Optional context columns of the events format, kept for the event log (not the graph), with the rule
# each is held to: an id under the id rule, or free text of at most so many characters. The API's
# event context has the same fields and limits (graphrec.events.schema.EventContext).
CONTEXT_COLUMNS: dict[str, int | None] = {"session_id": None, "device": 64, "section": 256}
OPTIONAL_COLUMNS = ("value", *CONTEXT_COLUMNS)
_RATING = EVENT_TYPES.index("rating")
_CLICK = EVENT_TYPES.index("click")


@dataclass
class Dataset:
    """What one import writes: events plus optional catalogue and user attributes."""

    events: pa.Table
    items: list[ItemRecord] = field(default_factory=list)
    users: list[UserRecord] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _line_of(path: Path, text: str, header_lines: int) -> int | None:
    """Line number of a row pyarrow rejected (error path only)."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number > header_lines and raw.rstrip(b"\r\n").decode("utf-8", "replace") == text:
                return number
    return None


def read_delimited(
    path: Path,
    columns: list[str],
    *,
    delimiter: str,
    header: bool,
    encoding: str = "utf8",
    quoting: bool = True,
    min_columns: int | None = None,
) -> pa.Table:
    """All columns as strings plus a ``line`` column; a row with the wrong column count is an error."""
    if not path.is_file():
        raise InputError(path, None, "file not found")
    bad: list[tuple[str, int, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.text, row.expected_columns, row.actual_columns))
        return "skip"

    read = pacsv.ReadOptions(encoding=encoding, column_names=None if header else columns, use_threads=True)
    parse = pacsv.ParseOptions(
        delimiter=delimiter, quote_char='"' if quoting else False, invalid_row_handler=on_invalid
    )
    try:
        table = pacsv.read_csv(
            path,
            read_options=read,
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                include_columns=None if header else columns,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(path, None, f"cannot parse: {exc}") from None
    if bad:
        text, expected, actual = bad[0]
        line = _line_of(path, text, 1 if header else 0)
        if min_columns is None or actual < min_columns:
            raise InputError(path, line, f"expected {expected} columns, got {actual}: {text[:80]!r}")
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(path, 1, f"missing column(s) {', '.join(missing)}; header is {', '.join(table.column_names)}")
    first = 2 if header else 1
    lines = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    if bad:  # skipped rows shift the numbering; find true lines only when that happened
        lines = pa.array(_true_lines(path, header, table.num_rows))
    return table.append_column("line", lines)


def _true_lines(path: Path, header: bool, rows: int) -> np.ndarray:
    with open(path, "rb") as fh:
        nonblank = [n for n, raw in enumerate(fh, start=1) if raw.strip()]
    return np.asarray(nonblank[1:] if header else nonblank, dtype=np.int64)[:rows]


def _ratings(
    path: Path, table: pa.Table, user: str, item: str, rating: str, ts: str, low: float, high: float
) -> pa.Table:
    lines = table.column("line")
    users = parse_int_ids(table.column(user), lines, path, user)
    items = parse_int_ids(table.column(item), lines, path, item)
    values = parse_float(table.column(rating), lines, path, rating, allow_null=False)
    require(
        pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high)),
        lines,
        path,
        f"{rating} must be within [{low:g}, {high:g}]",
    )
    stamps = parse_int_ids(table.column(ts), lines, path, ts)
    ts_ms = pc.multiply(pc.cast(stamps, pa.int64()), 1000)
    types = pa.array(np.full(table.num_rows, _RATING, dtype=np.int8))
    return canonical_table(users, items, types, ts_ms, pc.max_element_wise(values, 1.0), lines)


def read_movielens(path: Path, *, ratings: RatingMode = "signed") -> Dataset:
    """MovieLens 100K directory (``u.data``, ``u.item``, ``u.genre``, optional ``u.user``); ``ratings``:
    see :mod:`graphrec.data.ratings`."""
    if not path.is_dir():
        raise InputError(path, None, "expected the MovieLens 100K directory (with u.data, u.item)")
    data = path / "u.data"
    table = read_delimited(data, ["user", "item", "rating", "ts"], delimiter="\t", header=False)
    events = apply_rating_mode(_ratings(data, table, "user", "item", "rating", "ts", 1, 5), ratings)
    genres = _ml_genres(path / "u.genre")
    items = _ml_items(path / "u.item", genres)
    users = _ml_users(path / "u.user") if (path / "u.user").exists() else []
    files = [data, path / "u.item", path / "u.genre"] + ([path / "u.user"] if users else [])
    return Dataset(events=events, items=items, users=users, files=files)


def read_movielens_items(path: Path) -> list[ItemRecord]:
    """The movies of a MovieLens directory with their titles and genres: 100K's ``u.item`` and ``u.genre``,
    or 1M's ``movies.dat`` (``id::title::genre|genre``); what ``graphrec evaluate`` gives the content
    features (the import reads the same files through :func:`read_movielens`)."""
    if (path / "u.item").is_file():
        return _ml_items(path / "u.item", _ml_genres(path / "u.genre"))
    movies = path / "movies.dat"
    if not movies.is_file():
        raise InputError(path, None, "no u.item (100K) or movies.dat (1M): the movies' titles and genres are missing")
    records = []
    for number, line in enumerate(movies.read_text(encoding="latin1").splitlines(), start=1):
        parts = line.split("::")
        if len(parts) != 3:
            raise InputError(movies, number, "expected id::title::genres")
        records.append(ItemRecord(id=parts[0], title=parts[1], categories=tuple(g for g in parts[2].split("|") if g)))
    return records


def _ml_genres(path: Path) -> list[str]:
    table = read_delimited(path, ["name", "idx"], delimiter="|", header=False, quoting=False)
    idx = parse_int_ids(table.column("idx"), table.column("line"), path, "genre index")
    names = table.column("name").to_pylist()
    order = np.argsort(np.asarray(pc.cast(idx, pa.int64())))
    return [names[k] for k in order]


def _ml_items(path: Path, genres: list[str]) -> list[ItemRecord]:
    cols = ["id", "title", "release", "video_release", "url", *[f"g{k}" for k in range(len(genres))]]
    table = read_delimited(path, cols, delimiter="|", header=False, encoding="latin1", quoting=False)
    ids = parse_int_ids(table.column("id"), table.column("line"), path, "movie id").to_pylist()
    flags = np.stack(
        [np.asarray(pc.equal(table.column(f"g{k}"), "1").to_numpy(zero_copy_only=False)) for k in range(len(genres))],
        axis=1,
    )
    titles = table.column("title").to_pylist()
    releases = table.column("release").to_pylist()
    return [
        ItemRecord(
            id=ids[r],
            title=titles[r],
            categories=tuple(genres[g] for g in np.flatnonzero(flags[r])),
            props={"release_date": releases[r]} if releases[r] else {},
        )
        for r in range(len(ids))
    ]


def _ml_users(path: Path) -> list[UserRecord]:
    table = read_delimited(
        path, ["id", "age", "gender", "occupation", "zip"], delimiter="|", header=False, quoting=False
    )
    lines = table.column("line")
    ids = parse_int_ids(table.column("id"), lines, path, "user id").to_pylist()
    ages = parse_int_ids(table.column("age"), lines, path, "age").to_pylist()
    genders = table.column("gender").to_pylist()
    jobs = table.column("occupation").to_pylist()
    return [
        UserRecord(id=u, props={"age": int(a), "gender": g, "occupation": o})
        for u, a, g, o in zip(ids, ages, genders, jobs, strict=True)
    ]


def read_movielens_csv(path: Path, *, ratings: RatingMode = "signed") -> Dataset:
    """MovieLens "latest" directory (``ratings.csv``, ``movies.csv``) or a ``ratings.csv`` file."""
    ratings_csv = path / "ratings.csv" if path.is_dir() else path
    table = read_delimited(ratings_csv, ["userId", "movieId", "rating", "timestamp"], delimiter=",", header=True)
    events = apply_rating_mode(
        _ratings(ratings_csv, table, "userId", "movieId", "rating", "timestamp", 0.5, 5), ratings
    )
    movies = ratings_csv.parent / "movies.csv"
    items: list[ItemRecord] = []
    files = [ratings_csv]
    if movies.exists():
        mt = read_delimited(movies, ["movieId", "title", "genres"], delimiter=",", header=True)
        ids = parse_int_ids(mt.column("movieId"), mt.column("line"), movies, "movieId").to_pylist()
        titles = mt.column("title").to_pylist()
        genres = mt.column("genres").to_pylist()
        items = [
            ItemRecord(
                id=i, title=t, categories=tuple(g for g in (gs or "").split("|") if g and g != "(no genres listed)")
            )
            for i, t, gs in zip(ids, titles, genres, strict=True)
        ]
        files.append(movies)
    return Dataset(events=events, items=items, files=files)


def read_lightgcn(path: Path) -> Dataset:
    """LightGCN ``train.txt``: ``user item item ...`` per line, implicit positives.

    The format has no timestamps or types: each pair becomes one ``click`` stamped with the import
    time (so recency decay treats the file as fresh).
    """
    if not path.is_file():
        raise InputError(path, None, "file not found")
    users: list[np.ndarray] = []
    items: list[np.ndarray] = []
    lines: list[np.ndarray] = []
    with open(path, encoding="utf8") as fh:
        for number, raw in enumerate(fh, start=1):  # per user line, not per interaction
            parts = raw.split()
            if not parts:
                continue
            try:
                ids = np.array(parts, dtype=np.int64)
            except ValueError:
                bad = next(p for p in parts if not p.isdigit())
                raise InputError(path, number, f"ids must be non-negative integers, got {bad!r}") from None
            if (ids < 0).any():
                raise InputError(path, number, "ids must be non-negative integers")
            if len(ids) < 2:
                raise InputError(path, number, "expected a user id followed by at least one item id")
            users.append(np.full(len(ids) - 1, ids[0]))
            items.append(ids[1:])
            lines.append(np.full(len(ids) - 1, number))
    if not users:
        raise InputError(path, None, "no interactions found")
    u = np.concatenate(users)
    now = clock.now_ms()
    return Dataset(
        events=canonical_table(
            pa.array(u.astype(str)),
            pa.array(np.concatenate(items).astype(str)),
            pa.array(np.full(len(u), _CLICK, dtype=np.int8)),
            pa.array(np.full(len(u), now, dtype=np.int64)),
            pa.nulls(len(u), pa.float64()),
            pa.array(np.concatenate(lines)),
        ),
        files=[path],
    )


def read_events(path: Path, items_path: Path | None = None) -> Dataset:
    """Generic events: CSV or Parquet with ``user_id,item_id,event_type,timestamp`` and optionally ``value``,
    ``session_id``, ``device`` and ``section`` (context the event log keeps; an empty cell is "unknown").

    An item catalogue (``item_id,title,category``; category may hold ``A|B``) is read from
    ``items_path`` or, when absent, from ``<name>.items.csv`` beside the events file.
    """
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        if not path.is_file():
            raise InputError(path, None, "file not found")
        try:
            raw = pq.read_table(path)
        except pa.ArrowInvalid as exc:
            raise InputError(path, None, f"not a readable Parquet file: {exc}") from None
        missing = [c for c in EVENT_COLUMNS if c not in raw.column_names]
        if missing:
            raise InputError(path, None, f"missing column(s) {', '.join(missing)}")
        table = pa.table(
            {
                c: pc.cast(raw.column(c), pa.string())
                for c in (*EVENT_COLUMNS, *OPTIONAL_COLUMNS)
                if c in raw.column_names
            }
        )
        table = table.append_column("line", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))
    else:
        header = _header(path)
        cols = [*EVENT_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in header)]
        table = read_delimited(path, cols, delimiter=",", header=True)
        unknown = [c for c in header if c not in (*EVENT_COLUMNS, *OPTIONAL_COLUMNS)]
        if unknown:
            raise InputError(
                path,
                1,
                f"unexpected column(s) {', '.join(unknown)}; expected "
                f"{','.join(EVENT_COLUMNS)} and optionally {','.join(OPTIONAL_COLUMNS)}",
            )
    lines = table.column("line")
    user = require_nonempty(table.column("user_id"), lines, path, "user_id")
    item = require_nonempty(table.column("item_id"), lines, path, "item_id")
    types = parse_event_types(table.column("event_type"), lines, path)
    ts = parse_timestamps(table.column("timestamp"), lines, path)
    if "value" in table.column_names:
        values = parse_float(table.column("value"), lines, path, "value", allow_null=True)
    else:
        values = pa.nulls(table.num_rows, pa.float64())
    check_values(types, values, lines, path)
    events = canonical_table(user, item, types, ts, values, lines)
    for name, max_length in CONTEXT_COLUMNS.items():
        if name in table.column_names:
            events = events.append_column(
                name, optional_text(table.column(name), lines, path, name, max_length=max_length)
            )
    dataset = Dataset(events=events, files=[path])
    catalogue = items_path or path.with_name(path.name.split(".")[0] + ".items.csv")
    if items_path is not None or catalogue.exists():
        dataset.items = read_catalogue(catalogue)
        dataset.files.append(catalogue)
    return dataset


def _header(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(path, None, "file not found")
    with open(path, encoding="utf8", newline="") as fh:
        first = next(csv.reader(fh), [])
    if not first:
        raise InputError(path, 1, "empty file: expected a header user_id,item_id,event_type,timestamp[,value,...]")
    return [c.strip() for c in first]


def read_catalogue(path: Path) -> list[ItemRecord]:
    table = read_delimited(path, ["item_id", "title", "category"], delimiter=",", header=True)
    ids = require_nonempty(table.column("item_id"), table.column("line"), path, "item_id").to_pylist()
    titles = table.column("title").to_pylist()
    cats = table.column("category").to_pylist()
    return [
        ItemRecord(id=i, title=t or None, categories=tuple(c for c in (cs or "").split("|") if c))
        for i, t, cs in zip(ids, titles, cats, strict=True)
    ]


def read_dataset(fmt: str, path: Path, *, items_path: Path | None = None, ratings: RatingMode = "signed") -> Dataset:
    """``ratings`` applies to the MovieLens formats (see :mod:`graphrec.data.ratings`)."""
    if fmt == "movielens":
        return read_movielens(path, ratings=ratings)
    if fmt == "movielens-csv":
        return read_movielens_csv(path, ratings=ratings)
    if fmt == "lightgcn":
        return read_lightgcn(path)
    if fmt == "events":
        return read_events(path, items_path)
    raise InputError(path, None, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
