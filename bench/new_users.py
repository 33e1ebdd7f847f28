"""New-user request benchmark: what the item neighbours add to a new user's recommendation.

Builds a version the way ``graphrec evaluate --protocol new-users`` does (synthetic events, held-out
users, ``graphrec.model.pipeline.train`` with the new-user tuner, serving's loader), then times
``recommend_for_user`` (the API's computing, no HTTP and no store read) for every held-out user from
their first n interactions, twice in the same run and interleaved:

* ``baseline``: the version's blend without new-user weights (no neighbours, no prior), what a new
  user got before the neighbours existed;
* ``new_user``: the tuned weights by history length, item neighbours included (``gamma``).

Prints one JSON object: per n, the median and p99 per request of both, and their ratio; the table's
size. Timing is per call with ``perf_counter_ns`` after one warm-up pass.

    python bench/new_users.py [--interactions 200000] [--lengths 1,5,10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from graphrec.config import Settings
from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.evaluation.datasets import load_events
from graphrec.evaluation.splits import new_user_split
from graphrec.model.blend_tuning import NewUserTuning
from graphrec.model.config import TrainConfig
from graphrec.model.pipeline import PipelineConfig, train
from graphrec.offline.new_user_protocol import Served
from graphrec.offline.new_user_tuner import NewUserBlendTuner
from graphrec.recommend.ranking import RecRequest, UserInputs, recommend_for_user
from graphrec.recommend.serving_config import ServingConfig
from graphrec.serving.holder import load_state


def _time(served: Served, histories: list, users: list[str], *, k: int) -> np.ndarray:
    serving = served.serving
    out = np.zeros(len(users))
    for j, (user, history) in enumerate(zip(users, histories, strict=True)):
        started = time.perf_counter_ns()
        recommend_for_user(
            RecRequest(user_id=user, k=k),
            UserInputs(history),
            state=served.state,
            view=served.view,
            config=serving,
            cograph=served.cograph,
            now_ms=served.now_ms,
        )
        out[j] = (time.perf_counter_ns() - started) / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=200_000)
    parser.add_argument("--lengths", default="1,5,10")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    settings = Settings()
    serving = ServingConfig.from_settings(settings)
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.csv"
        generate(SyntheticSpec(interactions=args.interactions, seed=7), events)
        full = load_events(events)
        split = new_user_split(full, fraction=0.2, lengths=lengths, min_rest=5, seed=0, max_users=1_000)
        tuning = NewUserTuning(lengths=lengths, max_users=200)
        pipeline = PipelineConfig(
            name="bench", holdout_fraction=0.0, new_users=tuning, train=TrainConfig(epochs=args.epochs)
        )
        started = time.perf_counter()
        directory = train(
            pipeline,
            models_path=Path(tmp) / "models",
            half_life_days=serving.half_life_days,
            snapshot=split.train,
            version="bench",
            progress=False,
            new_users=NewUserBlendTuner(serving),
        )
        train_s = time.perf_counter() - started
        state = load_state(directory, default_alpha=serving.default_alpha)
        served = Served.build(state, split.train, serving)
        before = served.with_blend(replace(state.blend, new_users={}))
        users = [str(u) for u in split.user_ids.tolist()]
        result: dict[str, object] = {
            "interactions": args.interactions,
            "users": split.n_users,
            "items": split.train.n_items,
            "train_with_tuning_s": round(train_s, 1),
            "neighbour_entries": state.neighbours.entries if state.neighbours is not None else 0,
            "weights": {str(n): asdict(w) for n, w in sorted(state.blend.new_users.items())},
        }
        for n in lengths:
            histories = [split.history(row, n) for row in range(split.n_users)]
            _time(served, histories, users, k=args.k)  # warm-up: caches, lazily built lookups
            _time(before, histories, users, k=args.k)
            # interleaved halves, so a machine that slows down mid-run slows both alike
            new, base = [], []
            for half in (slice(0, len(users) // 2), slice(len(users) // 2, None)):
                new.append(_time(served, histories[half], users[half], k=args.k))
                base.append(_time(before, histories[half], users[half], k=args.k))
            new_ms, base_ms = np.concatenate(new), np.concatenate(base)
            result[f"n={n}"] = {
                "baseline_ms": {
                    "p50": round(float(np.median(base_ms)), 3),
                    "p99": round(float(np.percentile(base_ms, 99)), 3),
                },
                "new_user_ms": {
                    "p50": round(float(np.median(new_ms)), 3),
                    "p99": round(float(np.percentile(new_ms, 99)), 3),
                },
                "p50_ratio": round(float(np.median(new_ms) / np.median(base_ms)), 2),
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
