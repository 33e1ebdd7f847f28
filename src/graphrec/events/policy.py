"""The signal-weighting policy: one versioned TOML file, linear in the per-edge aggregates.

``weight = sum_t base[t] * n_t + per_depth * s_scroll + dwell.per_unit / dwell.unit_s * s_dwell
+ video.per_unit / video.unit_s * s_video_play + rating.scale * (s_rating - 3 n_rating) / 2``

Because the formula is linear in the aggregates, the weight of a batch is the formula applied to the
batch's aggregates (added onto the stored edge's raw sum), and ``graphrec reweigh`` recomputes every
stored weight from the stored aggregates alone. The packaged default is ``graphrec/events/policy.toml``;
``Settings.events_policy_path`` overrides it. Values are capped per event at ingestion (dwell, video)
before they enter the sums, see :mod:`graphrec.events.cleaning`.

**Saturation** (``[saturation] max_weight``): the edge's weight is that linear sum clamped to
``[-max_weight, max_weight]``. Why: repeated events on one (user, item) otherwise grow the edge
without bound (a bot's 300 clicks on one film weighed 300 and dominated a community detection). The
clamp applies to the edge's whole sum, in the store, by the edge rule
(:mod:`graphrec.graph.edge_combination`): every delta the policy weighs carries the cap, the store
keeps the linear sum as ``raw_weight`` and the clamped one as ``weight``, so batches still add up
and reweigh still needs only the aggregates.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from graphrec.event_types import EVENT_TYPES, EventType

DWELL_CAP_META_KEY = "events.dwell_cap_s"
POLICY_VERSION_META_KEY = "events.policy_version"


class PolicyError(ValueError):
    """The policy file is missing, not TOML, or not a valid policy."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScrollPolicy(_Strict):
    per_depth: float = Field(0.6, ge=0)


class DwellPolicy(_Strict):
    per_unit: float = Field(0.5, ge=0)
    unit_s: float = Field(120.0, gt=0)
    cap_mode: Literal["store", "static"] = "store"
    static_cap_s: float = Field(600.0, gt=0)
    iqr_k: float = Field(3.0, gt=0)
    min_samples: int = Field(200, ge=4)
    min_cap_s: float = Field(30.0, gt=0)
    max_cap_s: float = Field(3600.0, gt=0)


class VideoPolicy(_Strict):
    per_unit: float = Field(0.5, ge=0)
    unit_s: float = Field(240.0, gt=0)
    cap_s: float = Field(1200.0, gt=0)


class RatingPolicy(_Strict):
    scale: float = Field(3.0, ge=0)


class SaturationPolicy(_Strict):
    """The ceiling of one edge's weight, whatever the number of its events (both signs)."""

    max_weight: float = Field(20.0, gt=0, allow_inf_nan=False)


