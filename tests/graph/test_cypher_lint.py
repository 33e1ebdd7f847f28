"""Neo4j's Cypher front end checks every statement graphrec can send to Neo4j, and every .cypher file.

No Neo4j server runs in CI, so this is what proves the Neo4j adapter's Cypher parses, is
semantically valid (variables, functions, procedures, deprecations) under Cypher 5 and Cypher 25,
and uses only our labels, types and properties. Any finding fails, warnings included (deprecated
syntax gets fixed, not accepted). Needs Node.js; the pinned npm package is installed on first use
(see ``tests/graph/cypher_lint.py``). Without node/npm these tests FAIL: this is a core check.

The adapter's statements are collected by driving every ``Neo4jStore`` method against a recording
driver (it answers with canned rows, it is not a graph store): that proves each constant is really
sent, that the parameters the adapter binds are exactly those the statement uses, and that reads are
routed to readers. Behaviour against a real server is the contract suite's job (``NEO4J_URI``).
"""

from __future__ import annotations

import ast
import asyncio
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from neo4j import Record, RoutingControl

from graphrec.graph.cypher.neo4j import NEO4J as q
from graphrec.graph.cypher.neo4j import all_statements, schema_statements
from graphrec.graph.cypher.script import split_cypher_script
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.port import EventKey, GraphStore, WeightUpdate
from graphrec.graph.records import BatchGuard, CatalogueItem, InteractionDelta, ItemRecord, SegmentRecord, UserRecord
from tests.graph.cypher_lint import (
    CypherLintUnavailable,
    LintResult,
    adapter_schema,
    cypher_file_statements,
    ensure_installed,
    file_schema,
    lint_statements,
    parameters_used,
)

REPO = Path(__file__).resolve().parents[2]
GRAPH_DIR = REPO / "graph"
# Every module that sends Cypher to Neo4j: the adapter, the logic it shares with FalkorDB, GDS.
SENDERS = [
    REPO / "src" / "graphrec" / "graph" / name
    for name in ("neo4j_store.py", "base_store.py", "neo4j_gds.py", "neo4j_console.py")
]
DB = "graphrec-lint"
AUTO_COMMIT = "auto-commit"
WRITE_TX = "execute_write transaction function"


@pytest.fixture(scope="module")
def linter(starts_processes: None) -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found on PATH: the Cypher lint is a core check and needs "
            "Node.js >= 20 (https://nodejs.org); install it and re-run"
        )
    try:
        ensure_installed()
    except CypherLintUnavailable as exc:
        pytest.fail(f"Cypher lint unavailable: {exc}")


def _findings(results: list[LintResult]) -> str:
    return "\n".join(r.report() for r in results if not r.clean)


def _summary(results: list[LintResult]) -> str:
    """Counts, then every warning and error in full (also when the test passes)."""
    errors = sum(len(r.errors) for r in results)
    warnings = sum(len(r.warnings) for r in results)
    return f"{errors} errors, {warnings} warnings" + ("\n" + _findings(results) if errors or warnings else "")


# -- a recording driver: what the adapter sends, with which parameters and routing ----------------

Call = tuple[str, dict[str, Any], Any]


class _Result:
    def __init__(self, records: list[Record]) -> None:
        self.records = records

    def single(self) -> Record | None:
        return self.records[0] if self.records else None

    def consume(self) -> None:
        return None


class _Tx:
    def __init__(self, driver: _RecordingDriver) -> None:
        self._driver = driver

    def run(self, query: str, parameters: Mapping[str, Any] | None = None) -> _Result:
        return self._driver.record(query, parameters, WRITE_TX)


class _Session:
    def __init__(self, driver: _RecordingDriver) -> None:
        self._driver = driver

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute_write(self, fn: Callable[[_Tx], Any]) -> Any:
        return fn(_Tx(self._driver))

    def run(self, query: str, parameters: Mapping[str, Any] | None = None) -> _Result:
        return self._driver.record(query, parameters, AUTO_COMMIT)


