"""The running experiment, as the store records it, with the model states its arms need.

Why in the store: every replica must split users the same way and serve the same arms, like the
current model version (``graphrec.model.pipeline.published_version``). :meth:`ExperimentHolder.refresh`
runs beside the model check; an arm naming another version gets that version loaded fully before the
experiment is switched on here, so a request never meets a half-loaded arm.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

from graphrec.behaviour.experiments import EXPERIMENT_META_KEY, Arm, Experiment
from graphrec.graph.port import ModelPublication
from graphrec.model.state import ModelState
from graphrec.serving.holder import load_state

logger = logging.getLogger(__name__)


def read_experiment(store: ModelPublication) -> Experiment | None:
    """The experiment the store records (None: none running); a record that does not parse is logged
    and treated as none, so a bad write cannot take serving down."""
    raw = store.get_meta(key=EXPERIMENT_META_KEY)
    if not raw:
        return None
    try:
        return Experiment.model_validate_json(raw)
    except ValueError as exc:
        logger.error("ignoring the store's experiment record: %s", exc)
        return None


def write_experiment(store: ModelPublication, experiment: Experiment | None) -> None:
    store.set_meta(key=EXPERIMENT_META_KEY, value="" if experiment is None else experiment.model_dump_json())


class ExperimentHolder:
    """``experiment`` and the loaded states of its arms' versions (``state_for``)."""

    def __init__(self, models_path: Path, *, store: ModelPublication, default_alpha: float) -> None:
        self.models_path = models_path
        self.store = store
        self.default_alpha = default_alpha
        self.experiment: Experiment | None = None
        self._states: dict[str, ModelState] = {}
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Follow the store's record; True when the running experiment changed."""
        with self._lock:
            new = read_experiment(self.store)
            if new == self.experiment:
                return False
            states = dict(self._states)
            if new is not None:
                for arm in (new.control, new.treatment):
                    if arm.version is not None and arm.version not in states:
                        states[arm.version] = load_state(
                            self.models_path / arm.version, default_alpha=self.default_alpha
                        )
            self._states = states  # before the experiment: its arms find their states
            self.experiment = new
            logger.info(
                "experiment %s",
                "stopped" if new is None else f"{new.id}: {new.treatment.name} gets {new.share:.0%} of users",
            )
            return True

    def arm_for(self, user_id: str) -> tuple[Experiment, Arm] | None:
        experiment = self.experiment  # read once
        return None if experiment is None else (experiment, experiment.arm_of(user_id))

    def state_for(self, arm: Arm, current: ModelState | None) -> ModelState | None:
        """The state an arm serves: its version (or the current one), with its blend override."""
        state = current if arm.version is None else self._states.get(arm.version, current)
        if state is None or arm.alpha is None:
            return state
        return dataclasses.replace(
            state, blend=dataclasses.replace(state.blend, alpha=arm.alpha, source=f"experiment arm {arm.name}")
        )
