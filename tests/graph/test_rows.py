"""Neo4j's delta parameter: a batch's rows grouped per user, each row findable by its item id."""

from __future__ import annotations

from graphrec.graph.rows import rows_by_user


def test_rows_are_grouped_per_user_in_order_with_an_index_by_item() -> None:
    rows = [{"u": "a", "i": "x"}, {"u": "a", "i": "y"}, {"u": "b", "i": "x"}, {"u": "c", "i": "z"}]
    groups = rows_by_user(rows)
    assert [g["u"] for g in groups] == ["a", "b", "c"]
    assert groups[0]["rows"] == rows[:2] and groups[0]["at"] == {"x": 0, "y": 1}
    assert groups[1]["rows"] == [rows[2]] and groups[1]["at"] == {"x": 0}
    for g in groups:
        assert all(g["rows"][k]["i"] == item and g["rows"][k]["u"] == g["u"] for item, k in g["at"].items())
    assert rows_by_user([]) == []
