"""graphrec.graph.query_headers: the title, explanation and requirements of a saved query's header."""

from __future__ import annotations

import pytest
from saved_queries import FILES

from graphrec.graph.query_headers import (
    NEO4J_GDS,
    UnknownRequirement,
    read_header,
    requirements,
    store_offers,
    unmet_requirement,
)

GDS_QUERY = """:param k => 10;

// Items by GDS.
// More words.
// requires: neo4j-gds
CALL gds.graph.list() YIELD graphName RETURN graphName;
"""


def test_title_explanation_and_requirements() -> None:
    header = read_header(GDS_QUERY)
    assert header.title == "Items by GDS."
    assert header.explanation == ("More words.",), "the requires: line is no part of the explanation"
    assert header.requires == frozenset({NEO4J_GDS})


def test_a_store_without_gds_is_told_what_is_missing() -> None:
    falkordb = store_offers(neo4j=False, gds_available=False)
    message = unmet_requirement(GDS_QUERY, has=falkordb)
    assert message is not None and message.startswith("needs Neo4j GDS") and "\n" not in message
    assert unmet_requirement(GDS_QUERY, has=store_offers(neo4j=True, gds_available=False)) is not None
    assert unmet_requirement(GDS_QUERY, has=store_offers(neo4j=True, gds_available=True)) is None


def test_scripts_without_a_header_need_nothing_and_typos_are_errors() -> None:
    assert requirements("MATCH (n) RETURN count(n);") == frozenset()
    assert unmet_requirement(":param a => 1;\nRETURN $a;", has=frozenset()) is None
    with pytest.raises(UnknownRequirement, match="neo4j-gsd"):
        requirements("// Title\n// requires: neo4j-gsd\nRETURN 1;")
    with pytest.raises(ValueError, match="comment block"):
        read_header("RETURN 1;")


def test_the_saved_gds_queries_and_only_they_require_gds() -> None:
    needs = {p.name for p in FILES if NEO4J_GDS in read_header(p.read_text(encoding="utf-8")).requires}
    assert needs == {"08-gds-fastrp-similar-items.cypher", "09-gds-louvain-communities.cypher"}
