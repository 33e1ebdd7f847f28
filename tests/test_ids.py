"""The id rule's three spellings (Python, JSON Schema, Arrow RE2) agree, on format characters too."""

from __future__ import annotations

import re
import sys
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from graphrec.ids import FORBIDDEN_ID_PATTERN, FORMAT_CHAR_RANGES, ID_JSON_SCHEMA, id_problem

FORMAT_SAMPLES = ["\u200b", "\u200d", "\u202e", "\ufeff", "\u00ad", "\u2066", "\U000e0041", "\U0001d173"]


def test_the_format_character_table_is_unicode_category_cf() -> None:
    listed = {cp for a, b in FORMAT_CHAR_RANGES for cp in range(a, b + 1)}
    cf = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf"}
    assert listed == cf, f"Unicode {unicodedata.unidata_version}: update FORMAT_CHAR_RANGES in graphrec.ids"


@pytest.mark.parametrize("char", FORMAT_SAMPLES, ids=[f"U+{ord(c):04X}" for c in FORMAT_SAMPLES])
def test_format_characters_break_the_rule_in_every_spelling(char: str) -> None:
    bad = f"ali{char}ce"
    assert id_problem(bad) is not None and f"U+{ord(char):04X}" in (id_problem(bad) or "")
    assert re.fullmatch(ID_JSON_SCHEMA["pattern"], bad) is None
    assert pc.match_substring_regex(pa.array([bad]), FORBIDDEN_ID_PATTERN)[0].as_py() is True


@pytest.mark.parametrize("good", ["alice", "caf\u00e9", "\u4f60\u597d", "a b", "\U0001f600", "x-1_2.3"])
def test_visible_text_still_passes_in_every_spelling(good: str) -> None:
    assert id_problem(good) is None
    assert re.fullmatch(ID_JSON_SCHEMA["pattern"], good) is not None
    assert pc.match_substring_regex(pa.array([good]), FORBIDDEN_ID_PATTERN)[0].as_py() is False
