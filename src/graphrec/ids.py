"""The one rule every id (user, item, anonymous visitor, event) obeys, at every boundary.

Why: the embedded store's range index matches ``'a'`` against a stored ``'a '`` (trailing
whitespace or control characters), so two ids that differ only there collide: users mix, consent
and erasure miss, exactly-once breaks. And an id with ``/`` cannot be addressed in a URL path. So
an id is checked, and normalised to Unicode NFC (two spellings of the same text are one id), before
it reaches a store:

- 1 to 256 characters after NFC normalisation;
- no leading or trailing whitespace;
- no control characters anywhere (C0, DEL, C1; NUL included), no line or paragraph separators;
- no format characters (Unicode category Cf: ZWSP U+200B, ZWJ U+200D, RLO U+202E, BOM U+FEFF, soft
  hyphen, tag characters, ...): invisible, so ``"alice"`` and ``"ali\u200bce"`` would be two ids
  that read as one (an impersonation and a bidi-spoofing vector);
- no ``/``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_ID_LENGTH = 256
ID_RULE = (
    "1-256 characters, no leading or trailing whitespace, no control or invisible format characters "
    "and no '/' (NFC-normalised)"
)
# Unicode general category Cf (format characters), as of the Unicode 14 tables of Python 3.11;
# tests/test_ids.py checks it against ``unicodedata``. Spelled out rather than computed at import,
# and one list for the three patterns below (Python, JSON Schema, Arrow RE2) so they stay in step.
FORMAT_CHAR_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)


def _char_class(escape: Callable[[int], str]) -> str:
    """The forbidden characters besides '/', as the inside of a regex class, each code point spelled
    by ``escape`` (the dialects differ only there)."""
    ranges = [(0x00, 0x1F), (0x7F, 0x9F), (0x2028, 0x2029), *FORMAT_CHAR_RANGES]
    return "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges)


def _python_escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def _schema_escape(cp: int) -> str:
    # ECMA-262 and Python both read \xHH and \uHHHH; above the BMP there is no escape both read
    # (\u{...} needs the 'u' flag, \U is Python's), so the character itself stands in the pattern.
    return chr(cp) if cp >= 0x10000 else _python_escape(cp)


def _re2_escape(cp: int) -> str:
    return "\\x{" + f"{cp:x}" + "}"


_FORBIDDEN = re.compile(f"[{_char_class(_python_escape)}/]")
# The same rule for Arrow's RE2 (importers check whole columns at once).
FORBIDDEN_ID_PATTERN = f"[{_char_class(_re2_escape)}/]" + r"|^\s|\s$"


def id_problem(value: str) -> str | None:
    """Why ``value`` (already NFC) is not a valid id, or None when it is."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters"
    if value != value.strip():
        return "must not start or end with whitespace"
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        char = bad.group()
        if char == "/":
            return "must not contain '/'"
        if unicodedata.category(char) == "Cf":
            name = unicodedata.name(char, "")
            return f"must not contain invisible format character U+{ord(char):04X}" + (f" ({name})" if name else "")
        return f"must not contain control character U+{ord(char):04X}"
    return None


def normalise_id(value: str) -> str:
    """``value`` in NFC, or ``ValueError`` saying which part of the rule it breaks."""
    nfc = unicodedata.normalize("NFC", value)
    problem = id_problem(nfc)
    if problem is not None:
        raise ValueError(problem)
    return nfc


def _validated(value: str) -> str:
    try:
        return normalise_id(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "id_invalid", "id {reason} (ids: {rule})", {"reason": str(exc), "rule": ID_RULE}
        ) from None


_ALLOWED = f"[^{_char_class(_schema_escape)}/]"
_EDGE = f"[^\\s{_char_class(_schema_escape)}/]"
# The rule as a JSON Schema pattern, for the OpenAPI document (clients and API fuzzers generate ids
# from it); the validator above is what enforces it, with a reason in every 422.
ID_JSON_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_LENGTH,
    "pattern": f"^{_EDGE}(?:{_ALLOWED}*{_EDGE})?$",
    "description": f"an id: {ID_RULE}",
}

# The pydantic form, for request bodies and path parameters: a 422 names the field and the reason.
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(_validated),
    WithJsonSchema(ID_JSON_SCHEMA),
]


# Anonymous visitors are graph users with the id ``anon:<anonymous_id>``; a user id may therefore not
# start with the prefix, or a user could read or write a visitor's history by naming it.
ANON_PREFIX = "anon:"
USER_ID_RESERVED = (
    f"user ids may not start with '{ANON_PREFIX}' (reserved for anonymous visitors: send their anonymous_id, "
    "or use the /v1/anonymous/{anonymous_id}/... routes)"
)


def anonymous_node_id(anonymous_id: str) -> str:
    """Graph user id of an anonymous visitor."""
    return f"{ANON_PREFIX}{anonymous_id}"


def _not_anonymous(value: str) -> str:
    if value.startswith(ANON_PREFIX):
        raise PydanticCustomError("user_id_reserved", USER_ID_RESERVED)
    return value


# A signed-in user's id: an :data:`Identifier` outside the anonymous visitors' namespace. The one home of
# that rule, for bodies and path parameters alike (a 422 names the field and says why).
UserIdentifier = Annotated[Identifier, AfterValidator(_not_anonymous)]