class _RecordingDriver:
    execute_query_bookmark_manager = object()

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.closed = False

    def record(self, query: str, params: Mapping[str, Any] | None, routing: Any) -> _Result:
        self.calls.append((query, dict(params or {}), routing))
        return _Result(_canned(query, dict(params or {})))

    def execute_query(
        self,
        query: str,
        parameters_: Mapping[str, Any] | None = None,
        *,
        routing_: Any = RoutingControl.WRITE,
        database_: str | None = None,
    ) -> _Result:
        assert database_ == DB, "execute_query must always name the database"
        return self.record(query, parameters_, routing_)

    def session(self, **config: Any) -> _Session:
        assert config.pop("database") == DB, "sessions must always name the database"
        assert config.pop("bookmark_manager") is self.execute_query_bookmark_manager
        assert set(config) <= {"default_access_mode"}, config
        return _Session(self)

    def close(self) -> None:
        self.closed = True


def _rec(**values: Any) -> Record:
    return Record(values)


def _canned(query: str, params: dict[str, Any]) -> list[Record]:
    first_page = params.get("after") == ""
    answers: dict[str, list[Record]] = {
        q.LEDGER_POSITION: [_rec(next_seq=3, complete=True)],
        q.CLAIM_LEDGER_BATCH: [_rec(next_seq=1)],
        q.USER_INTERACTIONS: [
            _rec(id="i1", props={"weight": 2.0, "count": 2, "first_ts": 1, "last_ts": 5, "n_view": 2, "s_dwell": 3.5})
        ],
        q.USER_HISTORY: [_rec(id="i1", w=2.0, l=5)],
        q.USER_ITEM_IDS: [_rec(id="i1"), _rec(id="i2")],
        q.USER_CANDIDATES: [_rec(id="c", score=0.75, evidence=["a", "b"])],
        q.ITEM_CANDIDATES: [_rec(id="c", score=0.5)],
        q.PAGE_USERS: [_rec(id="u1", props={"id": "u1", "age": 3, "embedding": [1.0]})] if first_page else [],
        q.PAGE_ITEMS: [
            _rec(id="i1", title="T", cat="b", url="/i1", img=None, price=2.5, cur="EUR", ok=True, attrs="{}", at=7),
            _rec(id="i1", title="T", cat="a", url="/i1", img=None, price=2.5, cur="EUR", ok=True, attrs="{}", at=7),
        ]
        if first_page
        else [],
        q.ITEMS_BY_ID: [_catalogue_row("i1")],
        q.LIST_ITEMS: [_catalogue_row("i1"), _catalogue_row("i2")],
        q.LIST_ITEMS_IN_CATEGORY: [_catalogue_row("i2")],
        q.CATEGORY_SIZES: [_rec(name="a", items=2)],
        q.ITEMS_NOT_IN_CATALOGUE: [_rec(id="i9")],
        q.PAGE_USER_IDS: [_rec(id="u1")] if first_page else [],
        q.EDGES_OF_USERS: [_rec(u="u1", i="i1", w=1.5, l=2)],
        q.TRENDING_EDGES_OF_USERS: [_rec(u="u1", i="i1", w=1.5, l=2, c="")],
        q.BASKET_EDGES_OF_USERS: [_rec(u="u1", i="i1", w=2.5, l=2, c="c1")],
        q.VECTOR_INDEX_INFO: [_rec(dim=3, state="POPULATING", quantized=False)],
        q.GET_META: [_rec(value="v1")],
        q.COUNTS: [_rec(users=2, items=3, categories=1, interactions=4)],
        q.PING: [_rec(x=1)],
        q.EXISTING_EVENT_IDS: [_rec(existing=["e1"] if params.get("keys") == ["e1"] else [], fps=[])],
        q.REFUSING_USERS: [_rec(refused=[])],
        q.EDGE_AGGREGATES_OF_USERS: [_rec(u="u1", i="i1", props={"weight": 1.0, "count": 1, "n_view": 1})],
        q.SET_INTERACTION_WEIGHTS: [_rec(u="u1", i="i1")],
        q.GET_USER: [_rec(props={"id": "u1", "consent": True, "embedding": [0.5]})],
        q.EXPIRE_EVENT_IDS: [_rec(records=1, keys=1)],
        q.GDS_AVAILABLE: [_rec(n=1)],
        q.GDS_KNN_ITEMS: [_rec(node1=2, node2=3, similarity=0.5)],
        q.MERGE_SEGMENT_MEMBERS: [_rec(n=len(params["rows"]) if isinstance(params.get("rows"), list) else 0)],
        q.DROP_STALE_MEMBERSHIPS: [_rec(n=0)],
        q.SEGMENTS: [_rec(name="bots", size=1, centroid=[9.0], features=["events_per_minute"], rule="r", at=7)],
        q.USER_SEGMENT: [_rec(name="bots")],
        q.PAGE_SEGMENT_MEMBERS: [_rec(u="u1", s="bots", at=7)] if first_page else [],
    }
    return answers.get(query, [_rec(n=1)])


