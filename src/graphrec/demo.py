"""The main job on the embedded store (``make demo``): data in, counts out.

Why a module rather than a shell script: every step is the same pure function the CLI uses, so the
demo cannot drift from what users run by hand. Re-running it is cheap: generation is skipped when
the file exists, and the import ledger makes a second import a no-op.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from pathlib import Path

from graphrec.config import Settings
from graphrec.data.importer import import_dataset
from graphrec.data.readers import read_dataset
from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.data.weighing import weigher_for
from graphrec.graph.factory import open_store

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m graphrec.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", type=Path, default=None,
                        help="import this MovieLens 100K directory instead of synthetic data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings()
    if args.dataset is not None:
        fmt, path = "movielens", args.dataset
    else:
        fmt, path = "events", settings.data_dir / "demo" / f"events-{args.interactions}-{args.seed}.csv"
        if not path.exists():
            report = generate(SyntheticSpec(interactions=args.interactions, seed=args.seed), path)
            logger.info("generated %s events (%s users x %s items) at %s", f"{report.events:,}",
                        f"{report.users:,}", f"{report.items:,}", path)
    with open_store(settings) as store:
        result = import_dataset(store, read_dataset(fmt, path), fmt=fmt, weigher=weigher_for(store, settings),
                                batch_size=settings.batch_size)
        if result.already_imported:
            logger.info("%s was imported before: graph unchanged", path)
        else:
            logger.info("imported %s events -> %s interactions in %.1fs", f"{result.events:,}",
                        f"{result.interactions:,}", result.seconds)
        counts = store.counts()
    logger.info("graph at %s: %s", settings.graph_uri, asdict(counts))


if __name__ == "__main__":
    main()
