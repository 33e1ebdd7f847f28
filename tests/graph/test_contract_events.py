"""Contract for the GraphStore methods behind event ingestion (exactly-once writes, reweigh, identity).

Every adapter must pass these against a real server (FalkorDB always; Neo4j with NEO4J_URI).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from factories import T0, delta
from graphrec.graph.errors import BadStoreInput
from graphrec.graph.port import EventKey, GraphStore, WeightUpdate
from graphrec.graph.records import InteractionDelta, UserRecord


def _keys(*pairs: tuple[str, str]) -> list[EventKey]:
    return [EventKey(key=k, user_id=u) for k, u in pairs]


def test_once_applies_then_refuses_replays_whole(any_store: GraphStore) -> None:
    got = any_store.upsert_interactions_once(
        [delta("u1", "i1", 2.0, count=2)], events=_keys(("k1", "u1"), ("k2", "u1")), now_ms=T0
    )
    assert got.applied and got.edges == 1 and got.existing == () and got.refused_users == ()
    # Any already-seen key refuses the whole batch: nothing of it is written.
    got = any_store.upsert_interactions_once(
        [delta("u1", "i1", 1.0), delta("u2", "i2", 1.0)], events=_keys(("k2", "u1"), ("k3", "u2")), now_ms=T0
    )
    assert not got.applied and got.existing == ("k2",)
    assert any_store.user_interactions(user_id="u1")[0].weight == pytest.approx(2.0)
    assert not any_store.user_exists(user_id="u2")
    # Without the seen key the rest goes through, once.
    assert any_store.upsert_interactions_once([delta("u2", "i2", 1.0)], events=_keys(("k3", "u2")), now_ms=T0).applied
    assert not any_store.upsert_interactions_once(
        [delta("u2", "i2", 1.0)], events=_keys(("k3", "u2")), now_ms=T0
    ).applied
    e = any_store.user_interactions(user_id="u2")[0]
    assert (e.weight, e.count, dict(e.type_counts)) == (pytest.approx(1.0), 1, {"view": 1})


def test_once_records_events_without_deltas(any_store: GraphStore) -> None:
    # Events that were cleaned away (bursts, bots) are recorded too, so a retry sees them.
    assert any_store.upsert_interactions_once([], events=_keys(("k1", "u1")), now_ms=T0).applied
    assert any_store.upsert_interactions_once([], events=_keys(("k1", "u1")), now_ms=T0).existing == ("k1",)
    assert any_store.counts().interactions == 0


def test_once_refuses_users_without_consent(any_store: GraphStore) -> None:
    any_store.upsert_users([UserRecord("no", {"consent": False}), UserRecord("yes", {"consent": True})])
    got = any_store.upsert_interactions_once(
        [delta("no", "i1"), delta("yes", "i1")], events=_keys(("a", "no"), ("b", "yes")), now_ms=T0
    )
    assert not got.applied and got.refused_users == ("no",) and got.existing == ()
    assert any_store.counts().interactions == 0
    # The refused batch recorded no keys: the consenting user's event still goes through.
    assert any_store.upsert_interactions_once([delta("yes", "i1")], events=_keys(("b", "yes")), now_ms=T0).applied


def test_once_rejects_repeated_keys_and_deltas_without_events(any_store: GraphStore) -> None:
    with pytest.raises(ValueError):
        any_store.upsert_interactions_once([delta("u", "i")], events=_keys(("k", "u"), ("k", "u")), now_ms=T0)
    with pytest.raises(ValueError):
        any_store.upsert_interactions_once([delta("u", "i")], events=[], now_ms=T0)
    assert any_store.upsert_interactions_once([], events=[], now_ms=T0).applied


def test_once_keeps_degrees_exact(any_store: GraphStore) -> None:
    any_store.upsert_interactions_once([delta("u1", "a"), delta("u1", "b")], events=_keys(("1", "u1")), now_ms=T0)
    any_store.upsert_interactions_once([delta("u2", "a"), delta("u1", "a")], events=_keys(("2", "u2")), now_ms=T0)
    got = {c.item_id: c.score for c in any_store.co_interaction_candidates_for_item(item_id="b")}
    assert got == pytest.approx({"a": 2.0 / (1 * 2) ** 0.5})  # deg(b)=1, deg(a)=2; w(u1,a)=2


def test_iter_interaction_aggregates_pages_every_edge_with_aggregates(any_store: GraphStore) -> None:
    rows = [
        delta(f"u{u:02d}", f"i{k}", 1.0 + k, types={"click": 1, "dwell": 2}, sums={"dwell": 10.0 * k}, count=3)
        for u in range(12)
        for k in range(3)
    ]
    any_store.upsert_interactions(rows)
    pages = list(any_store.iter_interaction_aggregates(page_size=5))
    assert len(pages) > 2
    users = [e.user_id for p in pages for e in p]
    assert users == sorted(users)  # whole users, ascending
    got = {(e.user_id, e.item_id): e for p in pages for e in p}
    assert len(got) == len(rows)
    e = got[("u03", "i2")]
    assert (e.weight, e.count) == (pytest.approx(3.0), 3)
    assert dict(e.type_counts) == {"click": 1, "dwell": 2}
    assert dict(e.value_sums) == {"dwell": pytest.approx(20.0)}
    any_store.clear()
    assert list(any_store.iter_interaction_aggregates()) == []


def test_set_interaction_weights_is_optimistic(any_store: GraphStore) -> None:
    any_store.upsert_interactions([delta("u", "a", 1.0), delta("u", "b", 1.0)])
    stale = any_store.set_interaction_weights(
        [
            WeightUpdate("u", "a", 7.5, expected_count=1),
            WeightUpdate("u", "b", 9.0, expected_count=5),  # count moved on: left alone
            WeightUpdate("u", "zzz", 1.0, expected_count=1),  # no such edge: never created
        ]
    )
    assert sorted(stale) == [("u", "b"), ("u", "zzz")]
    edges = {e.item_id: e for e in any_store.user_interactions(user_id="u")}
    assert edges["a"].weight == pytest.approx(7.5) and edges["b"].weight == pytest.approx(1.0)
    assert set(edges) == {"a", "b"} and not any_store.item_exists(item_id="zzz")


def _capped(user: str, item: str, weight: float, cap: float | None = 20.0) -> InteractionDelta:
    return replace(delta(user, item, weight, types={"click": 1}), weight_cap=cap)


def _weights(store: GraphStore, user: str) -> dict[str, float]:
    return {e.item_id: e.weight for e in store.user_interactions(user_id=user)}


def test_an_edge_saturates_at_its_cap_and_keeps_its_raw_sum(any_store: GraphStore) -> None:
    # Three writes of 8 reach 24: the weight stays at the cap, 20. A dislike of 10 then leaves 14 (the
    # raw sum minus 10), not 10: the cap clamps the sum, never the running weight.
    for _ in range(3):
        any_store.upsert_interactions([_capped("u", "a", 8.0), _capped("u", "b", -8.0)])
    assert _weights(any_store, "u") == {"a": 20.0, "b": -20.0}
    any_store.upsert_interactions([_capped("u", "a", -10.0), _capped("u", "b", 1.0, cap=None)])
    assert _weights(any_store, "u") == {"a": 14.0, "b": -20.0}  # b kept its cap: raw -23
    # the degrees count the positive weights only: u -> a, not u -> b
    any_store.upsert_interactions([delta("v", "a"), delta("v", "b")])
    degrees = any_store._read(  # noqa: SLF001 - the endpoints' degree, which no port method returns
        "MATCH (n) WHERE n:User OR n:Item RETURN n.id, n.degree ORDER BY n.id"
    )
    assert [tuple(r) for r in degrees] == [("a", 2), ("b", 1), ("u", 1), ("v", 2)]


def test_a_cap_must_be_positive(any_store: GraphStore) -> None:
    # the degrees read an edge's sign off its raw sum: the saturated weight's sign under a positive cap only
    for cap in (0.0, -5.0, float("nan")):
        with pytest.raises(BadStoreInput, match="a weight cap must be positive"):
            any_store.upsert_interactions([_capped("u", "a", 1.0, cap=cap)])
        with pytest.raises(BadStoreInput, match="a weight cap must be positive"):
            any_store.set_interaction_weights([WeightUpdate("u", "a", 1.0, expected_count=1, weight_cap=cap)])
    assert any_store.counts().interactions == 0


def test_a_merge_adds_the_raw_sums_and_saturates_them(any_store: GraphStore) -> None:
    any_store.upsert_interactions([_capped("anon", "i", 15.0), _capped("user", "i", 15.0)])
    assert any_store.merge_users(source_id="anon", target_id="user") is True
    assert _weights(any_store, "user") == {"i": 20.0}
    any_store.upsert_interactions([_capped("user", "i", -12.0)])
    assert _weights(any_store, "user") == {"i": 18.0}  # 30 - 12


def test_an_edge_written_before_raw_sums_were_kept_saturates_from_its_weight(any_store: GraphStore) -> None:
    any_store._write(  # noqa: SLF001 - an edge as a store written before this release holds it
        "CREATE (:User {id: 'old', degree: 1})-[:INTERACTED {weight: 30.0, count: 30, first_ts: $t, last_ts: $t}]"
        "->(:Item {id: 'x', degree: 1})",
        {"t": T0},
    )
    any_store.upsert_interactions([_capped("old", "x", 1.0)])
    assert _weights(any_store, "old") == {"x": 20.0}
    any_store.upsert_interactions([_capped("old", "x", -15.0)])
    assert _weights(any_store, "old") == {"x": 16.0}  # 30 + 1 - 15


def test_set_interaction_weights_saturates_at_the_cap(any_store: GraphStore) -> None:
    any_store.upsert_interactions([delta("u", "a", 1.0)])
    assert any_store.set_interaction_weights([WeightUpdate("u", "a", 30.0, expected_count=1, weight_cap=20.0)]) == []
    assert _weights(any_store, "u") == {"a": 20.0}
    any_store.upsert_interactions([delta("u", "a", -15.0)])  # names no cap: the edge keeps 20
    assert _weights(any_store, "u") == {"a": 15.0}


def _seen(store: GraphStore, key: str, user: str) -> bool:
    """Whether event ``key`` counts as seen: a replay of it (recorded for ``user``) is refused."""
    return store.upsert_interactions_once([], events=_keys((key, user)), now_ms=T0).existing == (key,)


def test_merge_re_owns_event_records_and_is_idempotent(any_store: GraphStore) -> None:
    any_store.upsert_interactions_once([delta("anon:x", "i1")], events=_keys(("kx", "anon:x")), now_ms=T0)
    any_store.upsert_interactions_once([delta("u", "i2")], events=_keys(("ku", "u")), now_ms=T0)
    # Events cleaned away (bursts, bots) leave records and no user node: a merge re-owns them too.
    any_store.upsert_interactions_once([], events=_keys(("kg", "anon:ghost")), now_ms=T0)
    assert any_store.merge_users(source_id="anon:x", target_id="u") is True
    assert any_store.merge_users(source_id="anon:ghost", target_id="u") is False
    edges = any_store.user_interactions(user_id="u")
    # Merging again finds nothing to move and changes nothing.
    assert any_store.merge_users(source_id="anon:x", target_id="u") is False
    assert any_store.user_interactions(user_id="u") == edges and [e.item_id for e in edges] == ["i1", "i2"]
    assert _seen(any_store, "kx", "anon:x"), "a tracker replaying the anonymous event after the merge"
    # Erasing the target forgets what the merged sources had been seen doing, in the same operation.
    assert any_store.erase_user(user_id="u") is True
    assert not any_store.user_exists(user_id="u") and any_store.counts().interactions == 0
    for key in ("kx", "ku", "kg"):
        assert not _seen(any_store, key, "u"), key  # recorded anew by this very check
    assert any_store.erase_user(user_id="u") is False  # no node; the records just made are gone too
    assert not _seen(any_store, "kx", "u")


def test_erase_forgets_records_of_a_user_without_a_node_and_expiry_ages_records_out(any_store: GraphStore) -> None:
    any_store.upsert_interactions_once([], events=_keys(("kw", "w")), now_ms=T0)
    any_store.upsert_interactions_once([delta("v", "i2")], events=_keys(("kv", "v")), now_ms=T0 + 20)
    assert any_store.erase_user(user_id="w") is False and not _seen(any_store, "kw", "w")
    assert any_store.expire_event_ids(before_ms=T0 + 15) == 1  # kw, recorded again at T0 by the check
    assert _seen(any_store, "kv", "v")


def test_a_failed_merge_or_erasure_changes_nothing(any_store: GraphStore) -> None:
    """Each identity operation is one atomic store operation: a statement failing after its first
    step (event records re-owned or deleted) leaves everything as it was."""
    any_store.upsert_interactions_once([delta("anon:y", "i1")], events=_keys(("ky", "anon:y")), now_ms=T0)
    any_store.upsert_interactions_once([delta("u", "i1")], events=_keys(("ku", "u")), now_ms=T0)
    # A degree no arithmetic accepts: both operations fail decrementing it, after their first step.
    any_store.run_cypher("MATCH (i:Item {id: $i}) SET i.degree = true", {"i": "i1"}, write=True)
    with pytest.raises(BadStoreInput):
        any_store.merge_users(source_id="anon:y", target_id="u")
    with pytest.raises(BadStoreInput):
        any_store.erase_user(user_id="u")
    assert any_store.user_exists(user_id="anon:y") and any_store.user_exists(user_id="u")
    assert [e.weight for e in any_store.user_interactions(user_id="u")] == [1.0]
    any_store.run_cypher("MATCH (i:Item {id: $i}) SET i.degree = 2", {"i": "i1"}, write=True)
    assert any_store.erase_user(user_id="anon:y")
    assert not _seen(any_store, "ky", "anon:y"), "the failed merge had re-owned the source's records"
    assert _seen(any_store, "ku", "u"), "the failed erasure had deleted the user's records"


def test_merge_into_itself_is_refused(any_store: GraphStore) -> None:
    with pytest.raises(BadStoreInput):
        any_store.merge_users(source_id="u", target_id="u")


def test_get_user(any_store: GraphStore) -> None:
    assert any_store.get_user(user_id="u") is None
    any_store.upsert_users([UserRecord("u", {"consent": False, "age": 3})])
    user = any_store.get_user(user_id="u")
    assert user is not None and user.id == "u"
    assert user.props["consent"] is False and user.props["age"] == 3 and "id" not in user.props
