"""The tracker's fixture of purchase and custom events (web/tracker/test/fixtures/events.json) holds the
server's current verdicts, so the tracker's client-side checks are tested against the rules in force."""

from __future__ import annotations

import json
from pathlib import Path

from graphrec.events.schema import EventValidationError, validate_event

FIXTURE = Path(__file__).resolve().parents[2] / "web" / "tracker" / "test" / "fixtures" / "events.json"
NOW = 1_750_000_000_000  # the fixture's clock (scripts/events-fixture.py)


def test_the_trackers_event_fixture_holds_the_servers_verdicts() -> None:
    cases = json.loads(FIXTURE.read_text())
    assert len(cases) > 50
    stale = []
    for case in cases:
        try:
            validate_event(case["event"], now_ms=NOW, skew_ms=300_000)
            refused = None
        except EventValidationError as exc:
            refused = exc.errors[0].field
        if refused != case["refused"]:
            stale.append((case["event"], case["refused"], refused))
    assert not stale, f"rerun web/tracker/scripts/events-fixture.py: {stale[:3]}"