class WeightPolicy(_Strict):
    """A validated policy; every event type must have a base weight."""

    version: str = Field(min_length=1)
    base: dict[str, float]
    scroll: ScrollPolicy = ScrollPolicy()
    dwell: DwellPolicy = DwellPolicy()
    video: VideoPolicy = VideoPolicy()
    rating: RatingPolicy = RatingPolicy()
    saturation: SaturationPolicy = SaturationPolicy()
    _coef: dict[str, dict[str, float]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _every_type_weighted(self) -> WeightPolicy:
        missing = sorted(set(EVENT_TYPES) - set(self.base))
        unknown = sorted(set(self.base) - set(EVENT_TYPES))
        if missing:
            raise ValueError(f"base weights missing for event types: {', '.join(missing)}")
        if unknown:
            raise ValueError(f"base weights for unknown event types: {', '.join(unknown)}")
        if not self.dwell.min_cap_s <= self.dwell.static_cap_s <= self.dwell.max_cap_s:
            raise ValueError("dwell.static_cap_s must lie in [dwell.min_cap_s, dwell.max_cap_s]")
        return self

    # -- the formula -----------------------------------------------------------------------------
    def coefficients(self) -> dict[str, float]:
        """The policy as coefficients of the edge properties: ``weight = sum_p c[p] * e.p``."""
        c = {f"n_{t}": float(w) for t, w in self.base.items()}
        c["s_scroll"] = self.scroll.per_depth
        c["s_dwell"] = self.dwell.per_unit / self.dwell.unit_s
        c["s_video_play"] = self.video.per_unit / self.video.unit_s
        c["s_rating"] = self.rating.scale / 2.0
        c["n_rating"] += -3.0 * self.rating.scale / 2.0
        return c

    def formula(self) -> tuple[dict[str, float], dict[str, float]]:
        """``(per_count, per_value)`` coefficients by event type: ``weight = sum_t per_count[t] * n_t
        + sum_t per_value[t] * s_t`` (types without a value have no ``per_value`` entry). Cached."""
        if not self._coef:
            c = self.coefficients()
            self._coef = {
                "count": {t: c[f"n_{t}"] for t in EVENT_TYPES},
                "value": {t: c[f"s_{t}"] for t in EVENT_TYPES if f"s_{t}" in c},
            }
        return self._coef["count"], self._coef["value"]

    @property
    def weight_cap(self) -> float:
        """The cap every delta this policy weighs carries: the store saturates the edge's weight at it."""
        return self.saturation.max_weight

    def weight_of(self, type_counts: Mapping[str, int], value_sums: Mapping[str, float]) -> float:
        """Linear weight of a set of events given only their aggregates (a batch delta or a whole edge's
        raw sum: the store saturates the edge's weight at :attr:`weight_cap`)."""
        per_count, per_value = self.formula()
        w = sum(per_count[t] * n for t, n in type_counts.items())
        w += sum(per_value[t] * v for t, v in value_sums.items())
        return float(w)

    def event_weight(self, event_type: str, value: float | None = None) -> float:
        """Weight of one event (its value already capped): the formula with ``n = 1, s = value``."""
        sums = {event_type: float(value)} if value is not None else {}
        return self.weight_of({event_type: 1}, sums)

    def value_cap(self, event_type: str, *, dwell_cap_s: float) -> float | None:
        """Per-event ceiling applied to a value before it is summed (None: no cap)."""
        if event_type == EventType.DWELL:
            return dwell_cap_s
        if event_type == EventType.VIDEO_PLAY:
            return self.video.cap_s
        return None

    def value_caps(self, *, dwell_cap_s: float) -> dict[str, float]:
        """Per-event ceilings by type (types absent: no cap), for cleaning a whole batch at once."""
        return {t: cap for t in EVENT_TYPES if (cap := self.value_cap(t, dwell_cap_s=dwell_cap_s)) is not None}


@dataclass(frozen=True, slots=True)
class PolicyWeigher:
    """The policy as a vectorised ``Weigher`` for file importers (``graphrec.data.weighing``), with the
    edge cap the importer puts on every delta (:attr:`weight_cap`), as the live pipeline does."""

    base: np.ndarray  # per type code
    per_value: np.ndarray
    value_caps: np.ndarray
    weight_cap: float

    def __call__(self, type_codes: np.ndarray, values: np.ndarray, /) -> np.ndarray:
        """``weigh(type_codes, values)``: codes index ``EVENT_TYPES``, values are NaN where a type has none."""
        codes = np.asarray(type_codes, dtype=np.int64)
        vals = np.nan_to_num(np.minimum(np.asarray(values, dtype=np.float64), self.value_caps[codes]), nan=0.0)
        weights: np.ndarray = self.base[codes] + self.per_value[codes] * vals
        return weights


def policy_weigher(policy: WeightPolicy, *, dwell_cap_s: float | None = None) -> PolicyWeigher:
    """The policy as a :class:`PolicyWeigher`: values are capped like live events (dwell at
    ``dwell_cap_s``, default the static cap; video at ``video.cap_s``) and the edge cap is the
    policy's, so a file import and the API give the same weights."""
    cap = policy.dwell.static_cap_s if dwell_cap_s is None else dwell_cap_s
    coef = policy.coefficients()
    return PolicyWeigher(
        base=np.array([coef[f"n_{t}"] for t in EVENT_TYPES]),
        per_value=np.array([coef.get(f"s_{t}", 0.0) for t in EVENT_TYPES]),
        value_caps=np.array([policy.value_cap(t, dwell_cap_s=cap) or np.inf for t in EVENT_TYPES]),
        weight_cap=policy.weight_cap,
    )


def load_policy(path: Path | None = None) -> WeightPolicy:
    """Read ``path`` or the packaged default policy; raises :class:`PolicyError` with the reason."""
    if path is None:
        text = resources.files("graphrec.events").joinpath("policy.toml").read_text(encoding="utf-8")
        origin = "packaged policy.toml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"cannot read weighting policy {path}: {exc.strerror}") from exc
        origin = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin} is not valid TOML: {exc}") from exc
    try:
        return WeightPolicy.model_validate(raw)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"{origin} is not a valid weighting policy: {reasons}") from exc
