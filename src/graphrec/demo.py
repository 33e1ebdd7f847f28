"""The main job on the embedded store (``make demo``): data in, a trained model served.

Steps: generate (or ``--dataset``) -> import -> train (a small, fast GraphSAGE config) -> tune the
blend weight -> publish -> serve the API on 127.0.0.1:8000, after printing ready-to-paste curl calls
with real ids. ``--no-serve`` stops after publishing (tests, CI).

Why a module rather than a shell script: every step is the same pure function the CLI uses, so the
demo cannot drift from what users run by hand. Re-running it is cheap: generation is skipped when
the file exists, and the import ledger makes a second import a no-op.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from graphrec import clock
from graphrec.config import Settings
from graphrec.data.importer import import_dataset
from graphrec.data.readers import read_dataset
from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.data.weighing import weigher_for
from graphrec.events.log import EventLog
from graphrec.graph.factory import open_store
from graphrec.graph.port import SEGMENTATION_META_KEY, CatalogueStore, GraphStore

if TYPE_CHECKING:  # torch is imported only when a model is trained
    from graphrec.model.pipeline import PipelineConfig

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m graphrec.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dataset", type=Path, default=None, help="import this MovieLens 100K directory instead of synthetic data"
    )
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (small: the demo is quick)")
    parser.add_argument(
        "--category-focus",
        type=float,
        default=0.8,
        help="how much each synthetic user's tastes keep to one category (0-1), so that the "
        "storefront's 'Recommended for you' follows the category a visitor browses",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-serve", action="store_true", help="stop after publishing the model")
    parser.add_argument(
        "--origins",
        default="",
        help="comma-separated origins of your own pages (e.g. http://localhost:5173) that may call the demo "
        "with its publishable key: added to the CORS and publishable-key origins",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train a new version even when the data is unchanged since the published one",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings()
    if args.dataset is not None:
        fmt, path = "movielens", args.dataset
    else:
        fmt, path = "events", settings.data_dir / "demo" / f"events-{args.interactions}-{args.seed}.csv"
        if not path.exists():
            # the demo plays a live service: its history ends now, so "trending" has recent events
            report = generate(
                SyntheticSpec(
                    interactions=args.interactions,
                    seed=args.seed,
                    end=datetime.now(UTC),
                    category_focus=args.category_focus,
                ),
                path,
            )
            logger.info(
                "generated %s events (%s users x %s items) at %s",
                f"{report.events:,}",
                f"{report.users:,}",
                f"{report.items:,}",
                path,
            )
    extra_origins = [o.strip().rstrip("/") for o in args.origins.split(",") if o.strip()]
    log = EventLog(settings.event_log_file)
    with open_store(settings) as store:
        weigher = weigher_for(store, settings)
        # the events go to the event log too, so the dashboard's profiles and segments have data
        result = import_dataset(
            store,
            read_dataset(fmt, path),
            fmt=fmt,
            weigher=weigher,
            batch_size=settings.batch_size,
            log=log,
            weight_cap=weigher.weight_cap,
        )
        if result.already_imported:
            logger.info("%s was imported before: graph unchanged", path)
        else:
            logger.info(
                "imported %s events -> %s interactions in %.1fs",
                f"{result.events:,}",
                f"{result.interactions:,}",
                result.seconds,
            )
        counts = store.counts()
        logger.info("graph at %s: %s", settings.graph_uri, asdict(counts))
        described = describe_for_storefront(store)
        if described:
            logger.info("gave %s items a storefront page, picture and price", f"{described:,}")
        if store.get_meta(key=SEGMENTATION_META_KEY) is None:
            segment_demo(store, log, settings)
        from graphrec.model.pipeline import current_version

        published = current_version(settings.models_path)
        if published is not None and result.already_imported and not args.retrain:
            version = published  # same data as the published version was trained on: minutes saved
            logger.info("data unchanged since %s was trained: serving it (--retrain trains anew)", version)
        else:
            version = train_and_publish(store, settings, epochs=args.epochs)
        keys = demo_keys(settings)
        calls = example_calls(store, settings, args.host, args.port, keys=keys)
    logger.info("published model %s", version)
    secret, publishable, token_secret = keys
    print(
        f"\nAPI keys of this demo (kept in {settings.data_dir / 'demo' / 'keys.json'}):\n"
        f"  secret (servers only, X-API-Key header): {secret}\n"
        f"  publishable (web pages: events, identify, opt-out, recommendations): {publishable}\n"
        f"  user token secret (servers only: signs the tokens that let a page name its signed-in user; "
        f"GRAPHREC_USER_TOKEN_SECRET): {token_secret}",
        flush=True,
    )
    print(
        f"\nDemo storefront (a shop over this API, with the publishable key): http://{args.host}:{args.port}/demo\n"
        f"API reference: http://{args.host}:{args.port}/docs",
        flush=True,
    )
    print("\nTry these once the server is up:\n" + "\n".join(calls) + "\n", flush=True)
    print(cross_origin_note(args.host, args.port, extra_origins), flush=True)
    if not args.no_serve:
        # the served API reads its settings from the environment: the demo's keys travel there
        if not settings.api_key_set:
            os.environ["GRAPHREC_API_KEYS"] = secret
        if not settings.publishable_key_set:
            os.environ["GRAPHREC_PUBLISHABLE_KEYS"] = publishable
        if settings.user_token_secret is None:
            os.environ["GRAPHREC_USER_TOKEN_SECRET"] = token_secret
        own = demo_origins(args.host, args.port)
        if not settings.publishable_origin_list:  # the storefront's own pages, as a browser names them
            os.environ["GRAPHREC_PUBLISHABLE_ORIGINS"] = ",".join([*own, *extra_origins])
        if extra_origins and not settings.cors_origin_list:  # a page elsewhere: its browser asks CORS first
            os.environ["GRAPHREC_CORS_ORIGINS"] = ",".join([*own, *extra_origins])
        from graphrec.commands.serve import serve

        serve(args.host, args.port)


def cross_origin_note(host: str, port: int, extra: list[str]) -> str:
    """The next step for a page on another origin: which origins may call, and how to add one."""
    if extra:
        return (
            f"Pages on {', '.join(extra)} may call http://{host}:{port} with the publishable key (CORS and "
            "GRAPHREC_PUBLISHABLE_ORIGINS include them). Catalogue url/image_url are paths on the API's "
            f"host: prefix them with http://{host}:{port}."
        )
    return (
        "A page on another origin (your own dev server) needs CORS: rerun with "
        "`make demo ORIGINS=http://localhost:5173` (sets GRAPHREC_CORS_ORIGINS and GRAPHREC_PUBLISHABLE_ORIGINS; "
        "the data and the trained version are reused). Catalogue url/image_url are paths on the API's host."
    )


def segment_demo(store: GraphStore, log: EventLog, settings: Settings) -> None:
    """Behaviour segments of the demo's logged events, written to the graph (what ``graphrec segment``
    does), so the dashboard's segment panel has something to show from the first run."""
    from graphrec.behaviour.segments import SegmentConfig, segment_log, write_segments

    run = segment_log(log, window_days=settings.segment_window_days, as_of_ms=None, config=SegmentConfig())
    seg = run.segmentation
    if seg.segments:
        write_segments(store, seg)
        logger.info("segmented %s users into %s behaviour segments", f"{len(seg.actors):,}", len(seg.segments))


