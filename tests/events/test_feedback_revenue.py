"""Revenue per list: attributed purchases keep their quantity, price and currency, each once, and the feedback
table adds them up per currency; custom events naming a shown item are attributed by the same rule; a file
written by an older release gets the new outcome columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from graphrec.events.details import CustomDetails, PurchaseDetails
from graphrec.events.feedback import FeedbackLog, Revenue, ServedList
from graphrec.events.log import LoggedEvent

T = 1_750_000_000_000


def _shop(path: Path) -> FeedbackLog:
    log = FeedbackLog(path)
    log.queue_served(ServedList("r1", "u1", "user", "v1", None, "graph", None, [("a", "graph"), ("b", "embedding")], T))
    log.queue_served(ServedList("r2", "u2", "user", "v1", None, "graph", None, [("a", "graph")], T))
    log.record_impressions(rec_id="r1", actor="u1", item_ids=["a", "b"], ts=T + 1)
    log.record_impressions(rec_id="r2", actor="u2", item_ids=["a"], ts=T + 1)
    return log


def _buy(actor: str, event_id: str, item: str, price: float | None, currency: str | None, qty: int) -> LoggedEvent:
    return LoggedEvent(
        actor, event_id, item, "purchase", T + 10, purchase=PurchaseDetails(price, currency, qty, f"o-{event_id}")
    )


def test_revenue_is_summed_per_currency_once_per_event(tmp_path: Path) -> None:
    log = _shop(tmp_path / "events.db")
    events = [
        _buy("u1", "p1", "a", 19.99, "EUR", 3),
        _buy("u1", "p2", "b", 5.0, "USD", 1),
        LoggedEvent("u1", "p3", "b", "purchase", T + 10),  # no details: one unit, no revenue
        _buy("u2", "p1", "a", 0.01, "EUR", 1),  # the same event id of another actor is another purchase
        _buy("u1", "p9", "zzz", 100.0, "EUR", 1),  # an item no list showed: not attributed
        LoggedEvent("u1", "c1", "a", "custom", T + 10, custom=CustomDetails("wishlist_add", None)),
        LoggedEvent("u1", "c2", "", "custom", T + 10, custom=CustomDetails("newsletter_signup", None)),  # no item
    ]
    assert log.attribute(events) == 5
    assert log.attribute(events) == 0  # a retried (re-logged) batch adds nothing: keyed by (actor, event id)
    by_source = {r.source: r for r in log.counts()}
    graph, embedding = by_source["graph"], by_source["embedding"]
    assert (graph.impressions, graph.purchases, graph.units) == (2, 2, 4)
    assert graph.revenue == [Revenue("EUR", 2, 4, 59.98)]  # 19.99 x 3 + 0.01, exactly in cents
    assert graph.custom == {"wishlist_add": 1}
    assert (embedding.purchases, embedding.units) == (2, 2)
    assert embedding.revenue == [Revenue("USD", 1, 1, 5.0)] and embedding.custom == {}


def test_an_older_file_gets_the_new_outcome_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with sqlite3.connect(path) as db:  # the outcomes table as the previous release created it
        db.execute(
            "CREATE TABLE outcomes (actor TEXT NOT NULL, event_id TEXT NOT NULL, rec_id TEXT NOT NULL, "
            "item_id TEXT NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (actor, event_id)) "
            "WITHOUT ROWID"
        )
        db.execute("INSERT INTO outcomes VALUES ('u1', 'old', 'r1', 'a', 'purchase', 1)")
    log = _shop(path)
    FeedbackLog(path)  # a second process starting on the same file adds nothing twice
    assert log.attribute([_buy("u1", "p1", "a", 2.5, "GBP", 2)]) == 1
    (graph,) = [r for r in log.counts() if r.source == "graph"]
    assert (graph.purchases, graph.units) == (2, 3)  # the old outcome counts one unit
    assert graph.revenue == [Revenue("GBP", 1, 2, 5.0)]
