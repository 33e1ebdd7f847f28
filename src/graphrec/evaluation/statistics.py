"""Confidence intervals over seeds, and paired tests of one model against every other on the same test users.

Why: one split's difference between two models can be smaller than the spread between seeds (ALS
moved 0.016 Recall@20 between seeds 0 and 1 on MovieLens 100K, more than GraphSAGE's lead over it),
so a table that claims a winner must say how sure it is and by how much, and the test must respect
how the numbers were made:

* **The unit of the test is what was sampled independently.** ``graphrec evaluate`` cuts every
  seed's split from the same data set, so every seed scores the *same* users: 5 seeds x 943 users
  are 943 users measured five times, not 4,715 independent pairs. Pooling them (as this module did
  until issue 30) divides the standard error by up to ``sqrt(seeds)`` too much and made p-values
  like 1e-13. So when every seed scores the same users, each user's difference is averaged over the
  seeds first and the test runs over users; when the seeds score different users (the new-user
  protocol holds out other users on each seed, so users are nested in seeds), each seed's mean
  difference is one observation and the test runs over seeds (few degrees of freedom: 4 with 5
  seeds, which the interval's width shows). One seed always has the same users as itself: a test
  over users.
* **Over users: a paired t-test on the seed-averaged differences, with its interval.** The effect
  size reported is the mean per-user difference with its 95% Student-t interval, and the p is the
  t-test of that same mean: one computation, so the interval excludes 0 exactly when p < 0.05 and the
  table never says "significant" next to an interval that spans 0. Per-user Recall@k/NDCG@k
  differences are bounded and lumpy (steps of 1/3 for a user with three held-out items), but the
  test is about their *mean* over hundreds of users, which the central limit theorem makes close to
  normal; studies of IR evaluation (Urbano, Lima and Hanjalic, SIGIR 2019; Sakai's work on topic
  sets) find the t-test's error rates at least as good as the rank tests' on such data. The
  Wilcoxon signed-rank test used before tested another quantity (a pseudo-median, with the many
  users tied at 0 dropped) than the mean the table shows.
* **What the test over users does not cover: retraining.** Averaging over seeds smooths each user's
  difference, but a seed's model is shared by all its users, so the spread between seeds is not in
  the users' variance. The table shows it beside the test: on how many seeds the reference was ahead
  (``seeds_ahead``), and each seed's mean difference is kept (``seed_differences``).
* **Over seeds: paired t-test.** A seed's mean difference averages hundreds of users, so it is close
  to normal; and a signed-rank test over 5 seeds cannot go below p = 0.0625, whatever the data.
* **One model against every other, Holm-adjusted.** The served model (GraphSAGE) is tested against
  every baseline, not only the runner-up. Reading each row as "beats X" is a family of tests per
  metric; Holm's step-down adjustment keeps the chance of any false "beats" in the family at 5%
  without Bonferroni's loss of power, and both the raw and the adjusted p are reported. The
  intervals are per comparison (not simultaneous).

* :func:`mean_interval`: mean with a Student-t interval (seeds are few, so not a normal one).
* :func:`paired_comparison`: model A minus model B, per the rules above.
* :func:`holm`: Holm-adjusted p-values.
* :func:`compare_against_all`: one model against each other one on a metric, Holm-adjusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
from scipy import stats

Unit = Literal["user", "seed"]
TESTS: dict[Unit, str] = {"user": "paired t-test over users", "seed": "paired t-test over seeds"}


def mean_interval(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """``(mean, half-width)`` of the Student-t interval; the half-width is NaN for one value."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, half


@dataclass(frozen=True)
class PairedComparison:
    """``a`` against ``b`` on ``metric``.

    ``difference``: mean of ``a - b`` over the test's units (users or seeds); ``interval``: its 95%
    Student-t interval over the same units (NaN with a single unit); ``p``: the two-sided p of
    ``test`` over ``n`` units, the test of that same mean; ``p_holm``: ``p`` adjusted over the family
    it was tested in (equal to ``p`` when tested alone). ``seed_differences``: each seed's mean
    difference, in seed order; ``seeds_ahead``: how many of them are above 0."""

    a: str
    b: str
    metric: str
    difference: float
    interval: tuple[float, float]
    unit: Unit
    test: str
    n: int
    seeds: int
    p: float
    p_holm: float
    seed_differences: tuple[float, ...] = ()
    seeds_ahead: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def sentence(self) -> str:
        low, high = self.interval
        interval = "" if np.isnan(low) else f", 95% CI [{low:+.4f}, {high:+.4f}]"
        adjusted = "" if self.p_holm == self.p else f", Holm-adjusted p = {self.p_holm:.3g}"
        ahead = f"; ahead on {self.seeds_ahead} of {self.seeds} seeds" if self.seeds > 1 else ""
        return (
            f"{self.a} - {self.b}: {self.metric} {self.difference:+.4f}{interval}; {self.test} "
            f"p = {self.p:.3g}{adjusted} ({describe_units(self)}){ahead}"
        )


def describe_units(c: PairedComparison) -> str:
    """What the test ran over, e.g. ``943 users, each averaged over 5 seeds`` or ``6 seeds``."""
    if c.unit == "seed":
        return f"{c.n} seeds"
    seeds = f", each averaged over {c.seeds} seeds" if c.seeds > 1 else ", 1 seed"
    return f"{c.n:,} users{seeds}"


def _same_users(users: Sequence[np.ndarray]) -> bool:
    first = np.sort(users[0])
    return all(len(u) == len(first) and np.array_equal(np.sort(u), first) for u in users[1:])


