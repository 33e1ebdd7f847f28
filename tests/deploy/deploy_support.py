"""Helpers for the deployment checks (tests/deploy): paths, env files, Compose interpolation.

A module of its own rather than conftest.py, so test modules can import it by a unique name
(several conftest.py files live under tests/).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# Secrets .env.example leaves empty; the tests fill them in as a user would.
TEST_SECRETS = {"NEO4J_PASSWORD": "test-password-123", "GRAPHREC_API_KEYS": "key-one,key-two"}

_VAR = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    """A `${VAR:?message}` (or `${VAR?message}`) variable is unset or empty."""


def compose_variables(text: str) -> set[str]:
    """Names of the variables a compose file interpolates (`$$` is a literal dollar, not a variable)."""
    return {m.group("name") or m.group("bare") for m in _VAR.finditer(text) if m.group("name") or m.group("bare")}


def all_strings(node: Any) -> list[str]:
    """Every string value (and mapping key) of a parsed YAML document: what Compose interpolates."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for v in node for s in all_strings(v)]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*all_strings(k), *all_strings(v))]
    return []


def interpolate_str(value: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR:+alt}, $$."""

    def sub(m: re.Match[str]) -> str:
        name = m.group("name") or m.group("bare")
        if name is None:
            return "$"
        op, arg = m.group("op"), m.group("arg") or ""
        present, val = name in env, env.get(name, "")
        if op is None:
            return val
        unset = not present or (op.startswith(":") and val == "")
        kind = op[-1]
        if kind == "-":
            return arg if unset else val
        if kind == "?":
            if unset:
                raise MissingVariable(f"{name}: {arg}")
            return val
        return "" if unset else arg  # "+"

    return _VAR.sub(sub, value)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate_str(node, env)
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    return node


def parse_env_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(active assignments, documented names -> value) of an env file; `# NAME=value` documents a
    variable without setting it."""
    active: dict[str, str] = {}
    documented: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if not m:
            continue
        documented[m.group(2)] = m.group(3)
        if not m.group(1):
            active[m.group(2)] = m.group(3)
    return active, documented
