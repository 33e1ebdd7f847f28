"""graphrec's FalkorDB parameter header is character-for-character the client's own (fuzzed)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from falkordb.graph import Graph

from graphrec.graph.falkordb_params import literal, params_header
from graphrec.graph.falkordb_store import FalkorDBStore

ALPHABET = ["a", "Z", "0", " ", '"', "\\", "'", "`", "\n", "é", "漢", "😀", "{", "}", ":", ",", "$"]


def _string(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 8)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(11 if depth < 3 else 8)
    if kind == 0:
        return _string(rng)
    if kind == 1:
        return rng.randrange(-(2**62), 2**62)
    if kind == 2:
        return rng.choice([0.1, -2.5e-300, 1e21, 3.0, rng.random()])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return np.float64(rng.random())
    if kind == 5:
        return np.int64(rng.randrange(-1000, 1000))
    if kind == 6:  # (bytes are left out: the client sends them as Python's b'...', a syntax error)
        return rng.choice([-0.0, 7, "x"])
    if kind == 7:
        return [_string(rng) for _ in range(rng.randrange(0, 4))]
    if kind == 8:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if kind == 9:
        return tuple(_value(rng, depth + 1) for _ in range(rng.randrange(0, 3)))
    return {
        rng.choice(["u", "i", "w", "n_view", "ké y", "@type"]): _value(rng, depth + 1)
        for _ in range(rng.randrange(0, 4))
    }


def _client_header(params: dict[str, Any]) -> str:
    return Graph._build_params_header(None, params)  # type: ignore[arg-type]  # noqa: SLF001


def test_same_text_as_the_client_on_fuzzed_parameters() -> None:
    rng = random.Random(7)
    for _ in range(3_000):
        params = {rng.choice(["rows", "keys", "now", "a_b", "x1"]): _value(rng) for _ in range(rng.randrange(1, 4))}
        assert params_header(params) == _client_header(params), params


def test_refuses_what_the_client_refuses() -> None:
    for bad in ({"": 1}, {"a`b": 1}):
        with pytest.raises(ValueError):
            params_header(bad)
        with pytest.raises(ValueError):
            literal({"rows": bad})
    assert params_header(None) == "" and params_header({}) == ""


def test_values_survive_a_round_trip_through_the_store(store: FalkorDBStore) -> None:
    tricky = ['say "hi"', "back\\slash", "\\", '"', "new\nline", "漢字 😀", "", "`tick`", "$param", "}{"]
    rows = store._write("UNWIND $xs AS x RETURN x", {"xs": tricky})  # noqa: SLF001
    assert [r[0] for r in rows] == tricky
    got = store._write(
        "RETURN $m.`n_view`, $m.w, $f, $b, $n",
        {
            "m": {"n_view": 3, "w": -0.25},
            "f": 1e-300,  # noqa: SLF001
            "b": False,
            "n": None,
        },
    )
    assert got == [[3, -0.25, 1e-300, False, None]]