def _by_user(diffs: Sequence[np.ndarray], users: Sequence[np.ndarray]) -> np.ndarray:
    """Each user's difference averaged over the seeds (every seed scores the same users)."""
    aligned = [d[np.argsort(u, kind="stable")] for d, u in zip(diffs, users, strict=True)]
    per_user: np.ndarray = np.mean(aligned, axis=0)
    return per_user


def t_test(x: np.ndarray, *, confidence: float = 0.95) -> tuple[float, tuple[float, float], float]:
    """``(mean, interval, p)`` of the one-sample t-test of ``x`` against 0 and its Student-t interval.

    Degenerate cases answer what the data says rather than NaN: all differences 0 is no evidence
    (p = 1, interval [0, 0]); the same non-zero difference everywhere is certain (p = 0); a single
    value has no spread (interval and p NaN)."""
    x = np.asarray(x, dtype=np.float64)
    mean, half = mean_interval(x, confidence=confidence)
    if len(x) < 2:
        return mean, (float("nan"), float("nan")), float("nan")
    if np.ptp(x) == 0:  # no spread: nothing at all, or the same gain everywhere
        return mean, (mean, mean), 1.0 if mean == 0 else 0.0
    return mean, (mean - half, mean + half), float(stats.ttest_1samp(x, 0.0).pvalue)


def paired_comparison(
    a: str,
    b: str,
    metric: str,
    per_seed_a: Sequence[np.ndarray],
    per_seed_b: Sequence[np.ndarray],
    *,
    users: Sequence[np.ndarray] | None = None,
    confidence: float = 0.95,
) -> PairedComparison:
    """Compare per-user metric arrays of two models, one array per seed (the module docstring says
    which test and why).

    ``users``: per seed, the ids of the users the arrays hold, in their order; the test runs over
    users when every seed holds the same set and over seeds otherwise. Without ``users`` every seed
    must hold the same users in the same order (``graphrec evaluate``'s per-user holdouts do)."""
    if len(per_seed_a) != len(per_seed_b) or not per_seed_a:
        raise ValueError("both models need one per-user array for each of the same seeds")
    for x, y in zip(per_seed_a, per_seed_b, strict=True):
        if x.shape != y.shape:
            raise ValueError(f"per-user arrays differ in length ({x.shape} vs {y.shape}): not the same users")
    diffs = [np.asarray(x, np.float64) - np.asarray(y, np.float64) for x, y in zip(per_seed_a, per_seed_b, strict=True)]
    if users is None:
        if len({len(d) for d in diffs}) > 1:
            raise ValueError("the seeds score different numbers of users: pass each seed's user ids (users=)")
        users = [np.arange(len(d)) for d in diffs]
    if len(users) != len(diffs) or any(len(u) != len(d) for u, d in zip(users, diffs, strict=False)):
        raise ValueError("users must name, for each seed, the user of every entry of that seed's arrays")
    seed_means = np.array([float(d.mean()) for d in diffs])
    unit: Unit = "user" if _same_users(users) else "seed"
    units = _by_user(diffs, users) if unit == "user" else seed_means
    difference, interval, p = t_test(units, confidence=confidence)
    return PairedComparison(
        a=a,
        b=b,
        metric=metric,
        difference=difference,
        interval=interval,
        unit=unit,
        test=TESTS[unit],
        n=len(units),
        seeds=len(diffs),
        p=p,
        p_holm=p,
        seed_differences=tuple(float(m) for m in seed_means),
        seeds_ahead=int(np.sum(seed_means > 0)),
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest p times ``(m - i)``, kept monotone and at most 1
    (NaN stays NaN and does not count towards ``m``)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(len(p), np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p[idx])))
        adjusted[idx] = running
    return [float(x) for x in adjusted]


def compare_against_all(
    reference: str,
    metric: str,
    per_seed: Mapping[str, Sequence[np.ndarray]],
    *,
    users: Sequence[np.ndarray] | None = None,
) -> list[PairedComparison]:
    """``reference`` against every other model in ``per_seed`` (model -> one per-user array per seed)
    on ``metric``, in ``per_seed``'s order, with ``p_holm`` adjusted over these comparisons."""
    others = [name for name in per_seed if name != reference]
    tests = [
        paired_comparison(reference, name, metric, per_seed[reference], per_seed[name], users=users) for name in others
    ]
    return [replace(t, p_holm=q) for t, q in zip(tests, holm([t.p for t in tests]), strict=True)]


def comparison_table(tests: Sequence[PairedComparison]) -> str:
    """GitHub Markdown: a line saying what was tested over, then one row per (other model, metric)
    with the difference, its 95% interval, the raw and the Holm-adjusted p and, with several seeds,
    on how many seeds the reference was ahead."""
    if not tests:
        return ""
    units = "; ".join(dict.fromkeys(f"{t.test} ({describe_units(t)})" for t in tests))
    family = max(sum(1 for u in tests if u.metric == t.metric) for t in tests)
    head = (
        f"Paired tests of {tests[0].a} against every other model: {units}; the difference is "
        f"{tests[0].a} minus the other model, with its 95% interval over the same units; p adjusted by "
        f"Holm over the {family} comparison{'s' if family != 1 else ''} of each metric."
    )
    seeds = max(t.seeds for t in tests)
    columns = ["metric", "difference", "95% CI", "p", "Holm p", *(["seeds ahead"] if seeds > 1 else [])]
    lines = [head, "", f"| {tests[0].a} vs | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for t in tests:
        low, high = t.interval
        interval = "" if np.isnan(low) else f"[{low:+.4f}, {high:+.4f}]"
        ahead = [f"{t.seeds_ahead}/{t.seeds}"] if seeds > 1 else []
        cells = [t.b, t.metric, f"{t.difference:+.4f}", interval, f"{t.p:.2g}", f"{t.p_holm:.2g}", *ahead]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
