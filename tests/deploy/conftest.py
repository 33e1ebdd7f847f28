"""Fixtures for the deployment checks: docker-compose.yml, .env.example, Dockerfile, README.

No Docker engine runs here, so the compose file is checked the way `docker compose config` would
read it: ${VAR} interpolation (with .env.example's values), then the Compose Specification schema.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from deploy_support import COMPOSE_FILE, ENV_EXAMPLE, TEST_SECRETS, interpolate, parse_env_file


@pytest.fixture(scope="session")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def compose_raw(compose_text: str) -> dict[str, Any]:
    doc = yaml.safe_load(compose_text)
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="session")
def env_example() -> tuple[dict[str, str], dict[str, str]]:
    return parse_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="session")
def user_env(env_example: tuple[dict[str, str], dict[str, str]]) -> dict[str, str]:
    """The .env a user gets from `cp .env.example .env` and filling in the secrets."""
    active, _ = env_example
    return {**active, **TEST_SECRETS}


@pytest.fixture(scope="session")
def compose(compose_raw: dict[str, Any], user_env: dict[str, str]) -> dict[str, Any]:
    """The compose model as `docker compose config` sees it with that .env (x- anchors merged)."""
    return interpolate(compose_raw, user_env)