def _catalogue_row(item_id: str) -> Record:
    return _rec(
        id=item_id,
        title="T",
        url="/x",
        img=None,
        price=1.5,
        cur="EUR",
        available=True,
        provisional=False,
        categories=["b", "a"],
        attributes='{"brand": "acme"}',
    )


def _delta(user: str, item: str) -> InteractionDelta:
    return InteractionDelta(
        user_id=user,
        item_id=item,
        weight=1.0,
        count=1,
        first_ts=1,
        last_ts=2,
        type_counts={"view": 1},
        value_sums={"dwell": 2.0},
    )


@pytest.fixture(scope="module")
def sent() -> list[Call]:
    """Every statement the adapter sends when each GraphStore method runs (all branches)."""
    driver = _RecordingDriver()
    store = Neo4jStore(driver, database=DB, batch_size=2)  # type: ignore[arg-type]
    store.apply_schema()
    assert store.upsert_users([UserRecord("u1", {"age": 3})]) == 1
    assert store.upsert_items([ItemRecord("i1", "T", ("c",)), ItemRecord("i2")]) == 2
    # the catalogue API's side
    assert store.replace_items([CatalogueItem("i1", "T", ("a",), price=1.0)]) == 1
    (item,) = store.get_items(item_ids=["i1", "i1"])
    assert (item.categories, item.price, item.image_url) == (("a", "b"), 1.5, None)
    assert [i.id for i in store.list_items(limit=2)] == ["i1", "i2"]
    assert [i.id for i in store.list_items(after="i1", category="a")] == ["i2"]
    assert store.category_sizes() == [("a", 2)]
    assert store.items_not_in_catalogue(item_ids=["i9", "i1"]) == {"i9"}
    assert store.upsert_interactions([_delta("u1", "i1"), _delta("u2", "i1"), _delta("u1", "i2")]) == 2
    assert store.upsert_interactions([_delta("u1", "i1")], guard=BatchGuard("k", 0)) == 1
    assert store.ledger_position("k") == 3
    store.ledger_complete("k", rows=3)
    assert store.ledger_is_complete("k")
    (edge,) = store.user_interactions(user_id="u1")
    assert (edge.weight, dict(edge.type_counts), dict(edge.value_sums)) == (2.0, {"view": 2}, {"dwell": 3.5})
    history = store.user_history(user_id="u1")
    assert (history.item_ids, history.weights.tolist(), history.last_ts.tolist()) == (["i1"], [2.0], [5])
    reader = store.history_reader()
    assert asyncio.run(reader.user_history(user_id="u1")).item_ids == ["i1"]
    assert asyncio.run(reader.user_item_ids(user_id="u1")) == {"i1", "i2"}
    asyncio.run(reader.aclose())
    assert store.user_exists(user_id="u1") and store.item_exists(item_id="i1")
    (cand,) = store.co_interaction_candidates_for_user(user_id="u1", now_ms=10, half_life_days=30.0)
    assert cand.evidence == ("a", "b")
    assert store.co_interaction_candidates_for_item(item_id="i1")[0].evidence == ("i1",)
    assert [u.props for page in store.iter_users() for u in page] == [{"age": 3}]
    assert [(p.categories, p.links, p.listed_ms) for p in store.iter_items()] == [
        ([["a", "b"]], [("/i1", None, 2.5, "EUR")], [7])
    ]
    assert [p.weights.tolist() for p in store.iter_interactions(since_ms=1)] == [[1.5]]
    assert [
        (p.weights.tolist(), p.clients.tolist())
        for p in store.iter_basket_edges()  # type: ignore[union-attr]
    ] == [([2.5], ["c1"])]
    assert [
        (p.weights.tolist(), p.clients.tolist())
        for p in store.iter_trending_edges(since_ms=1)  # type: ignore[union-attr]
    ] == [([1.5], [""])]
    for label in ("Item", "User"):
        store.write_embeddings(label=label, ids=["x"], vectors=np.ones((1, 3)), model_version="v1")  # type: ignore[arg-type]
        store.write_embeddings(label=label, ids=["x"], vectors=np.ones((1, 4)), model_version="v2")  # type: ignore[arg-type]
    store.set_meta(key="model_version", value="v1")
    assert store.get_meta(key="model_version") == "v1"
    assert store.erase_user(user_id="u2")
    assert store.merge_users(source_id="u1", target_id="u3")
    assert store.counts().interactions == 4
    assert store.ping()
    # behaviour events
    assert store.upsert_interactions_once([_delta("u1", "i1")], events=[EventKey("e2", "u1")], now_ms=5).applied
    refused = store.upsert_interactions_once([_delta("u1", "i1")], events=[EventKey("e1", "u1")], now_ms=5)
    assert (refused.applied, refused.existing) == (False, ("e1",))
    (page,) = store.iter_interaction_aggregates()
    assert dict(page[0].type_counts) == {"view": 1}
    updates = [WeightUpdate("u1", "i1", 2.0, 1), WeightUpdate("u2", "i1", 1.0, 1)]
    assert store.set_interaction_weights(updates) == [("u2", "i1")]
    assert store.expire_event_ids(before_ms=5) == 1
    user = store.get_user(user_id="u1")
    assert user is not None and dict(user.props) == {"consent": True}
    # segments
    bots = SegmentRecord("bots", 1, (9.0,), ("events_per_minute",), "r")
    assert (
        store.replace_segments(segments=[bots], members=[("u1", "bots"), ("u3", "bots"), ("u4", "bots")], computed_ms=7)
        == 3
    )
    assert store.segments() == [SegmentRecord("bots", 1, (9.0,), ("events_per_minute",), "r", 7)]
    assert store.user_segment(user_id="u1") == "bots"
    assert list(store.iter_segment_members()) == [[("u1", "bots")]]
    assert isinstance(store, GraphStore)
    gds = store.gds()
    assert gds is not None
    a, b, sim = gds.item_knn(np.array([0, 1]), np.array([0, 1]), np.array([1.0, 2.0]), n_users=2)
    assert (a.tolist(), b.tolist(), sim.tolist()) == ([0], [1], [0.5])  # node ids back to item indices
    store.clear()
    store.close()
    assert driver.closed
    return driver.calls


