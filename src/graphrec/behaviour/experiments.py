"""Online experiments: a stable split of users between two arms, and a report that says which arm works.

Why a hash and not a coin: a user must see the same arm on every request and every replica, with no
state to share; ``sha256("<experiment id>:<user id>")`` mapped to [0, 1) below ``share`` is the
treatment. An arm is a published model version (``version``), optionally with its own blend weight
(``alpha``), or the ``popular`` strategy (trending items only: a deliberately weak arm for checks).

The report's unit is a served list: its click-through rate is the share of lists with an impression
that led to at least one attributed click, its conversion rate the share that led to a purchase
(lists, not items, so one enthusiastic user's many clicks on one list count once). Each rate has a
Wilson 95% interval; the arms are compared with a two-proportion z-test, and the report names a
winner only when ``p < alpha`` (0.05).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

EXPERIMENT_META_KEY = "experiment"


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    version: str | None = Field(None, description="model version (None: the current one)")
    alpha: float | None = Field(None, ge=0, le=1, description="blend weight override (None: the version's own)")
    strategy: Literal["blend", "popular"] = "blend"


class Experiment(BaseModel):
    """Two arms and the treatment's share of users; stored as JSON in the store's meta (replicas agree)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    control: Arm
    treatment: Arm
    share: float = Field(gt=0, lt=1, description="share of users in the treatment arm")
    started_ms: int

    @model_validator(mode="after")
    def _distinct_arms(self) -> Experiment:
        if self.control.name == self.treatment.name:
            raise ValueError("the two arms need different names")
        return self

    def bucket(self, user_id: str) -> float:
        digest = hashlib.sha256(f"{self.id}:{user_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def arm_of(self, user_id: str) -> Arm:
        return self.treatment if self.bucket(user_id) < self.share else self.control


def wilson(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (sound at small counts and near 0, unlike the normal one)."""
    if trials <= 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_p(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when either arm is empty)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (s1 / n1 - s2 / n2) / se
    return float(2 * stats.norm.sf(abs(z)))


@dataclass(frozen=True, slots=True)
class RateReport:
    successes: int
    trials: int
    rate: float
    low: float
    high: float

    @classmethod
    def of(cls, successes: int, trials: int) -> RateReport:
        low, high = wilson(successes, trials)
        return cls(successes, trials, successes / trials if trials else 0.0, low, high)


@dataclass(frozen=True, slots=True)
class Comparison:
    metric: str
    p_value: float
    better: str | None  # the significantly better arm, None when the test cannot tell

    @classmethod
    def of(cls, metric: str, arms: dict[str, RateReport], *, alpha: float = 0.05) -> Comparison:
        (a, ra), (b, rb) = sorted(arms.items())
        p = two_proportion_p(ra.successes, ra.trials, rb.successes, rb.trials)
        better = None if p >= alpha or ra.rate == rb.rate else (a if ra.rate > rb.rate else b)
        return cls(metric, p, better)
