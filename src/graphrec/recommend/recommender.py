"""The recommendation use cases as the API calls them: a user's top items and an item's neighbours.

Why an object here and not in the HTTP router: around each recommendation sit domain decisions:
which graph candidates to use (the in-memory co-interaction index, or the store's own traversal
when none is built), how long to wait for the user's history (``history_timeout_s``; a late read is
abandoned and the answer degraded), whether to ask the store at all (not while it is known to be
down), and when an unknown item is "unknown" rather than "cannot tell". A router that made them
could not be reused or tested without HTTP; now it parses, calls and shapes the response.

Where the work runs: recommendation math is CPU-bound numpy that holds the GIL anyway, so it runs
on the caller's event loop and only the store reads are awaited (``HistoryReader``). The blocking
driver calls left (similar items, the store's traversal when no index is built) run on
``blocking``, a small executor, not Starlette's 40-thread pool: measured at concurrency 32 on 2
cores, recommendations computed on 4 pool threads gave 288 rps, on 1 thread 355 rps (threads fight
the loop for the GIL), and a 40-thread pool thrashes the GIL outright.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol, TypeVar

from graphrec import clock
from graphrec.behaviour.experiments import Arm, Experiment
from graphrec.behaviour.next_action import NextActionModel
from graphrec.events.feedback import FeedbackLog, ServedList
from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.port import GraphStore, HistoryReader
from graphrec.ids import ANON_PREFIX
from graphrec.model.state import ModelState
from graphrec.recommend.cograph import CoInteractionIndex
from graphrec.recommend.cold_items import ColdItems
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.paging import LeaveOut
from graphrec.recommend.popular import CatalogCache, check_category
from graphrec.recommend.ranking import (
    HISTORY_LIMIT,
    RankingChanged,
    RecRequest,
    RecResult,
    UserInputs,
    mix_session_candidates,
    popular_for_user,
    recommend_for_user,
    similar_items,
    traversal_inputs,
)
from graphrec.recommend.recently_viewed import HISTORY_DEPTH, Viewed, recently_viewed
from graphrec.recommend.serving_config import ServingConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreHealthView(Protocol):
    """What the recommender needs of the API's store breaker (``graphrec.serving.store_health``)."""

    @property
    def up(self) -> bool: ...

    def failed(self, reason: str) -> None: ...

    def slow(self, reason: str) -> None: ...

    def answered(self) -> None: ...


class ArmSource(Protocol):
    """The running experiment (see graphrec.serving.experiments): which arm a user is in, what it serves."""

    def arm_for(self, user_id: str) -> tuple[Experiment, Arm] | None: ...

    def state_for(self, arm: Arm, current: ModelState | None) -> ModelState | None: ...


class NextCategorySource(Protocol):
    """The next-category model the API keeps fitted (graphrec.serving.next_action_holder)."""

    @property
    def model(self) -> NextActionModel: ...


class ModelSource(Protocol):
    """Holds the served model; read once per request, so a hot swap never changes it mid-request."""

    @property
    def state(self) -> ModelState | None: ...


class IndexSource(Protocol):
    """Holds the in-memory co-interaction index (``None`` until one is built)."""

    @property
    def index(self) -> CoInteractionIndex | None: ...


class ColdItemSource(Protocol):
    """Holds the table of catalogue items the served version never saw (``graphrec.serving.cold_items_holder``)."""

    @property
    def table(self) -> ColdItems: ...