def _statement_constants() -> dict[str, str]:
    return {name: text for name, text in all_statements().items() if not name.startswith("schema.cypher")}


def _bound_parameters(calls: list[Call]) -> dict[str, set[str]]:
    bound: dict[str, set[str]] = defaultdict(set)
    for text, params, _ in calls:
        bound[text] |= set(params)
    return bound


# -- the adapter's statements -------------------------------------------------------------------


def test_every_statement_constant_is_sent_by_the_adapter(sent: list[Call]) -> None:
    texts = {text for text, _, _ in sent}
    unsent = sorted(name for name, text in all_statements().items() if text not in texts)
    assert not unsent, f"constants the adapter never sends (dead, or a branch not exercised): {unsent}"
    known = set(all_statements().values())
    assert not [t for t in texts if t not in known], "the adapter sent Cypher that is not a named constant"


def test_adapter_binds_exactly_the_parameters_each_statement_uses(sent: list[Call]) -> None:
    for text, params, _ in sent:
        assert set(params) == parameters_used(text), f"parameters {sorted(params)} bound for:\n{text}"


_WRITES = re.compile(r"\b(CREATE|MERGE|SET|DELETE|REMOVE|DROP)\b|db\.create\.|db\.awaitIndex")


def test_reads_are_routed_to_readers_and_writes_to_the_leader(sent: list[Call]) -> None:
    for text, _, routing in sent:
        if routing == AUTO_COMMIT:
            assert text in (q.CLEAR, q.PING), text
        elif routing == WRITE_TX:
            # Reads inside a write transaction (guard checks) belong there; all of it is listed here.
            assert text in (
                q.CLAIM_LEDGER_BATCH,
                q.UPSERT_INTERACTIONS,
                q.EXISTING_EVENT_IDS,
                q.REFUSING_USERS,
                q.RECORD_EVENT_IDS,
            ), text
        elif _WRITES.search(text) or "CALL gds." in text or "gds.graph.project(" in text:
            # GDS keeps its in-memory graphs on one server: every call of a workflow goes to the leader.
            assert routing == RoutingControl.WRITE, text
        else:
            assert routing == RoutingControl.READ, f"a read must use routing_=READ:\n{text}"


