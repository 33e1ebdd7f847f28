"""graph/queries/: the saved Neo4j Browser queries are well formed and stay in step with the adapter.

Their Cypher is linted by tests/graph/test_cypher_lint.py (every .cypher file under graph/); this
checks the conventions the Browser workflow relies on, and that the "why was X recommended" query
repeats the traversal the API runs (USER_CANDIDATES) rather than a look-alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploy_support import REPO
from saved_queries import FILES, QUERIES, parts

from graphrec.graph.cypher.neo4j import ITEM_VECTOR_INDEX
from graphrec.graph.cypher.neo4j import NEO4J as q
from graphrec.graph.cypher.script import split_cypher_script
from graphrec.graph.query_headers import read_header
from tests.graph.cypher_lint import parameters_used


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_the_promised_queries_exist() -> None:
    names = {p.stem.split("-", 1)[1] for p in FILES}
    assert names >= {
        "graph-at-a-glance",
        "user-strongest-interactions",
        "why-recommended",
        "similar-items",
        "category-neighbourhood",
        "cold-and-unconnected-items",
        "heavy-users-and-bots",
    }
    readme = (QUERIES / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        assert f"`{path.name}`" in readme, f"{path.name} is not listed in graph/queries/README.md"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_params_then_comments_then_one_parameterized_query(path: Path) -> None:
    params, comments, query = parts(path)
    assert params, "starts with :param lines giving example values"
    assert len(comments) >= 2, "then comments saying what it answers"
    statements = split_cypher_script(query)
    assert len(statements) == 1, "one query per file"
    assert query.rstrip().endswith(";")
    used = parameters_used(query)
    assert used == set(params), f"$params used {sorted(used)} vs :param lines {sorted(params)}"
    assert not re.search(r"\{id:\s*'", query), "ids come in as parameters, not literals"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_the_header_names_every_parameter(path: Path) -> None:
    """The first comment block (title + explanation: the Browser guide's text) says what each parameter is."""
    params, _, _ = parts(path)
    text = " ".join(read_header(path.read_text(encoding="utf-8")).explanation)
    text += " " + read_header(path.read_text(encoding="utf-8")).title
    missing = [name for name in params if not re.search(rf"\b{name}\b", text)]
    assert not missing, f"parameters the header does not explain: {missing}"


def test_time_relative_queries_take_as_of_and_never_read_the_wall_clock() -> None:
    """Decay and activity windows are measured from the newest event (graphrec.clock.decay_reference)."""
    for path in [*FILES, *sorted((QUERIES / "falkordb").glob("*.cypher"))]:
        _, _, query = parts(path)
        assert "timestamp()" not in query, f"{path.name} reads the server's clock"
        if "0.5 ^" in query or "$days" in query:
            assert "coalesce($as_of, " in query, f"{path.name} is time-relative without as_of"


def test_why_recommended_repeats_the_api_traversal() -> None:
    """A quick textual check that 03 spells the rules as USER_CANDIDATES does; that both give the same
    scores and evidence is tested on live stores (tests/scoring/test_traversal_agreement.py)."""
    _, _, query = parts(QUERIES / "03-why-recommended.cypher")
    why, api = _norm(query), _norm(q.USER_CANDIDATES)
    # Same seeds, same capped hops, same degree rule, same decay, in that order.
    for fragment in (
        "MATCH (u)-[e0:INTERACTED]->(s:Item) WHERE e0.weight > 0",
        "ORDER BY e0.last_ts DESC, s.id LIMIT $seeds",
        "CALL (s) { MATCH (s)<-[e1:INTERACTED]-(v:User) WHERE e1.weight > 0 WITH v, e1 ORDER BY e1.weight DESC, "
        "v.id LIMIT $fanout RETURN v, e1 }",
        "CALL (v) { MATCH (v)-[e2:INTERACTED]->(c:Item) WITH c, e2 ORDER BY abs(e2.weight) DESC, c.id "
        "LIMIT $fanout RETURN c, e2 }",
        "WHERE c <> s AND c.degree > 0",
        "co / sqrt(toFloat(s.degree * c.degree)) AS sc",
        "[..$co_items] AS kept",
        "e0.weight * 0.5 ^ (toFloat(",
    ):
        assert fragment in api, f"USER_CANDIDATES changed ({fragment!r}): update 03-why-recommended.cypher"
        assert fragment in why, f"03-why-recommended.cypher lacks {fragment!r}"
    positions = [why.index(f) for f in ("LIMIT $seeds", "CALL (s)", "CALL (v)", "[..$co_items]", "c.id = $item")]
    assert positions == sorted(positions), "the item filter must come after the caps, as in the API"
    # Decay: the API binds half_life_ms = days * 86_400_000; the file converts the same way.
    assert "$half_life_days * 86400000.0" in why and "$half_life_ms" in api


def test_why_recommended_defaults_are_the_store_defaults() -> None:
    import inspect

    from graphrec.graph.neo4j_store import Neo4jStore

    params, _, _ = parts(QUERIES / "03-why-recommended.cypher")
    sig = inspect.signature(Neo4jStore.co_interaction_candidates_for_user).parameters
    assert int(params["seeds"]) == sig["seed_items"].default
    assert int(params["fanout"]) == sig["fanout"].default


def test_similar_items_uses_the_schema_vector_index() -> None:
    _, _, query = parts(QUERIES / "04-similar-items.cypher")
    assert f"db.index.vector.queryNodes('{ITEM_VECTOR_INDEX}'" in query
    schema = _norm((REPO / "graph" / "schema.cypher").read_text(encoding="utf-8"))
    assert f"CREATE VECTOR INDEX {ITEM_VECTOR_INDEX} IF NOT EXISTS FOR (i:Item) ON i.embedding" in schema
