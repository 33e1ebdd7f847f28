"""Importers against the real embedded store: validation, exactly-once, resume, every format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphrec.data.columns import aggregate
from graphrec.data.errors import InputError
from graphrec.data.importer import import_dataset, ledger_key
from graphrec.data.readers import read_dataset
from graphrec.event_types import EVENT_TYPES
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.records import BatchGuard


def unit_weigher(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1 per event, plus the rating value for ratings: simple enough to check by hand."""
    return 1.0 + np.where(codes == EVENT_TYPES.index("rating"), np.nan_to_num(values), 0.0)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def ml_dir(tmp_path: Path, data: str) -> Path:
    d = tmp_path / "ml"
    d.mkdir()
    write(d / "u.data", data)
    write(d / "u.genre", "unknown|0\nAction|1\nComedy|2\n\n")
    write(
        d / "u.item",
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n2|Heat (1995)|01-Jan-1995||http://y|0|1|0\n"
        "3|Odd (1995)|01-Jan-1995||http://z|1|0|0\n",
    )
    return d


GOOD_ML = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n"


def run_import(store: FalkorDBStore, fmt: str, path: Path, batch_size: int = 2, **kw: Path):
    dataset = read_dataset(fmt, path, **kw)
    return import_dataset(store, dataset, fmt=fmt, weigher=unit_weigher, batch_size=batch_size)


def test_movielens_import_and_idempotent_reimport(store: FalkorDBStore, tmp_path: Path) -> None:
    d = ml_dir(tmp_path, GOOD_ML)
    report = run_import(store, "movielens", d)
    assert (report.events, report.interactions, report.already_imported) == (3, 3, False)
    counts = store.counts()
    assert (counts.users, counts.items, counts.categories, counts.interactions) == (2, 3, 3, 3)
    edges = {e.item_id: e for e in store.user_interactions(user_id="1")}
    assert edges["1"].weight == pytest.approx(6.0)
    assert edges["1"].value_sums == {"rating": 5.0}
    assert edges["1"].first_ts == 881250949000
    again = run_import(store, "movielens", d)
    assert again.already_imported
    assert store.counts() == counts
    assert {e.item_id: e.weight for e in store.user_interactions(user_id="1")} == {"1": 6.0, "2": 4.0}


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        ("1\t1\t5\t881250949\n1\tx2\t3\t881250950\n", 2, "item must be a non-negative integer, got 'x2'"),
        ("1\t1\t5\t881250949\n1\t2\t3\n", 2, "expected 4 columns, got 3"),
        ("1\t1\t5\t881250949\n1\t2\t9\t881250950\n", 2, "rating must be within [1, 5]"),
        ("1\t1\t5\t881250949\n2\t2\t3\t8812x0950\n", 2, "ts must be a non-negative integer"),
    ],
)
def test_malformed_movielens_names_file_line_reason_and_writes_nothing(
    store: FalkorDBStore, tmp_path: Path, data: str, line: int, reason: str
) -> None:
    d = ml_dir(tmp_path, data)
    with pytest.raises(InputError) as err:
        run_import(store, "movielens", d)
    assert err.value.path == d / "u.data"
    assert err.value.line == line
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{d / 'u.data'}:{line}: ")
    assert store.counts().users == 0 and store.counts().interactions == 0


EVENTS = (
    "user_id,item_id,event_type,timestamp,value\n"
    "a,x,view,1700000000000,\n"
    "a,x,dwell,2023-11-14T22:13:21Z,30\n"
    "a,y,rating,2023-11-14T23:13:20+01:00,4\n"
    "b,x,click,1700000000500,\n"
)


def test_events_csv_with_catalogue(store: FalkorDBStore, tmp_path: Path) -> None:
    ev = write(tmp_path / "ev.csv", EVENTS)
    write(tmp_path / "ev.items.csv", "item_id,title,category\nx,Thing X,Tools|Garden\ny,Thing Y,Tools\n")
    report = run_import(store, "events", ev)
    assert report.interactions == 3
    counts = store.counts()
    assert (counts.users, counts.items, counts.categories) == (2, 2, 2)
    edge = {e.item_id: e for e in store.user_interactions(user_id="a")}
    assert edge["x"].type_counts == {"view": 1, "dwell": 1}
    assert edge["x"].value_sums == {"dwell": 30.0}
    assert (edge["x"].first_ts, edge["x"].last_ts) == (1700000000000, 1700000001000)
    assert edge["y"].last_ts == 1700000000000  # +01:00 normalised to UTC
    assert edge["y"].weight == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("a,x,teleport,1700000000000,", "event_type 'teleport' is not one of"),
        ("a,x,dwell,1700000000000,", "value is required for dwell events"),
        ("a,x,scroll,1700000000000,1.5", "value for scroll must be within [0, 1]"),
        ("a,x,view,yesterday,", "timestamp must be epoch milliseconds or ISO-8601 with a zone"),
        ("a,x,view,2023-11-14T22:13:21,", "ISO-8601 with a zone"),
        (",x,view,1700000000000,", "user_id is missing"),
        ("a,x,view,1700000000000,abc", "value must be a number"),
        ("a,x,view", "expected 5 columns, got 3"),
        ("a,x,view,99999999999999,", "timestamp is in the future"),
        ("a,x/y,view,1700000000000,", "item_id must not contain '/'"),
        ("a\x01b,x,view,1700000000000,", "user_id must not contain control character U+0001"),
        ('"a\tb",x,view,1700000000000,', "user_id must not contain control character U+0009"),
        ("a,x\u200db,view,1700000000000,", "item_id must not contain invisible format character U+200D"),
        ("a\ufeff,x,view,1700000000000,", "user_id must not contain invisible format character U+FEFF"),
    ],
)
def test_malformed_events_rejected_with_line(store: FalkorDBStore, tmp_path: Path, row: str, reason: str) -> None:
    ev = write(tmp_path / "bad.csv", EVENTS + row + "\n" + "c,z,view,1700000000000,\n")
    with pytest.raises(InputError) as err:
        run_import(store, "events", ev)
    assert err.value.line == 6
    assert reason in err.value.reason
    assert store.counts().interactions == 0


