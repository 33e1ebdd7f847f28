"""README's "Production on Neo4j" and "Scale-out path": every command shown refers to something real.

The walk-through cannot run here (no Docker engine), so its parts are checked against the sources
they name: compose services, graphrec subcommands, API routes, saved queries and their parameters.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from deploy_support import REPO

from graphrec.cli import app as cli_app

README = REPO / "README.md"


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


@pytest.fixture(scope="module")
def production() -> str:
    return _section(README.read_text(encoding="utf-8"), "Production on Neo4j")


@pytest.fixture(scope="module")
def scale_out() -> str:
    return _section(README.read_text(encoding="utf-8"), "Scale-out path")


def test_walkthrough_from_env_file_to_a_recommendation_and_a_browser_query(production: str) -> None:
    steps = ["cp .env.example .env", "docker compose up -d", "--profile trainer run --rm trainer",
             "recommendations?k=10&explain=true", "http://localhost:7474", ":param user =>",
             "03-why-recommended.cypher"]
    positions = [production.find(s) for s in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "the steps appear in the order a reader runs them"
    assert 'X-API-Key: $KEY' in production


def test_contract_run_is_documented_against_a_throwaway_neo4j(production: str) -> None:
    m = re.search(r"^NEO4J_URI=bolt://localhost:(\d+) NEO4J_USER=neo4j NEO4J_PASSWORD=\S+ make test$",
                  production, re.M)
    assert m, "the contract run command"
    assert f"NEO4J_BOLT_PORT={m.group(1)}" in production  # the throwaway server listens there
    assert "clears the database" in production


def test_compose_services_named_in_commands_exist(production: str, compose: dict[str, Any]) -> None:
    pattern = re.compile(r"docker compose (?:-p \S+ )?(?:--profile \S+ )?"
                         r"(?:up -d(?: --wait)?|run --rm|logs|exec|stop|start|restart) ([a-z0-9_-]+)")
    named = set(pattern.findall(production))
    assert {"neo4j", "init", "trainer"} <= named
    assert named <= set(compose["services"]), named - set(compose["services"])


def _code(markdown: str) -> str:
    """Fenced blocks and inline `code` spans only (prose says "graphrec on Neo4j" too)."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", markdown, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", markdown, flags=re.S))
    return "\n".join(blocks + spans)


def test_graphrec_commands_shown_exist(production: str) -> None:
    commands = set(typer.main.get_command(cli_app).commands)  # type: ignore[attr-defined]
    shown = set(re.findall(r"\bgraphrec ([a-z][a-z-]+)\b", _code(production)))
    assert {"generate", "import", "stats", "publish"} <= shown
    assert shown <= commands, shown - commands


def test_api_routes_shown_exist(production: str) -> None:
    from api.main import create_app  # builds routes only; the lifespan (store) does not run
    from graphrec.config import Settings

    routes = list(create_app(Settings()).openapi()["paths"])
    shown = re.findall(r"http://localhost:8000(/[^\s?\"]*)", production)
    assert "/healthz" in shown and len(shown) >= 3
    for path in shown:
        assert any(re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", r), path) for r in routes), \
            f"{path}: no such route in the API ({routes})"


def test_browser_params_shown_are_the_saved_query_params(production: str) -> None:
    shown = set(re.findall(r"^:param (\w+) =>", production, re.M))
    text = (REPO / "graph" / "queries" / "03-why-recommended.cypher").read_text(encoding="utf-8")
    assert shown == set(re.findall(r"^:param (\w+) =>", text, re.M))


def test_scale_out_capacity_figures_and_placeholders(scale_out: str) -> None:
    # Every capacity row carries a measured figure and names what reproduces it; no placeholders.
    rows = [line for line in scale_out.splitlines() if line.startswith("| ") and "bench" in line.lower()
            and not line.startswith("| path")]
    named = {b for row in rows for b in re.findall(r"`(bench/\w+\.py)`", row)}
    assert {"bench/import.py", "bench/ingest.py", "bench/serve.py", "bench/train.py"} <= named, named
    for row in rows:
        assert re.search(r"\d", row.split("|")[2]), f"no measured figure in: {row}"
    assert "(see bench/" not in scale_out
    for bench in re.findall(r"`(bench/\w+\.py)`", scale_out):
        assert (REPO / bench).is_file(), bench
    for topic in ("routing_=READ", "DistributedDataParallel", "vector", "Kafka", "graphrec.events.pipeline",
                  "single writer"):
        assert topic in scale_out, topic
