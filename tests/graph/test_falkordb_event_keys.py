"""FalkorDB keeps seen-event keys grouped per (user, write); stores from before are migrated."""

from __future__ import annotations

from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import EventKey
from tests.factories import delta

T0 = 1_700_000_000_000


def test_one_record_per_user_and_write_every_key_still_found(store: FalkorDBStore) -> None:
    events = [EventKey(f"k{n}", user) for n, user in enumerate(["a", "a", "b", "a", "b"])]
    assert store.upsert_interactions_once([delta("a", "i1"), delta("b", "i1")], events=events, now_ms=T0).applied
    records = store._write("MATCH (x:EventKeys) RETURN x.user, x.keys ORDER BY x.user")  # noqa: SLF001
    assert records == [["a", ["k0", "k1", "k3"]], ["b", ["k2", "k4"]]]
    # any single key of a record is recognised (the array index answers `k IN x.keys`)
    again = store.upsert_interactions_once(
        [delta("b", "i2")], events=[EventKey("k4", "b"), EventKey("k9", "b")], now_ms=T0
    )
    assert (again.applied, again.existing) == (False, ("k4",))


def test_per_event_records_of_older_stores_are_folded_in(store: FalkorDBStore) -> None:
    store._write(  # noqa: SLF001 - the layout an older graphrec wrote
        "UNWIND $rows AS r CREATE (:EventId {key: r.k, user: r.u, at: r.at})",
        {
            "rows": [
                {"k": "old1", "u": "a", "at": T0},
                {"k": "old2", "u": "a", "at": T0},
                {"k": "old3", "u": "b", "at": T0 + 5},
            ]
        },
    )
    store.apply_schema()
    assert store._write("MATCH (x:EventId) RETURN count(x)") == [[0]]  # noqa: SLF001
    replay = store.upsert_interactions_once(
        [delta("a", "i1")], events=[EventKey("old2", "a"), EventKey("new", "a")], now_ms=T0
    )
    assert (replay.applied, replay.existing) == (False, ("old2",))
    assert store.expire_event_ids(before_ms=T0 + 1) == 2  # old1, old2 kept their time
    assert store.erase_user(user_id="b") is False  # records only, no user node
    assert store.upsert_interactions_once(
        [delta("a", "i1")], events=[EventKey("old2", "a"), EventKey("old3", "b")], now_ms=T0
    ).applied
