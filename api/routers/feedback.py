"""``POST /v1/impressions`` (browser keys too; one naming a ``user_id`` with that user's token),
``GET /v1/experiments`` and ``GET /v1/feedback`` (secret key): the feedback
loop's ends (see graphrec.events.feedback and graphrec.behaviour.experiments)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from api.container import Services
from api.deps import CallerDep, ServicesDep, WriteAccessDep, require_api_key
from api.errors import error_item
from api.schemas.errors import SECRET_KEY_ONLY_403, error_responses
from api.schemas.feedback import (
    ArmPublic,
    ComparisonPublic,
    ExperimentPublic,
    ExperimentsPublic,
    FeedbackPublic,
    FeedbackRowPublic,
    ImpressionCreate,
    ImpressionsPublic,
    RatePublic,
)
from graphrec import clock
from graphrec.behaviour.experiments import Comparison, Experiment, RateReport
from graphrec.events.feedback import FeedbackLog, UnknownRecommendation
from graphrec.ids import anonymous_node_id

router = APIRouter(tags=["feedback"], responses=error_responses(401, 422, 429, 503))


def _feedback(services: ServicesDep) -> FeedbackLog:
    if services.feedback is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "feedback is not recorded by this server")
    return services.feedback


FeedbackDep = Annotated[FeedbackLog, Depends(_feedback)]


@router.post(
    "/impressions",
    response_model=ImpressionsPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(400, 403),
)
def report_impressions(
    body: ImpressionCreate, feedback: FeedbackDep, _access: WriteAccessDep, caller: CallerDep
) -> ImpressionsPublic:
    """Record which items of a recommendation list were shown (publishable key: a user's with their user token)."""
    if body.user_id is not None:
        caller.require(body.user_id)
    actor = body.user_id if body.user_id is not None else anonymous_node_id(str(body.anonymous_id))
    try:
        added = feedback.record_impressions(
            rec_id=body.recommendation_id,
            actor=actor,
            item_ids=body.item_ids,
            ts=body.timestamp or clock.now_ms(),
        )
    except UnknownRecommendation as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(None, "recommendation_id", str(exc))]
        ) from None
    return ImpressionsPublic(recommendation_id=body.recommendation_id, recorded=added)


def _rate(r: RateReport) -> RatePublic:
    return RatePublic(
        successes=r.successes, trials=r.trials, rate=round(r.rate, 6), low=round(r.low, 6), high=round(r.high, 6)
    )


def experiment_report(experiment: Experiment, feedback: FeedbackLog) -> ExperimentPublic:
    """Per-arm counts, rates with intervals, and the significance test of each rate."""
    counts = {c.arm: c for c in feedback.arm_counts(experiment.id)}
    arms, ctr, conversion = [], {}, {}
    for arm, share in ((experiment.control, 1 - experiment.share), (experiment.treatment, experiment.share)):
        c = counts.get(arm.name)
        shown = c.shown if c else 0
        ctr[arm.name] = RateReport.of(c.clicked_lists if c else 0, shown)
        conversion[arm.name] = RateReport.of(c.converted_lists if c else 0, shown)
        arms.append(
            ArmPublic(
                name=arm.name,
                share=share,
                version=arm.version,
                alpha=arm.alpha,
                strategy=arm.strategy,
                served=c.served if c else 0,
                shown=shown,
                impressions=c.impressions if c else 0,
                clicks=c.clicks if c else 0,
                purchases=c.purchases if c else 0,
                ctr=_rate(ctr[arm.name]),
                conversion=_rate(conversion[arm.name]),
            )
        )
    comparisons = [Comparison.of("ctr", ctr), Comparison.of("conversion", conversion)]
    return ExperimentPublic(
        id=experiment.id,
        started_ms=experiment.started_ms,
        arms=arms,
        comparisons=[
            ComparisonPublic(metric=c.metric, p_value=round(c.p_value, 8), better=c.better) for c in comparisons
        ],
    )


def _running(services: Services) -> Experiment | None:
    return services.experiments.experiment if services.experiments is not None else None


@router.get(
    "/experiments",
    response_model=ExperimentsPublic,
    dependencies=[Depends(require_api_key)],
    responses=error_responses(403, e403=SECRET_KEY_ONLY_403),
)
def experiments(services: ServicesDep, feedback: FeedbackDep) -> ExperimentsPublic:
    """The running experiment: impressions, CTR and conversion per arm with intervals and a significance test."""
    running = _running(services)
    data = [] if running is None else [experiment_report(running, feedback)]
    return ExperimentsPublic(data=data, count=len(data))


@router.get(
    "/feedback",
    response_model=FeedbackPublic,
    dependencies=[Depends(require_api_key)],
    responses=error_responses(403, e403=SECRET_KEY_ONLY_403),
)
def feedback_table(feedback: FeedbackDep) -> FeedbackPublic:
    """Impressions, attributed clicks, purchases, units, revenue per currency and custom events per (model
    version, arm, source, segment)."""
    rows = [FeedbackRowPublic.model_validate(asdict(r)) for r in feedback.counts()]
    return FeedbackPublic(data=rows, count=len(rows))
