"""Cypher literals read on the client: the values of ``-P 'name => value'`` and ``:param`` lines.

Why a parser of our own: the analyst's parameters must be typed as Cypher types them, whichever store
runs the statement and before any graph exists. ``'42'`` (quoted) is a string and ``42`` an integer,
exactly as in a query; guessing (``42`` might be an id) is how a string id became an integer that
silently matched nothing. Lists and maps use Cypher's syntax, and a string with an apostrophe is
written in double quotes or with an escape (``"O'Brien"``, ``'O\\'Brien'``).

Only literals are read (no expressions, no functions): what cannot be read is refused with the
position and the reason, never passed on as text.
"""

from __future__ import annotations

import math
import re
from typing import Any

_INT64 = (-(2**63), 2**63 - 1)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_NUMBER = re.compile(
    r"""
    (?P<hex>0x[0-9a-fA-F_]+)
    | (?P<oct>0o[0-7_]+)
    | (?P<float>(?:[0-9][0-9_]*)?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)? | [0-9][0-9_]*[eE][-+]?[0-9]+)
    | (?P<int>[0-9][0-9_]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None, "infinity": math.inf, "nan": math.nan}


class LiteralError(ValueError):
    """Text that is not a Cypher literal; the message says where and why."""


def parse_literal(text: str) -> Any:
    """The Python value of one Cypher literal (str, int, float, bool, None, list, dict)."""
    reader = _Reader(text)
    value = reader.value()
    reader.skip_space()
    if reader.pos != len(text):
        raise reader.error("unexpected text after the value")
    return value


def parse_assignment(text: str) -> dict[str, Any]:
    """``name => value`` (cypher-shell's ``-P`` and ``:param``) or a map literal ``{a: 1, b: 'x'}``
    setting several parameters at once."""
    reader = _Reader(text)
    reader.skip_space()
    if reader.peek() == "{":
        value = reader.value()
        reader.skip_space()
        if reader.pos != len(text):
            raise reader.error("unexpected text after the map")
        assert isinstance(value, dict)
        return value
    name = reader.name()
    reader.skip_space()
    if not text.startswith("=>", reader.pos):
        raise reader.error("expected `name => value` or a map `{name: value, ...}`")
    reader.pos += 2
    value = reader.value()
    reader.skip_space()
    if reader.pos != len(text):
        raise reader.error("unexpected text after the value")
    return {name: value}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, reason: str) -> LiteralError:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return LiteralError(f"{reason} at position {self.pos + 1} of {shown!r}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def name(self) -> str:
        self.skip_space()
        if self.peek() == "`":
            end = self.text.find("`", self.pos + 1)
            if end < 0:
                raise self.error("unclosed backtick")
            name = self.text[self.pos + 1 : end]
            if not name:
                raise self.error("empty name")
            self.pos = end + 1
            return name
        m = _IDENT.match(self.text, self.pos)
        if not m:
            raise self.error("expected a name")
        self.pos = m.end()
        return m.group()

    def value(self) -> Any:
        self.skip_space()
        ch = self.peek()
        if ch == "":
            raise self.error("expected a value")
        if ch in "'\"":
            return self.string(ch)
        if ch == "[":
            return self.list_()
        if ch == "{":
            return self.map_()
        if ch in "-+" or ch.isdigit() or (ch == "." and self.text[self.pos + 1 : self.pos + 2].isdigit()):
            return self.number()
        m = _IDENT.match(self.text, self.pos)
        if m and m.group().lower() in _WORDS:
            self.pos = m.end()
            return _WORDS[m.group().lower()]
        if m:
            raise self.error(
                f"{m.group()!r} is not a Cypher literal (a string needs quotes: '{m.group()}'; "
                "values are literals, not expressions)"
            )
        raise self.error(f"unexpected {ch!r}")

    def string(self, quote: str) -> str:
        out: list[str] = []
        i = self.pos + 1
        text = self.text
        while i < len(text):
            ch = text[i]
            if ch == quote:
                self.pos = i + 1
                return "".join(out)
            if ch == "\\":
                esc = text[i + 1 : i + 2]
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    i += 2
                    continue
                width = {"u": 4, "U": 8}.get(esc)
                digits = text[i + 2 : i + 2 + width] if width else ""
                if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 2 + width
                    continue
                self.pos = i
                raise self.error(f"unknown escape \\{esc}")
            out.append(ch)
            i += 1
        raise self.error("unclosed string")

    def number(self) -> int | float:
        start = self.pos
        sign = -1 if self.peek() == "-" else 1
        if self.peek() in "-+":
            self.pos += 1
        if self.text[self.pos : self.pos + 8].lower() == "infinity":
            self.pos += 8
            return sign * math.inf
        m = _NUMBER.match(self.text, self.pos)
        if not m:
            raise self.error("expected a number")
        digits = m.group().replace("_", "")
        if m.lastgroup == "float":
            value: int | float = float(digits)
        elif m.lastgroup == "hex":
            value = int(digits, 16)
        elif m.lastgroup == "oct":
            value = int(digits[2:], 8)
        else:
            if len(digits) > 1 and digits[0] == "0":
                self.pos = start
                raise self.error(
                    f"{m.group()!r} has a leading zero: quote it for a string ('{m.group()}'), "
                    f"or write the integer without it"
                )
            value = int(digits)
        self.pos = m.end()
        if self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos = start
            raise self.error("not a number (a string needs quotes)")
        if isinstance(value, int):
            value *= sign
            if not _INT64[0] <= value <= _INT64[1]:
                self.pos = start
                raise self.error("integer out of Cypher's 64-bit range")
            return value
        return sign * value

    def list_(self) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        self.skip_space()
        if self.peek() == "]":
            self.pos += 1
            return items
        while True:
            items.append(self.value())
            self.skip_space()
            ch = self.peek()
            self.pos += 1
            if ch == "]":
                return items
            if ch != ",":
                self.pos -= 1
                raise self.error("expected ',' or ']' in the list")

    def map_(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        self.skip_space()
        if self.peek() == "}":
            self.pos += 1
            return out
        while True:
            key = self.name()
            if key in out:
                raise self.error(f"key {key!r} given twice")
            self.skip_space()
            if self.peek() != ":":
                raise self.error("expected ':' after the map key")
            self.pos += 1
            out[key] = self.value()
            self.skip_space()
            ch = self.peek()
            self.pos += 1
            if ch == "}":
                return out
            if ch != ",":
                self.pos -= 1
                raise self.error("expected ',' or '}' in the map")