def _names_a_constant(node: ast.expr) -> bool:
    if isinstance(node, ast.IfExp):
        return _names_a_constant(node.body) and _names_a_constant(node.orelse)
    return isinstance(node, ast.Name | ast.Attribute)


def test_adapter_sends_only_named_constants() -> None:
    """No Cypher is formatted at call time: every query argument is a name, never a literal/f-string."""
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in SENDERS]
    query_calls = {"_read", "_write", "run", "execute_query"}
    # The exceptions: run_cypher executes an analyst's own statement (the store's, for tests and
    # notebooks; the console's, for graphrec cypher), with values bound separately as parameters;
    # they are skipped here and must stay the only ones.
    consoles = [
        f for tree in trees for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == "run_cypher"
    ]
    assert len(consoles) == 2
    excepted = {id(n) for console in consoles for n in ast.walk(console)}
    calls = [
        node
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in query_calls
        and id(node) not in excepted
    ]
    assert len(calls) > 10
    for node in calls:
        assert node.args and _names_a_constant(node.args[0]), (
            f"line {node.lineno}: query must be a statement of graphrec.graph.cypher: {ast.unparse(node)}"
        )


def test_adapter_cypher_lints_clean(linter: None, sent: list[Call], capsys: pytest.CaptureFixture[str]) -> None:
    statements = all_statements()
    bound = _bound_parameters(sent)
    declared = {name: bound.get(text, set()) for name, text in statements.items()}
    results = lint_statements(statements, schema=adapter_schema(), declared_parameters=declared)
    with capsys.disabled():
        print(
            f"\n[cypher-lint] {len(results)} adapter statements linted as CYPHER 5 and CYPHER 25: " + _summary(results)
        )
    assert len(results) == len(statements) >= 40
    assert all(r.clean for r in results), _findings(results)


def test_statement_constants_are_complete_statements() -> None:
    constants = _statement_constants()
    assert {
        "NEO4J.UPSERT_INTERACTIONS",
        "NEO4J.CLAIM_LEDGER_BATCH",
        "NEO4J.USER_CANDIDATES",
        "NEO4J.MERGE_USERS",
        "NEO4J.ERASE_USER",
    } <= set(constants)
    for name, text in constants.items():
        assert ";" not in text, f"{name}: one statement per constant"


# -- .cypher files ----------------------------------------------------------------------------------


def _cypher_files() -> list[Path]:
    # graph/queries/falkordb/ holds FalkorDB dialect forms: they run on FalkorDB in
    # tests/graph/test_saved_queries_neo4j.py instead of being linted as Neo4j Cypher.
    return sorted(p for p in GRAPH_DIR.rglob("*.cypher") if "falkordb" not in p.relative_to(GRAPH_DIR).parts)


def test_cypher_files_lint_clean(linter: None, capsys: pytest.CaptureFixture[str]) -> None:
    files = _cypher_files()
    assert GRAPH_DIR / "schema.cypher" in files
    statements = [st for path in files for st in cypher_file_statements(path)]
    results = lint_statements(statements, schema=file_schema())
    with capsys.disabled():
        print(
            f"\n[cypher-lint] {len(results)} statements from {len(files)} .cypher files under graph/: "
            + _summary(results)
        )
    assert results
    assert all(r.clean for r in results), _findings(results)