def demo_origins(host: str, port: int) -> list[str]:
    """The origins of the demo's own pages (the storefront at ``/demo``), the only ones its publishable
    key is for: the bound address, and the loopback names a browser on this machine uses for it."""
    names = [host]
    if host in ("127.0.0.1", "localhost", "0.0.0.0", "::", "::1"):
        names += ["localhost", "127.0.0.1"]
    suffix = "" if port == 80 else f":{port}"  # a browser leaves the default port out of Origin
    return list(
        dict.fromkeys(
            f"http://[{n}]{suffix}" if ":" in n else f"http://{n}{suffix}" for n in names if n not in ("0.0.0.0", "::")
        )
    )


def describe_for_storefront(store: CatalogueStore, *, batch: int = 1_000) -> int:
    """Give every item without one a page, a picture and a price, so the demo storefront has a shop to show.

    Synthetic and MovieLens items have a title and categories only. The page and picture are the
    storefront's own (``/demo/item/<id>``, a placeholder SVG at ``/demo/img/<id>``: the shop works
    offline); the price is made up from the id, so it is the same on every run. Through the catalogue's
    upsert (which leaves interactions and embeddings alone); what a catalogue already gave is kept, so a
    second run writes nothing. Returns the number of items written.
    """
    from api.storefront import item_path, picture_path

    written, after = 0, ""
    while page := store.list_items(after=after, limit=batch):
        after = page[-1].id
        todo = [
            replace(
                it,
                url=it.url or item_path(it.id),
                image_url=it.image_url or picture_path(it.id),
                price=it.price if it.price is not None else _demo_price(it.id),
                currency=it.currency or "EUR",
            )
            for it in page
            if it.url is None or it.image_url is None or it.price is None
        ]
        written += store.replace_items(todo) if todo else 0
    return written


def _demo_price(item_id: str) -> float:
    """A price from 4.99 to 99.99 from the id's hash (the same on every run, nothing to keep)."""
    return round(4.99 + int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:4], "big") % 9_501 / 100, 2)


def demo_pipeline_config(epochs: int) -> PipelineConfig:
    """A small, fast training config: 2 layers of 32 dims, a few epochs, no refit (minutes on 2 cores);
    the new-user weights tuned on 100 validation users (the default 300 costs minutes more)."""
    from graphrec.model.blend_tuning import NewUserTuning
    from graphrec.model.config import EncoderConfig, TrainConfig
    from graphrec.model.pipeline import PipelineConfig

    return PipelineConfig(
        name="demo",
        train=TrainConfig(
            encoder=EncoderConfig(dim=32, layers=2),
            epochs=epochs,
            batch_size=16_384,
            lr=0.01,
            eval_every=5,
            patience=2,
            refit=False,
            user_id_dropout=0.1,
            threads=2,
        ),
        new_users=NewUserTuning(max_users=100),
    )


