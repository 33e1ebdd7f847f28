"""``graphrec segment``: behavioural segments from the event log, written to the graph store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from graphrec.behaviour.segments import Method

# Everything heavy (scikit-learn, the store drivers, the settings) is imported inside the command: the
# CLI imports every command module to assemble itself, and `graphrec --help` must not pay for them.

# the centroid columns the table prints (the node keeps them all)
_SHOWN = (
    ("sessions", "sessions", "{:.1f}"),
    ("session_events", "events/session", "{:.1f}"),
    ("mean_dwell_s", "dwell s", "{:.0f}"),
    ("purchase_per_session", "purchases/session", "{:.2f}"),
    ("active_ratio", "active", "{:.2f}"),
    ("events_per_minute", "events/min", "{:.1f}"),
)


def _as_of(value: str | None) -> int | None:
    if value is None or value == "latest":
        return None
    if value == "now":
        from graphrec import clock

        return clock.now_ms()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected 'latest', 'now' or an ISO-8601 date, got {value!r}", param_hint="--as-of"
        ) from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)


def register(app: typer.Typer) -> None:
    @app.command("segment")
    def segment_command(
        window_days: Annotated[
            int | None,
            typer.Option(min=1, max=3650, help="days of log to cluster on (default: GRAPHREC_SEGMENT_WINDOW_DAYS)"),
        ] = None,
        as_of: Annotated[
            str, typer.Option(help="end of the window: 'latest' (the newest logged event), 'now' or an ISO-8601 date")
        ] = "latest",
        k_min: Annotated[int, typer.Option(min=2, max=30, help="fewest clusters tried")] = 2,
        k_max: Annotated[int, typer.Option(min=2, max=30, help="most clusters tried")] = 8,
        method: Annotated[str, typer.Option(help="kmeans (k by silhouette) | gmm (k by BIC)")] = "kmeans",
        seed: Annotated[int, typer.Option(help="random seed (same log and seed: same segments)")] = 0,
        truth: Annotated[
            Path | None,
            typer.Option(
                help="a generated <name>.users.csv (user_id,type): report the "
                "adjusted Rand index of the segments against it"
            ),
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="compute and print, write nothing")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    ) -> None:
        """Cluster users on their behaviour profiles into named segments and write them to the graph
        (``(:Segment)`` nodes, ``(:User)-[:IN_SEGMENT]->(:Segment)`` edges), replacing the previous ones."""
        from graphrec.behaviour.segments import SegmentConfig, segment_log, write_segments
        from graphrec.config import Settings
        from graphrec.data.synthetic import read_user_types
        from graphrec.events.log import EventLog
        from graphrec.graph.factory import open_store

        if method not in ("kmeans", "gmm"):
            raise typer.BadParameter("must be kmeans or gmm", param_hint="--method")
        if k_min > k_max:
            raise typer.BadParameter(f"--k-min {k_min} is above --k-max {k_max}", param_hint="--k-min")
        settings = Settings()
        chosen: Method = "kmeans" if method == "kmeans" else "gmm"
        config = SegmentConfig(k_min=k_min, k_max=k_max, method=chosen, seed=seed)
        known = read_user_types(truth) if truth is not None else None
        started = time.perf_counter()
        run = segment_log(
            EventLog(settings.event_log_file),
            window_days=window_days or settings.segment_window_days,
            as_of_ms=_as_of(as_of),
            config=config,
        )
        seg = run.segmentation
        written = 0
        write_s = 0.0
        if not dry_run and seg.segments:
            write_started = time.perf_counter()
            with open_store(settings) as store:
                store.apply_schema()
                written = write_segments(store, seg)
            write_s = time.perf_counter() - write_started
        ari, compared = seg.agreement(known) if known is not None else (None, 0)
        report = {
            "users": len(seg.actors),
            "events": run.events,
            "window_days": run.window_days,
            "as_of_ms": run.as_of_ms,
            "method": seg.method,
            "k": seg.k,
            "scores": seg.scores,
            "set_aside": seg.set_aside,
            "pca_components": seg.pca_components,
            "memberships_written": written,
            "seconds": {
                "read": round(run.read_s, 2),
                "cluster": round(run.cluster_s, 2),
                "write": round(write_s, 2),
                "total": round(time.perf_counter() - started, 2),
            },
            "adjusted_rand_index": None if ari is None else round(ari, 4),
            "compared_users": compared,
            "types_per_segment": seg.crosstab(known) if known is not None else None,
            "segments": [
                {
                    "name": s.name,
                    "size": s.size,
                    "outlier_group": s.outlier_group,
                    "rule": s.rule,
                    "centroid": s.centroid,
                    "z": s.z,
                }
                for s in seg.segments
            ],
        }
        if as_json:
            typer.echo(json.dumps(report))
            return
        if not seg.segments:
            typer.echo(f"no events in the {run.window_days}-day window ending {_day(run.as_of_ms)}: nothing to segment")
            return
        scores = ", ".join(f"{k}: {v:.3f}" for k, v in seg.scores.items())
        typer.echo(
            f"{len(seg.actors):,} users ({run.events:,} events, {run.window_days} days to "
            f"{_day(run.as_of_ms)}); {seg.set_aside:,} set aside by the density step; {seg.method} k = {seg.k} "
            f"({'silhouette' if seg.method == 'kmeans' else 'BIC'} per k: {scores})"
        )
        header = ["segment", "users", "share", *(label for _, label, _ in _SHOWN), "most distinctive (z)"]
        rows = []
        for s in seg.segments:
            top = sorted(s.z.items(), key=lambda kv: -abs(kv[1]))[:3]
            rows.append(
                [
                    s.name + (" *" if s.outlier_group else ""),
                    f"{s.size:,}",
                    f"{s.size / len(seg.actors):.1%}",
                    *(fmt.format(s.centroid[f]) for f, _, fmt in _SHOWN),
                    ", ".join(f"{f} {v:+.1f}" for f, v in top),
                ]
            )
        widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
        for r in [header, *rows]:
            typer.echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        typer.echo("(* an outlier group the density step set aside)")
        if known is not None:
            typer.echo(f"adjusted Rand index against {truth}: {ari:.3f} over {compared:,} users; types per segment:")
            for name, types in seg.crosstab(known).items():
                ranked = sorted(types.items(), key=lambda kv: -kv[1])
                typer.echo(f"  {name}: " + ", ".join(f"{t} {n:,}" for t, n in ranked))
        wrote = f", wrote {written:,} memberships in {write_s:.1f}s" if not dry_run else " (dry run: nothing written)"
        typer.echo(f"read {run.read_s:.1f}s, cluster {run.cluster_s:.1f}s{wrote}")


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
