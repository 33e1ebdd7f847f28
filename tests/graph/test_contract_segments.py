"""The segment facet of the GraphStore contract, on both stores: a segmentation replaces the previous one,
bad input is refused whole, a half-done replacement still answers one segment per user."""

from __future__ import annotations

import pytest

from factories import delta
from graphrec.graph.errors import BadStoreInput
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import SEGMENTATION_META_KEY, GraphStore
from graphrec.graph.records import SegmentRecord

FEATURES = ("sessions", "purchase_per_session")


def seg(name: str, size: int, *centroid: float) -> SegmentRecord:
    return SegmentRecord(name=name, size=size, centroid=centroid, features=FEATURES, rule=f"rule of {name}")


def users(store: GraphStore, n: int) -> list[str]:
    ids = [f"u{k}" for k in range(n)]
    store.upsert_interactions([delta(u, "i1") for u in ids])
    return ids


def members(store: GraphStore) -> dict[str, str]:
    return {u: s for page in store.iter_segment_members(page_size=2) for u, s in page}


def test_segments_and_memberships_are_written_and_read_back(any_store: GraphStore) -> None:
    ids = users(any_store, 5)
    written = any_store.replace_segments(
        segments=[seg("deciders", 2, 3.0, 0.9), seg("browsers", 3, 4.5, 0.01)],
        members=[
            ("u0", "deciders"),
            ("u1", "browsers"),
            ("u2", "browsers"),
            ("u3", "deciders"),
            ("u4", "browsers"),
            ("ghost", "browsers"),
        ],  # not in the graph: no edge, not counted
        computed_ms=1_000,
    )
    assert written == 5
    got = any_store.segments()
    assert [(s.name, s.size) for s in got] == [("browsers", 3), ("deciders", 2)]
    assert got[1].centroid == (3.0, 0.9) and got[1].features == FEATURES and got[1].rule == "rule of deciders"
    assert got[0].computed_ms == 1_000
    assert members(any_store) == {
        "u0": "deciders",
        "u1": "browsers",
        "u2": "browsers",
        "u3": "deciders",
        "u4": "browsers",
    }
    assert [any_store.user_segment(user_id=u) for u in ids[:2]] == ["deciders", "browsers"]
    assert any_store.user_segment(user_id="ghost") is None
    assert any_store.get_meta(key=SEGMENTATION_META_KEY) == "1000"
    assert any_store.counts().users == 5, "segments are not users"


def test_a_new_segmentation_replaces_the_old_one_and_running_it_again_changes_nothing(any_store: GraphStore) -> None:
    users(any_store, 4)
    any_store.replace_segments(
        segments=[seg("deciders", 2, 1.0, 1.0), seg("bots", 2, 9.0, 0.0)],
        members=[("u0", "deciders"), ("u1", "deciders"), ("u2", "bots"), ("u3", "bots")],
        computed_ms=1_000,
    )
    second = {
        "segments": [seg("deciders", 1, 2.0, 0.8), seg("casual", 2, 0.5, 0.0)],
        "members": [("u0", "casual"), ("u1", "deciders"), ("u2", "casual")],
        "computed_ms": 2_000,
    }
    for _ in range(2):
        assert any_store.replace_segments(**second) == 3  # type: ignore[arg-type]
        assert {s.name: (s.size, s.centroid, s.computed_ms) for s in any_store.segments()} == {
            "deciders": (1, (2.0, 0.8), 2_000),
            "casual": (2, (0.5, 0.0), 2_000),
        }
        assert members(any_store) == {"u0": "casual", "u1": "deciders", "u2": "casual"}, "u3 left the window"
        assert any_store.user_segment(user_id="u3") is None
        assert any_store.get_meta(key=SEGMENTATION_META_KEY) == "2000"
    assert any_store.replace_segments(segments=[], members=[], computed_ms=3_000) == 0
    assert any_store.segments() == [] and members(any_store) == {}


@pytest.mark.parametrize(
    ("segments", "pairs", "reason"),
    [
        ([seg("a", 1, 0.0, 0.0), seg("a", 1, 1.0, 1.0)], [("u0", "a")], "segment names must be distinct"),
        ([seg("a", 1, 0.0, 0.0)], [("u0", "a"), ("u0", "a")], "one segment only"),
        ([seg("a", 1, 0.0, 0.0)], [("u0", "b")], "unknown segment(s): b"),
    ],
)
def test_bad_input_is_refused_whole(
    any_store: GraphStore, segments: list[SegmentRecord], pairs: list[tuple[str, str]], reason: str
) -> None:
    users(any_store, 1)
    any_store.replace_segments(segments=[seg("kept", 1, 0.0, 0.0)], members=[("u0", "kept")], computed_ms=1)
    with pytest.raises(BadStoreInput, match=reason.replace("(", r"\(").replace(")", r"\)")):
        any_store.replace_segments(segments=segments, members=pairs, computed_ms=2)
    assert [s.name for s in any_store.segments()] == ["kept"] and members(any_store) == {"u0": "kept"}
    assert any_store.get_meta(key=SEGMENTATION_META_KEY) == "1"


def test_half_way_through_a_replacement_a_user_reads_as_their_newest_segment(any_store: GraphStore) -> None:
    """A run that stopped after its memberships (before the sweep) leaves two edges; readers take the newest,
    and running the segmentation again completes it."""
    users(any_store, 2)
    any_store.replace_segments(
        segments=[seg("old", 2, 0.0, 0.0)], members=[("u0", "old"), ("u1", "old")], computed_ms=1
    )
    q = any_store._q  # type: ignore[attr-defined]  # the steps of replace_segments, stopped before the sweep
    any_store._write(
        q.UPSERT_SEGMENTS,
        {
            "run": 2,
            "rows": [  # type: ignore[attr-defined]
                {"name": "new", "size": 1, "centroid": [1.0, 1.0], "features": list(FEATURES), "rule": ""}
            ],
        },
    )
    any_store._write(q.MERGE_SEGMENT_MEMBERS, {"run": 2, "rows": [{"id": "u0", "name": "new"}]})  # type: ignore[attr-defined]
    assert any_store.user_segment(user_id="u0") == "new" and any_store.user_segment(user_id="u1") == "old"
    assert members(any_store) == {"u0": "new", "u1": "old"}
    any_store.replace_segments(segments=[seg("new", 1, 1.0, 1.0)], members=[("u0", "new")], computed_ms=2)
    assert members(any_store) == {"u0": "new"} and [s.name for s in any_store.segments()] == ["new"]


def test_erasing_or_merging_a_user_takes_their_membership_along(any_store: GraphStore) -> None:
    users(any_store, 3)
    any_store.replace_segments(
        segments=[seg("a", 3, 0.0, 0.0)], members=[("u0", "a"), ("u1", "a"), ("u2", "a")], computed_ms=5
    )
    assert any_store.erase_user(user_id="u0")
    assert any_store.merge_users(source_id="u1", target_id="u9")
    assert members(any_store) == {"u2": "a"} and any_store.user_segment(user_id="u9") is None


def test_the_embedded_store_indexes_segment_names(store: FalkorDBStore) -> None:
    """Neo4j's ``segment_name`` constraint is checked in tests/graph/test_neo4j_server.py."""
    store.apply_schema()
    assert ("Segment", "name") in store._range_indexed()
