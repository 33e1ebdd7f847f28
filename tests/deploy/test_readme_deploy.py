"""README's "Production on Neo4j" and "Scale-out path": what their commands do, run or checked against the
real thing, never how the README words it.

No Docker engine runs here, so the walk-through runs as far as it can without one: its shell lines that
edit ``.env`` run in bash and compose then reads that file; its graphrec commands (loading behaviour,
the trainer's script from docker-compose.yml) run on an embedded store; its curl requests go to the real
app over that store and model; its compose commands are read against the compose model as
``docker compose config`` builds it; the names the scale-out section relies on are looked up where they
live.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import typer.main
from deploy_support import (
    ENV_EXAMPLE,
    REPO,
    MissingVariable,
    all_strings,
    compose_variables,
    interpolate,
    parse_env_file,
)
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from graphrec.cli import app as cli_app
from graphrec.config import Settings

README = REPO / "README.md"
SMALL = "2000"  # interactions the walk-through's generator makes here (the README's 200000 would take minutes)
KEY = "readme-key"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


@pytest.fixture(scope="module")
def production() -> str:
    return _section("Production on Neo4j")


@pytest.fixture(scope="module")
def scale_out() -> str:
    return _section("Scale-out path")


def _commands(markdown: str) -> list[str]:
    """The shell commands of the ```bash blocks (continuation lines and quoted newlines joined; comments
    are left to ``shlex``, which reads them as the shell does), then the inline `docker compose ...` and
    `graphrec ...` spans of the prose."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        pending = ""
        for line in block.splitlines():
            if line.endswith("\\"):  # a continuation line
                pending += line[:-1]
                continue
            pending = f"{pending}\n{line}" if pending else line
            try:
                argv = shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on on the next line
                continue
            if argv:
                commands.append(pending)
            pending = ""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", prose)
    commands += [span for span in spans if span.startswith(("docker compose ", "graphrec "))]
    return commands


def _argv(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def _compose_commands(markdown: str) -> list[SimpleNamespace]:
    """Every ``docker compose`` command: its env prefix, project, profiles, subcommand and arguments."""
    found = []
    for command in _commands(markdown):
        argv = _argv(command)
        env = {}
        while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):
            name, _, value = argv.pop(0).partition("=")
            env[name] = value
        if argv[:2] != ["docker", "compose"]:
            continue
        rest, project, profiles = argv[2:], None, []
        while rest and rest[0] in ("-p", "--profile"):
            flag, value, rest = rest[0], rest[1], rest[2:]
            if flag == "-p":
                project = value
            else:
                profiles.append(value)
        found.append(SimpleNamespace(env=env, project=project, profiles=profiles, sub=rest[0], args=rest[1:]))
    return found


def _published(service: dict[str, Any]) -> set[int]:
    return {int(p.rsplit(":", 2)[-2]) for p in service.get("ports", [])}


def _graphrec_steps(script: str) -> list[list[str]]:
    """The graphrec invocations of a shell line or ``a && b`` script (one run in a compose service too)."""
    steps = [_argv(step) for step in script.split("&&")]
    return [words[words.index("graphrec") :] for words in steps if "graphrec" in words]


def _graphrec_argvs(markdown: str) -> list[list[str]]:
    """Every graphrec invocation shown, ``sh -c '...'`` scripts included."""
    found = []
    for command in _commands(markdown):
        argv = _argv(command)
        scripts = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-c"] or [shlex.join(argv)]
        found += [step for script in scripts for step in _graphrec_steps(script)]
    return found


# -- from a checkout to a compose file with its secrets ---------------------------------------------------


def test_the_env_steps_give_compose_the_secrets_it_refuses_to_start_without(
    production: str, compose_raw: dict[str, Any], tmp_path: Path
) -> None:
    steps = [c for c in _commands(production) if _argv(c)[0] in ("cp", "sed")]
    assert steps and _argv(steps[0])[:2] == ["cp", ".env.example"]
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env.example")  # the checkout, as far as these lines read it
    with pytest.raises(MissingVariable):  # as copied, before the secrets are filled in
        interpolate(compose_raw, parse_env_file(ENV_EXAMPLE)[0])
    done = subprocess.run(["bash", "-ec", "\n".join(steps)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    env, _ = parse_env_file(tmp_path / ".env")
    assert re.fullmatch(r"[0-9a-f]{32}", env["NEO4J_PASSWORD"])
    assert re.fullmatch(r"[0-9a-f]{48}", env["GRAPHREC_API_KEYS"])
    services = interpolate(compose_raw, env)["services"]  # compose now starts
    assert services["api"]["environment"]["GRAPHREC_API_KEYS"] == env["GRAPHREC_API_KEYS"]
    assert services["neo4j"]["environment"]["NEO4J_AUTH"] == f"neo4j/{env['NEO4J_PASSWORD']}"


def test_compose_commands_name_real_services_in_their_profiles(production: str, compose: dict[str, Any]) -> None:
    commands = _compose_commands(production)
    assert {c.sub for c in commands} >= {"up", "ps", "logs", "run", "exec", "stop", "down"}
    for c in commands:
        named = [a for a in c.args if not a.startswith("-")][:1]
        if c.sub in ("run", "logs", "exec", "stop", "start", "up") and named:
            service = compose["services"].get(named[0])
            assert service is not None, f"docker compose {c.sub} {named[0]}: no such service"
            assert set(c.profiles) <= set(service.get("profiles", [])), (c.profiles, named[0])


# -- the walk-through's graphrec commands, run ----------------------------------------------------------------


@pytest.mark.integration  # runs graphrec init against an embedded server
def test_the_init_log_line_shown_is_what_init_prints_for_the_compose_uri(
    production: str, compose: dict[str, Any], tmp_path: Path
) -> None:
    quoted = re.search(r'docker compose logs init\s+#\s*"([^"]+)"', production)
    assert quoted, "the walk-through shows the init service's log line"
    init = compose["services"]["init"]
    uri = f"embedded:{tmp_path / 'store'}"  # the same command here, on the embedded store
    done = CliRunner().invoke(
        cli_app, init["command"][1:], env={"GRAPHREC_GRAPH_URI": uri, "GRAPHREC_DATA_DIR": str(tmp_path)}
    )
    assert done.exit_code == 0, done.output
    printed = done.output.strip()
    assert printed == f"schema applied to {uri}"
    assert quoted.group(1) == printed.replace(uri, init["environment"]["GRAPHREC_GRAPH_URI"])


def test_graphrec_commands_shown_exist(production: str) -> None:
    commands = set(typer.main.get_command(cli_app).commands)  # type: ignore[attr-defined]
    shown = {argv[1] for argv in _graphrec_argvs(production) if len(argv) > 1}
    assert {"generate", "import", "stats", "init", "export", "train", "publish"} <= shown
    assert shown <= commands, shown - commands


@pytest.fixture(scope="module")
def walked(
    production: str, compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, starts_processes: None
) -> Iterator[Settings]:
    """The walk-through on an embedded store instead of Neo4j: the behaviour loaded by the trainer's
    ``sh -c`` line (at SMALL interactions), then the trainer's own script from docker-compose.yml (export
    -> train -> publish latest) in a shell. Yields the settings the API then runs with."""
    root = tmp_path_factory.mktemp("walkthrough")
    env = {
        "GRAPHREC_GRAPH_URI": f"embedded:{root / 'store'}",
        "GRAPHREC_DATA_DIR": str(root),
        "GRAPHREC_MODEL_DIR": str(root / "models"),
    }
    load = next(c for c in _compose_commands(production) if c.sub == "run" and "-c" in c.args)
    for step in _graphrec_steps(load.args[load.args.index("-c") + 1]):
        argv = [a.replace("/tmp/", f"{root}/") for a in step[1:]]
        if "--interactions" in argv:
            argv[argv.index("--interactions") + 1] = SMALL
        done = CliRunner().invoke(cli_app, argv, env=env)
        assert done.exit_code == 0, (argv, done.output)
    trainer = compose["services"]["trainer"]
    assert trainer["command"][:2] == ["sh", "-ec"]
    bin_dir = Path(sys.executable).parent  # where `graphrec` is installed beside this interpreter
    done = subprocess.run(
        ["sh", "-ec", trainer["command"][2].replace("/var/lib/graphrec", str(root))],
        env={**os.environ, **env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    yield Settings(graph_uri=env["GRAPHREC_GRAPH_URI"], data_dir=root, model_dir=root / "models", api_keys=KEY)


def test_the_curl_requests_name_routes_and_parameters_the_api_declares(production: str) -> None:
    """The quick half of the next test (no store, no model): each request's route and query parameters."""
    from api.main import create_app

    paths = create_app(Settings()).openapi()["paths"]  # builds routes only; the lifespan (store) does not run
    urls = [urlsplit(a) for c in _commands(production) if _argv(c)[0] == "curl" for a in _argv(c) if "://" in a]
    assert len(urls) >= 3
    for url in urls:
        route = next((r for r in paths if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", r), url.path)), None)
        assert route is not None, f"{url.path}: no such route"
        declared = {p["name"] for p in paths[route]["get"].get("parameters", []) if p["in"] == "query"}
        assert {name for name, _ in parse_qsl(url.query)} <= declared, (url.geturl(), declared)


@pytest.mark.slow
def test_the_curl_requests_get_answers_from_the_published_model(
    production: str, compose: dict[str, Any], walked: Settings
) -> None:
    from api.main import create_app

    curls = [_argv(c) for c in _commands(production) if _argv(c)[0] == "curl"]
    assert len(curls) >= 3
    api_ports = _published(compose["services"]["api"])
    with TestClient(create_app(walked)) as client:
        for argv in curls:
            url = urlsplit(next(a for a in argv if a.startswith("http")))
            assert url.port in api_ports, f"{url.geturl()}: compose publishes the API on {api_ports}"
            params = dict(parse_qsl(url.query))
            headers = dict(argv[i + 1].replace("$KEY", KEY).split(": ", 1) for i, a in enumerate(argv) if a == "-H")
            r = client.get(url.path, params=params, headers=headers)
            assert r.status_code == 200, (url.geturl(), r.status_code, r.text)
            if "k" in params:
                assert len(r.json()["data"]) == int(params["k"]), url.geturl()
            if params.get("explain") == "true":
                assert all(d["reasons"] for d in r.json()["data"]), "explain=true explains every item"
            if headers:  # the header shown is the one the API checks
                assert client.get(url.path, params=params).status_code == 401, url.geturl()


# -- Neo4j Browser -------------------------------------------------------------------------------------------


def test_the_browser_addresses_are_the_ports_compose_publishes(production: str, compose: dict[str, Any]) -> None:
    addresses = {int(p) for p in re.findall(r"\b(?:http|bolt)://localhost:(\d+)", production) if int(p) != 8000}
    assert {7474, 7687} <= addresses
    default = [a for a in addresses if a < 10_000]  # the throwaway server's ports are checked below
    assert set(default) <= _published(compose["services"]["neo4j"]), default


def test_the_browser_params_are_the_saved_querys_own(production: str) -> None:
    """The parameters the README has a reader set are the ones the query reads, with its values (the
    API's defaults, see test_graph_queries) apart from the example ids."""
    params = r"^:param (\w+) => (.+?);?$"
    shown = dict(re.findall(params, production, re.M))
    own = dict(re.findall(params, (REPO / "graph" / "queries" / "03-why-recommended.cypher").read_text(), re.M))
    assert set(shown) == set(own)
    examples = {"user", "item"}
    assert {k: v for k, v in shown.items() if k not in examples} == {k: v for k, v in own.items() if k not in examples}


# -- the contract run against a throwaway Neo4j ----------------------------------------------------------


def test_the_contract_run_points_the_suite_at_the_throwaway_server(
    production: str, compose_raw: dict[str, Any], user_env: dict[str, str]
) -> None:
    up = next(c for c in _compose_commands(production) if c.project and c.sub == "up")
    throwaway = interpolate(compose_raw, {**user_env, **up.env})["services"]["neo4j"]
    make = next(_argv(c) for c in _commands(production) if "make" in _argv(c))
    env = dict(a.split("=", 1) for a in make[: make.index("make")])
    assert urlsplit(env["NEO4J_URI"]).port in _published(throwaway)  # the suite reaches that server
    assert urlsplit(env["NEO4J_URI"]).port not in _published(interpolate(compose_raw, user_env)["services"]["neo4j"])
    assert re.search(rf"^{make[-1]}:", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)  # make test
    suite = (REPO / "tests" / "conftest.py").read_text(encoding="utf-8")
    read = set(re.findall(r'os\.environ(?:\.get\()?\[?"(NEO4J_\w+)"', suite))
    assert {n for n in env if n.startswith("NEO4J_")} <= read, read  # the variables the suite reads
    down = next(c for c in _compose_commands(production) if c.sub == "down")
    assert down.project == up.project and "-v" in down.args
    neo4j_volumes = [v.split(":")[0] for v in compose_raw["services"]["neo4j"]["volumes"]]
    assert all(v in compose_raw["volumes"] for v in neo4j_volumes)  # named volumes: `down -v` drops them


# -- Scale-out path ------------------------------------------------------------------------------------------


def test_the_scale_out_names_real_benches_settings_modules_and_statements(
    scale_out: str, compose_raw: dict[str, Any]
) -> None:
    benches = set(re.findall(r"`(bench/\w+\.py)`", scale_out))
    assert {"bench/import.py", "bench/ingest.py", "bench/serve.py", "bench/train.py"} <= benches
    assert all((REPO / b).is_file() for b in benches), benches
    for command in re.findall(r"`python (bench/\w+\.py)[^`]*`", scale_out):
        assert (REPO / command).is_file(), command
    settings = set(re.findall(r"`(GRAPHREC_\w+)", scale_out))
    assert settings and {f"GRAPHREC_{n.upper()}" for n in Settings.model_fields} >= settings, settings
    modules = set(re.findall(r"`(graphrec(?:\.\w+)+)`", scale_out))
    assert modules and all(importlib.util.find_spec(m) for m in modules), modules
    from graphrec.graph.cypher.falkordb import FALKORDB
    from graphrec.graph.cypher.neo4j import NEO4J

    cypher = " ".join(str(getattr(NEO4J, f.name)) for f in dataclasses.fields(NEO4J))
    relationships = set(re.findall(r"\[\w*:([A-Z_]+)", cypher))
    build_args = set(re.findall(r"^ARG (\w+)", (REPO / "Dockerfile").read_text(encoding="utf-8"), re.M))
    compose_vars = {name for text in all_strings(compose_raw) for name in compose_variables(text)}
    for name in re.findall(r"`((?!GRAPHREC_)[A-Z][A-Z_]{4,})`", scale_out):  # statements, edge types, build args
        known = relationships | build_args | compose_vars  # ... and docker-compose.yml's variables
        assert (hasattr(NEO4J, name) and hasattr(FALKORDB, name)) or name in known, name
    index = re.search(r"db\.index\.vector\.queryNodes\('(\w+)'", scale_out)
    assert index and re.search(
        rf"CREATE VECTOR INDEX {index.group(1)}\b", (REPO / "graph" / "schema.cypher").read_text(encoding="utf-8")
    )


def test_the_neo4j_adapter_routes_reads_to_readers_as_the_scale_out_says(scale_out: str) -> None:
    from neo4j import RoutingControl

    from graphrec.graph.neo4j_store import Neo4jStore

    assert "routing_=READ" in scale_out  # the claim checked here
    calls: list[dict[str, Any]] = []

    class Driver:
        def execute_query(self, query: str, params: dict[str, Any], **kw: Any) -> Any:
            calls.append(kw)
            return SimpleNamespace(records=[])

    store = Neo4jStore(Driver(), database="neo4j")  # type: ignore[arg-type]
    store.user_interactions(user_id="u1")
    store.co_interaction_candidates_for_user(user_id="u1", now_ms=0, half_life_days=30)
    assert calls and all(c["routing_"] == RoutingControl.READ and c["database_"] == "neo4j" for c in calls), calls
