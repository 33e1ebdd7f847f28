"""The one rule every id (user, item, anonymous visitor, event) obeys, at every boundary.

Why: the embedded store's range index matches ``'a'`` against a stored ``'a '`` (trailing
whitespace or control characters), so two ids that differ only there collide: users mix, consent
and erasure miss, exactly-once breaks. And an id with ``/`` cannot be addressed in a URL path. So
an id is checked, and normalised to Unicode NFC (two spellings of the same text are one id), before
it reaches a store:

- 1 to 256 characters after NFC normalisation;
- no leading or trailing whitespace;
- no control characters anywhere (C0, DEL, C1; NUL included), no line or paragraph separators;
- no ``/``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_ID_LENGTH = 256
ID_RULE = ("1-256 characters, no leading or trailing whitespace, no control characters and no '/' "
           "(NFC-normalised)")
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029/]")
# The same rule for Arrow's RE2 (importers check whole columns at once).
FORBIDDEN_ID_PATTERN = r"[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}/]|^\s|\s$"


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
        return "must not contain '/'" if char == "/" else f"must not contain control character U+{ord(char):04X}"
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
        raise PydanticCustomError("id_invalid", "id {reason} (ids: {rule})",
                                  {"reason": str(exc), "rule": ID_RULE}) from None


_ALLOWED = r"[^\x00-\x1f\x7f-\x9f\u2028\u2029/]"
_EDGE = r"[^\s\x00-\x1f\x7f-\x9f\u2028\u2029/]"
# The rule as a JSON Schema pattern, for the OpenAPI document (clients and API fuzzers generate ids
# from it); the validator above is what enforces it, with a reason in every 422.
ID_JSON_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH,
                  "pattern": f"^{_EDGE}(?:{_ALLOWED}*{_EDGE})?$", "description": f"an id: {ID_RULE}"}

# The pydantic form, for request bodies and path parameters: a 422 names the field and the reason.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_validated),
                       WithJsonSchema(ID_JSON_SCHEMA)]