def test_import_ids_are_nfc_and_trimmed(store: FalkorDBStore, tmp_path: Path) -> None:
    ev = write(
        tmp_path / "nfc.csv",
        "user_id,item_id,event_type,timestamp,value\n"
        " cafe\u0301 ,x,view,1700000000000,\ncaf\u00e9,y,view,1700000000001,\n",
    )
    run_import(store, "events", ev)
    assert sorted(e.item_id for e in store.user_interactions(user_id="caf\u00e9")) == ["x", "y"]
    assert store.counts().users == 1


def test_events_bad_header(store: FalkorDBStore, tmp_path: Path) -> None:
    ev = write(tmp_path / "bad.csv", "user,item_id,event_type,timestamp\na,x,view,1\n")
    with pytest.raises(InputError, match="missing column"):
        run_import(store, "events", ev)


def test_events_parquet(store: FalkorDBStore, tmp_path: Path) -> None:
    path = tmp_path / "ev.parquet"
    pq.write_table(
        pa.table(
            {
                "user_id": ["a", "a"],
                "item_id": ["x", "y"],
                "event_type": ["purchase", "rating"],
                "timestamp": [1700000000000, 1700000000001],
                "value": [None, 2.0],
            }
        ),
        path,
    )
    run_import(store, "events", path)
    assert {e.item_id: e.weight for e in store.user_interactions(user_id="a")} == {"x": 1.0, "y": 3.0}
    bad = tmp_path / "bad.parquet"
    pq.write_table(
        pa.table(
            {"user_id": ["a"], "item_id": ["x"], "event_type": ["rating"], "timestamp": [1700000000000], "value": [7.0]}
        ),
        bad,
    )
    with pytest.raises(InputError) as err:
        run_import(store, "events", bad)
    assert err.value.line == 1 and "within [1, 5]" in err.value.reason


def test_lightgcn(store: FalkorDBStore, tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", "0 1 2 3\n1 2\n\n2 3 3\n")
    report = run_import(store, "lightgcn", path)
    assert report.events == 6 and report.interactions == 5
    assert {e.item_id: e.count for e in store.user_interactions(user_id="2")} == {"3": 2}
    with pytest.raises(InputError) as err:
        run_import(store, "lightgcn", write(tmp_path / "bad.txt", "0 1\n1 2 z\n"))
    assert err.value.line == 2 and "'z'" in err.value.reason


def test_movielens_latest_csv(store: FalkorDBStore, tmp_path: Path) -> None:
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.5,964982703\n2,10,0.5,964982224\n")
    write(tmp_path / "movies.csv", 'movieId,title,genres\n10,"GoldenEye, (1995)",Action|Adventure\n')
    run_import(store, "movielens-csv", tmp_path)
    counts = store.counts()
    assert (counts.users, counts.items, counts.categories, counts.interactions) == (2, 1, 2, 2)
    items = next(store.iter_items())
    assert items.titles == ["GoldenEye, (1995)"]


def test_interrupted_import_resumes_without_doubling(store: FalkorDBStore, tmp_path: Path) -> None:
    d = ml_dir(tmp_path, GOOD_ML)
    dataset = read_dataset("movielens", d)
    key = ledger_key("movielens", dataset.files)
    # Simulate a crash after the first committed batch of 2 rows.
    first = aggregate(dataset.events, unit_weigher).slice(0, 2)
    from graphrec.data.columns import delta_batches

    store.upsert_interactions(next(delta_batches(first, 2)), guard=BatchGuard(key, 0))
    report = import_dataset(store, dataset, fmt="movielens", weigher=unit_weigher, batch_size=2)
    assert (report.batches_skipped, report.batches_written) == (1, 1)
    assert {e.item_id: e.weight for e in store.user_interactions(user_id="1")} == {"1": 6.0, "2": 4.0}
    assert store.counts().interactions == 3


@pytest.mark.dataset
def test_ml100k_counts_and_reimport(store: FalkorDBStore, ml100k_dir: Path) -> None:
    report = run_import(store, "movielens", ml100k_dir, batch_size=10_000)
    counts = store.counts()
    assert (counts.users, counts.items, counts.interactions, counts.categories) == (943, 1682, 100_000, 19)
    assert report.interactions == 100_000
    before = {e.item_id: e.weight for e in store.user_interactions(user_id="1", limit=1000)}
    assert run_import(store, "movielens", ml100k_dir).already_imported
    assert store.counts() == counts
    assert {e.item_id: e.weight for e in store.user_interactions(user_id="1", limit=1000)} == before