def test_schema_file_is_package_data_linked_from_graph_dir() -> None:
    link = GRAPH_DIR / "schema.cypher"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert link.resolve() == (REPO / "src" / "graphrec" / "graph" / "schema.cypher").resolve()
    stmts = schema_statements()
    assert stmts == [s for _, s in cypher_file_statements(link)]
    flat = [" ".join(s.split()) for s in stmts]
    keys = (("User", "id"), ("Item", "id"), ("Category", "name"), ("Ledger", "key"), ("Meta", "key"))
    for label, prop in keys:
        assert any(f":{label}) REQUIRE" in s and f".{prop} IS UNIQUE" in s for s in flat), (label, prop)
    # The adapter (re)creates the vector indexes with the same statement, its width as $dim.
    for create in (q.CREATE_ITEM_VECTOR_INDEX, q.CREATE_USER_VECTOR_INDEX):
        expected = " ".join(create.split()).replace("$dim", "64")
        assert any(s.endswith(expected) for s in flat), expected


# -- the check can fail ---------------------------------------------------------------------------

NEGATIVE = {
    "misspelled clause": "MACTH (n) RETURN n",
    "undefined variable": "MATCH (n:User) RETURN m",
    "undeclared parameter": "MATCH (u:User {id: $id}) RETURN u",
    "deprecated subquery": "MATCH (u:User) CALL { WITH u MATCH (u)-[:INTERACTED]->(i:Item) RETURN i } RETURN i",
    "falkordb function": "MATCH (i:Item) RETURN vecf32(i.embedding)",
    "unknown procedure": "CALL db.idx.vector.queryNodes('Item', 'embedding', 3, [1.0]) YIELD node RETURN node",
    "unknown label": "MATCH (u:Usr) RETURN u.id",
    "misspelled property": "MATCH (:User)-[e:INTERACTED]->(:Item) RETURN e.wieght",
    "broken adapter statement": q.USER_CANDIDATES.replace("RETURN c, score", "RETURN cand, score"),
}


@pytest.fixture(scope="module")
def negative(linter: None) -> dict[str, LintResult]:
    declared = {"undeclared parameter": set(), "broken adapter statement": parameters_used(q.USER_CANDIDATES)}
    results = lint_statements(NEGATIVE, schema=adapter_schema(), declared_parameters=declared)
    return {r.name: r for r in results}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("misspelled clause", "Invalid input 'MACTH'"),
        ("undefined variable", "Variable `m` not defined"),
        ("undeclared parameter", "Parameter $id is not defined."),
        ("falkordb function", "Function vecf32 is not present"),
        ("unknown procedure", "Procedure db.idx.vector.queryNodes is not present"),
        ("broken adapter statement", "Variable `cand` not defined"),
    ],
)
def test_negative_controls_are_errors(negative: dict[str, LintResult], name: str, expected: str) -> None:
    assert any(expected in d.message for d in negative[name].errors), negative[name].report()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deprecated subquery", "deprecated"),
        ("unknown label", "Label Usr is not present"),
        ("misspelled property", "wieght is not present"),
    ],
)
def test_negative_controls_are_warnings_that_fail(negative: dict[str, LintResult], name: str, expected: str) -> None:
    result = negative[name]
    assert any(expected in d.message for d in result.warnings), result.report()
    assert not result.clean  # warnings fail the lint like errors do


# -- splitting .cypher scripts ----------------------------------------------------------------------


def test_split_strips_browser_commands_and_respects_quotes_and_comments() -> None:
    script = (
        ":param dim => 64;\n"
        "// a comment; not a split\n"
        "MATCH (n:Item {title: 'a;b'}) RETURN n.`odd;name`; /* c; */\n"
        "  :use neo4j\n"
        "RETURN $dim\n"
        "  AS d;\n"
        "// trailing comment only\n"
    )
    got = split_cypher_script(script)
    assert [line for line, _ in got] == [3, 5]
    assert got[0][1].endswith("RETURN n.`odd;name`")
    assert got[1][1].endswith("*/\n\nRETURN $dim\n  AS d") and ":use" not in got[1][1]


def test_parameters_used_ignores_strings_and_comments() -> None:
    assert parameters_used("MATCH (n {id: $id}) // $nope\nRETURN '$no', n.`$no`, $limit") == {"id", "limit"}
