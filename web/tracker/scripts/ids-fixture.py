"""Writes test/fixtures/ids.json: ids with the server's verdict (graphrec.ids), so the tracker's
client-side rule is tested against the real one. Run from web/tracker:
    PYTHONPATH=../../src python scripts/ids-fixture.py
"""

import json
import unicodedata

from graphrec.ids import id_problem

CASES = [
    "u42",
    "sku-9",
    "a-0b7c",
    "x",
    "anon:u1",
    "ümlaut",
    "e\u0301",
    "\u212b",
    "\ufb01",
    "",
    " ",
    "a ",
    " a",
    "a\tb",
    "a\nb",
    "\ta",
    "a\x00b",
    "a\x1fb",
    "a\x7fb",
    "a\x85b",
    "a\x9fb",
    "a\u2028b",
    "a\u2029b",
    "a/b",
    "/",
    "a\u00a0",
    "\u3000a",
    "a\u2003",
    "a\u200bb",
    "\u200b",
    "\ufeffa",
    "a\ufeff",
    "a\u180e",
    "\u1680a",
    "a\u202f",
    "a\u205f",
    "a\u0085",
    "a\x1c",
    "a" * 256,
    "a" * 257,
    "\U0001f600" * 256,
    "\U0001f600" * 257,
    "e\u0301" * 256,
    "e\u0301" * 257,
    "sku 9",
    "sku\\9",
    "sku?9",
    "sku#9",
    "sku%2F9",
    "\ud7ff",
]

rows = []
for raw in CASES:
    nfc = unicodedata.normalize("NFC", raw)
    rows.append({"id": raw, "nfc": nfc, "problem": id_problem(nfc)})
with open("test/fixtures/ids.json", "w", encoding="utf-8") as fh:
    json.dump(rows, fh, ensure_ascii=True, indent=1)
    fh.write("\n")
print(f"wrote {len(rows)} cases")
