"""Real-time triggers: a rule on a profile feature that fires once when a user crosses it.

Why edge-triggered and stored: a webhook consumer (a CRM, a coupon service) wants "this visitor just
showed purchase intent", not the same news on every event while the intent stays high. The last
state of every (user, rule) is kept in the event log's database, so API workers and restarts agree:
a rule fires when it goes from false to true, and may fire again only after it went false.

A rule: ``{"name": "purchase_intent", "feature": "purchase_intent", "above": 0.7}`` (or ``"below"``),
on any numeric profile feature (:mod:`graphrec.behaviour.profiles`). Firing rules become
:class:`Firing` records; :mod:`graphrec.serving.webhooks` delivers them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphrec.behaviour.profiles import Profile
from graphrec.events.log import connect, create_tables, transaction
from graphrec.events.tombstones import Tombstones

NUMERIC_FEATURES: tuple[str, ...] = tuple(
    f.name
    for f in fields(Profile)
    if f.type in ("int", "float", "float | None") and f.name not in ("window_days", "first_ms", "last_ms")
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trigger_state (
    actor      TEXT    NOT NULL,
    rule       TEXT    NOT NULL,
    active     INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL,
    PRIMARY KEY (actor, rule)
) WITHOUT ROWID;
"""


class TriggerRule(BaseModel):
    """Fire when ``feature`` goes above ``above`` (or below ``below``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    feature: str
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> TriggerRule:
        if self.feature not in NUMERIC_FEATURES:
            known = ", ".join(NUMERIC_FEATURES)
            raise ValueError(f"unknown profile feature '{self.feature}'; expected one of: {known}")
        if (self.above is None) == (self.below is None):
            raise ValueError(f"rule '{self.name}': give exactly one of 'above' and 'below'")
        return self

    def holds(self, profile: Profile) -> bool:
        value: float | None = getattr(profile, self.feature)  # one of NUMERIC_FEATURES (the validator)
        if value is None:
            return False
        if self.above is not None:
            return value > self.above
        return self.below is not None and value < self.below


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that just became true for a user: what a webhook carries."""

    rule: str
    user_id: str
    feature: str
    value: float
    threshold: float
    at_ms: int

    def payload(self) -> dict[str, object]:
        return {
            "type": "trigger.fired",
            "rule": self.rule,
            "user_id": self.user_id,
            "feature": self.feature,
            "value": self.value,
            "threshold": self.threshold,
            "at_ms": self.at_ms,
        }


class TriggerBook:
    """The last state of each (user, rule), in the SQLite file at ``path`` (the event log's)."""

    def __init__(self, path: Path, *, tombstones: Tombstones | None = None) -> None:
        self.path = path
        self.tombstones = tombstones
        create_tables(path, _SCHEMA)

    def evaluate(self, profile: Profile, rules: Sequence[TriggerRule], *, now_ms: int) -> list[Firing]:
        """Record each rule's state for the profile's user; the rules that went from false to true fire.

        One transaction (``BEGIN IMMEDIATE``): two workers evaluating the same user cannot both fire. A
        user with no events in the profile, or an erased one with none since the erasure (a profile read
        before the erasure finished), gets no state: nothing is recorded for an erased id."""
        if not rules or not profile.events:
            return []
        fired: list[Firing] = []
        with connect(self.path) as db:
            with transaction(db):
                erased = (
                    self.tombstones.erased_at([profile.user_id], db=db, now_ms=now_ms)
                    if self.tombstones is not None
                    else {}
                )
                if profile.user_id in erased and (profile.last_ms or 0) <= erased[profile.user_id]:
                    return []  # nothing written: the transaction ends empty
                before = dict(
                    db.execute("SELECT rule, active FROM trigger_state WHERE actor = ?", (profile.user_id,)).fetchall()
                )
                for rule in rules:
                    now = rule.holds(profile)
                    was = bool(before.get(rule.name, 0))
                    if now != was or rule.name not in before:
                        db.execute(
                            "INSERT OR REPLACE INTO trigger_state VALUES (?, ?, ?, ?)",
                            (profile.user_id, rule.name, int(now), now_ms),
                        )
                    if now and not was:
                        threshold = rule.above if rule.above is not None else rule.below
                        fired.append(
                            Firing(
                                rule.name,
                                profile.user_id,
                                rule.feature,
                                float(getattr(profile, rule.feature)),
                                float(threshold or 0.0),
                                now_ms,
                            )
                        )
        return fired

    def forget(self, actors: Sequence[str]) -> None:
        """Erasure: the actors' trigger states."""
        with connect(self.path) as db:
            db.executemany("DELETE FROM trigger_state WHERE actor = ?", [(a,) for a in actors])


def parse_rules(raw: str) -> list[TriggerRule]:
    """Rules from their JSON text (``GRAPHREC_TRIGGER_RULES``)."""
    data = json.loads(raw) if raw.strip() else []
    if not isinstance(data, list):
        raise ValueError("trigger rules must be a JSON list of {name, feature, above|below}")
    rules = [TriggerRule.model_validate(r) for r in data]
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"trigger rule names must be unique, got {names}")
    return rules