class UnknownItem(LookupError):
    """Neither the model, the catalogue nor the store knows the item (the API answers 404)."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"unknown item '{item_id}'")
        self.item_id = item_id


class Recommender:
    """A user's recommendations and an item's similar items, over the serving state it is given."""

    def __init__(
        self,
        *,
        config: ServingConfig,
        store: GraphStore,
        history: HistoryReader,
        models: ModelSource,
        catalog: CatalogCache,
        cograph: IndexSource,
        health: StoreHealthView,
        blocking: Executor,
        experiments: ArmSource | None = None,
        feedback: FeedbackLog | None = None,
        next_action: NextCategorySource | None = None,
        cold_items: ColdItemSource | None = None,
    ) -> None:
        self._store = store
        self._cold_items = cold_items
        self._next_action = next_action
        self._experiments = experiments
        self._feedback = feedback
        self._history = history
        self._models = models
        self._catalog = catalog
        self._cograph = cograph
        self._health = health
        self._blocking = blocking
        self._config = config
        self._timeout_s = config.history_timeout_s

    async def for_user(self, req: RecRequest) -> RecResult:
        """Top-k items for ``req.user_id`` (a user or an anonymous visitor's node id).

        Raises ``UnknownCategory`` for a category filter no item has, ``NothingToServe`` when
        neither the store nor a model can answer, and ``RankingChanged`` (before any work) for a later
        page of a list ranked by another model version; every other failure degrades the answer.
        """
        view = self._catalog.view
        check_category(view, req.category)
        state = self._models.state  # read once: a hot swap cannot change it mid-request
        assigned = self._experiments.arm_for(req.user_id) if self._experiments is not None else None
        if assigned is not None and self._experiments is not None:
            state = self._experiments.state_for(assigned[1], state)
        if req.continues and req.continued_version != (state.version if state is not None else None):
            raise RankingChanged(req.continued_version)  # before any read, ranking or recording
        cograph = self._cograph.index
        now_ms = clock.now_ms()
        inputs = await self._read_inputs(req, cograph, now_ms)
        # about a millisecond of numpy on the loop: cheaper than handing it to a GIL-bound thread
        if assigned is not None and assigned[1].strategy == "popular":
            result = popular_for_user(req, inputs, state=state, view=view, now_ms=now_ms)
        else:
            result = recommend_for_user(
                req,
                inputs,
                state=state,
                view=view,
                config=self._config,
                cograph=cograph,
                now_ms=now_ms,
                cold=self._cold(),
            )
        if (
            self._next_action is not None
            and req.user_id.startswith(ANON_PREFIX)
            and inputs.history is not None
            and len(inputs.history)
        ):
            current = view.categories.get(inputs.history.item_ids[0], ())  # the visitor's latest item
            prediction = self._next_action.model.predict(current, k=3)
            if prediction.basis == "transitions":
                result = mix_session_candidates(
                    result, req, inputs.history, view, prediction.categories, current=current
                )
        if cograph is not None and not result.cold_start:  # the graph side read the index
            result = dataclasses.replace(result, graph_as_of_ms=cograph.built_at_ms)
        has_history = inputs.history is not None and len(inputs.history) > 0
        return self._record(req.user_id, "user", result, assigned, now_ms, has_history=has_history)

    def _record(
        self,
        actor: str,
        endpoint: str,
        result: RecResult,
        assigned: tuple[Experiment, Arm] | None,
        now_ms: int,
        *,
        has_history: bool = False,
    ) -> RecResult:
        """Give the list its id and queue it for the feedback log (no I/O here: the API writes the queue
        out within ``GRAPHREC_SERVED_FLUSH_S``, and an impression reported right away writes it first).
        ``has_history``: the actor has history in the store, so if they were erased they came back
        (:meth:`FeedbackLog.record_served` records nothing for an erased actor otherwise)."""
        if self._feedback is None:
            return result
        result = dataclasses.replace(
            result,
            recommendation_id=uuid.uuid4().hex,
            experiment=assigned[0].id if assigned else None,
            arm=assigned[1].name if assigned else None,
        )
        served = ServedList(
            result.recommendation_id or "",
            actor,
            endpoint,
            result.model_version,
            result.experiment,
            result.arm,
            None,
            [(i.item_id, i.source) for i in result.items],
            now_ms,
        )
        self._feedback.queue_served(served, returned=has_history)
        return result

    async def recently_viewed(
        self, actor: str, k: int, *, filters: ListFilter, leave_out: LeaveOut, half_life_days: float
    ) -> list[Viewed]:
        """The actor's (a user's or a visitor's node id) most recently touched items within ``filters``
        (:mod:`graphrec.recommend.recently_viewed`). Raises ``UnknownCategory``, and ``StoreUnavailable``
        when the store is known to be down or the read takes over ``history_timeout_s``: only the store
        knows an actor's history, so there is nothing to degrade to."""
        view = self._catalog.view
        check_category(view, filters.category)
        health = self._health
        if not health.up:
            raise StoreUnavailable("the graph store is down; cannot read the history")
        try:
            async with asyncio.timeout(self._timeout_s):
                history = await self._history.user_history(user_id=actor, limit=HISTORY_DEPTH)
        except StoreUnavailable as exc:
            health.failed(str(exc))
            raise
        except TimeoutError:
            health.slow(f"history reads over {self._timeout_s:g} s")
            raise StoreUnavailable(f"the history was not read within {self._timeout_s:g} s") from None
        health.answered()
        return recently_viewed(history, view, filters, k=k, leave_out=leave_out, half_life_days=half_life_days)

    async def similar(
        self,
        item_id: str,
        k: int,
        *,
        explain: bool,
        leave_out: LeaveOut | None = None,
        filters: ListFilter | None = None,
    ) -> RecResult:
        """Items like ``item_id`` but those in ``leave_out``, within ``filters``; raises :class:`UnknownItem`,
        ``NothingToServe``, or ``StoreUnavailable`` when the store is down and nothing else knows the item
        (it cannot be called unknown)."""
        return await self._run_blocking(self._similar, item_id, k, explain, leave_out, filters)

    def _similar(
        self, item_id: str, k: int, explain: bool, leave_out: LeaveOut | None, filters: ListFilter | None
    ) -> RecResult:
        state = self._models.state
        view = self._catalog.view
        if not self._item_known(item_id, state, view.titles):
            raise UnknownItem(item_id)
        return similar_items(
            item_id,
            k,
            store=self._store,
            state=state,
            view=view,
            config=self._config,
            explain_=explain,
            cograph=self._cograph.index,
            store_up=self._health.up,
            leave_out=leave_out,
            filters=filters,
            cold=self._cold(),
        )

    def _cold(self) -> ColdItems | None:
        """The cold-item table, read once per request (the ranking uses it only for its own version)."""
        return self._cold_items.table if self._cold_items is not None else None

    def _item_known(self, item_id: str, state: ModelState | None, titles: dict[str, str | None]) -> bool:
        if state is not None and state.artifact.item_index(item_id) is not None:
            return True
        if item_id in titles:
            return True
        if not self._health.up:  # cannot tell "unknown" from "unreachable": 503, not 404
            raise StoreUnavailable("the graph store is down; cannot look the item up")
        return self._store.item_exists(item_id=item_id)

    async def _read_inputs(self, req: RecRequest, cograph: CoInteractionIndex | None, now_ms: int) -> UserInputs:
        """The user's history, awaited on the loop; the store's traversal (on a thread) only without an index.

        Bounded: while the store is known to be down it is not asked at all, and a read that takes
        longer than ``history_timeout_s`` is abandoned; either way the answer is degraded, not late.
        """
        health, node_id = self._health, req.user_id
        if not health.up:
            return UserInputs(None, None, True)
        try:
            async with asyncio.timeout(self._timeout_s):  # not wait_for: no task, no extra loop ticks
                history = await self._history.user_history(user_id=node_id, limit=HISTORY_LIMIT)
        except StoreUnavailable as exc:
            health.failed(str(exc))
            logger.warning("store unavailable reading %s's history; degrading: %s", node_id, exc)
            return UserInputs(None, None, True)
        except TimeoutError:
            logger.warning("history of %s not read within %.2f s; degrading", node_id, self._timeout_s)
            health.slow(f"history reads over {self._timeout_s:g} s")
            return UserInputs(None, None, True)
        health.answered()
        seen_all: frozenset[str] = frozenset()
        if req.exclude_seen and len(history) >= HISTORY_LIMIT:  # cut at the window: read what else was seen
            try:
                async with asyncio.timeout(self._timeout_s):
                    seen_all = await self._history.user_item_ids(user_id=node_id)
            except (StoreUnavailable, TimeoutError) as exc:
                logger.warning("seen items of %s not read (%s); degrading", node_id, exc)
                return UserInputs(history, None, True)
        if cograph is not None or not len(history):
            return UserInputs(history, seen_all=seen_all)
        return await self._run_blocking(
            traversal_inputs,
            self._store,
            node_id,
            history,
            k=req.k,
            exclude_seen=req.exclude_seen,
            config=self._config,
            now_ms=now_ms,
            seen_all=seen_all,
            left_out=len(req.leave_out),
        )

    async def _run_blocking(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._blocking, functools.partial(fn, *args, **kwargs))