def train_and_publish(store: GraphStore, settings: Settings, *, epochs: int = 30) -> str:
    """Export -> train (which tunes the blend, and the new-user weights, on the same snapshot) -> publish;
    returns the version name."""
    from graphrec.model.blend_tuning import load_blend
    from graphrec.model.pipeline import publish, train
    from graphrec.offline.new_user_tuner import NewUserBlendTuner
    from graphrec.recommend.serving_config import ServingConfig

    cfg = demo_pipeline_config(epochs)
    out = train(
        cfg,
        models_path=settings.models_path,
        half_life_days=settings.half_life_days,
        store=store,
        progress=True,  # a bar on a terminal, epoch lines with an ETA in a log (graphrec.progress)
        new_users=NewUserBlendTuner(ServingConfig.from_settings(settings), progress=True),
    )
    blend = load_blend(out)
    logger.info(
        "trained %s; blend %s",
        out.name,
        f"alpha {blend.alpha:.2f} ({blend.metric})" if blend is not None else "not tuned: default alpha",
    )
    name, _, _ = publish(
        store, models_path=settings.models_path, version=out.name, half_life_days=settings.half_life_days
    )
    return name


class DemoKeys(NamedTuple):
    """The demo's secret and publishable API keys, and the secret its user tokens are signed with."""

    secret: str
    publishable: str
    user_token_secret: str


def demo_keys(settings: Settings) -> DemoKeys:
    """The demo's keys: the configured ones where set, else keys generated once and kept under the data
    directory (each one on its own, so a keys.json from before user tokens gains only the token secret),
    so every run of the demo serves the same keys."""
    import secrets

    path = settings.data_dir / "demo" / "keys.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    fresh: dict[str, Callable[[], str]] = {
        "secret": lambda: secrets.token_hex(24),
        "publishable": lambda: "pk_" + secrets.token_hex(16),
        "user_token_secret": lambda: secrets.token_urlsafe(32),
    }
    missing = {name: make() for name, make in fresh.items() if name not in stored}
    if missing:
        stored = {**stored, **missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    configured = settings.user_token_secret
    return DemoKeys(
        secret=next(iter(sorted(settings.api_key_set)), stored["secret"]),
        publishable=next(iter(sorted(settings.publishable_key_set)), stored["publishable"]),
        user_token_secret=configured.get_secret_value() if configured is not None else stored["user_token_secret"],
    )


def example_calls(
    store: GraphStore, settings: Settings, host: str, port: int, *, keys: DemoKeys, now: int | None = None
) -> list[str]:
    """curl lines with a real user and item from the graph, with the demo's keys (and a user token for
    that user, minted as a site's backend would: what lets a page act for its signed-in visitor)."""
    from graphrec.user_tokens import mint_user_token

    user = next((u.id for page in store.iter_users(page_size=50) for u in page if not u.id.startswith("anon:")), "u1")
    items = store.user_interactions(user_id=user, limit=1)
    item = items[0].item_id if items else "i1"
    base = f"http://{host}:{port}/v1"
    secret, publishable, token_secret = keys
    auth = f" -H 'X-API-Key: {secret}'"
    user_token = mint_user_token(token_secret, user, 3_600, now=int(time.time()) if now is None else now)
    page = f" -H 'X-API-Key: {publishable}' -H 'X-User-Token: {user_token}'"
    event = (
        '{"events":[{"event_id":"demo-1","anonymous_id":"visitor-1","item_id":"'
        + item
        + '","type":"view","timestamp":'
        + str(clock.now_ms())
        + "}]}"
    )
    return [
        f"curl -s{auth} '{base}/users/{user}/recommendations?k=10&explain=true'",
        f"curl -s{auth} '{base}/items/{item}/similar?k=10&explain=true'",
        f"curl -s{auth} '{base}/items/popular?k=10'",
        f"curl -s{auth} '{base}/model'",
        "# what a web page's tracker sends (a beacon: publishable key in the URL, text/plain JSON):",
        f"curl -s -X POST '{base}/events?key={publishable}' -H 'Content-Type: text/plain' -d '{event}'",
        f"# a page acting for its signed-in user {user}: the publishable key and a user token (valid 1 h; "
        f"`graphrec token mint --user {user}` mints another):",
        f"curl -s{page} '{base}/users/{user}/recommendations?k=5'",
        f"curl -s -X POST{page} -H 'Content-Type: application/json' '{base}/identify' "
        f'-d \'{{"anonymous_id":"visitor-1","user_id":"{user}"}}\'',
    ]


if __name__ == "__main__":
    main()
