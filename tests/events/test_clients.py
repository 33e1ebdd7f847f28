"""Client ids (trending's per-client cap): stable for one sender, distinct between senders, and keyed, so
the id stored on edges tells nothing about the address or the key without the deployment's secret."""

from __future__ import annotations

from pydantic import SecretStr

from graphrec.config import Settings
from graphrec.events.clients import TRUSTED, client_id


def test_one_sender_one_id_and_different_senders_differ() -> None:
    key = Settings(cursor_secret=SecretStr("deployment-secret-1")).client_key
    one = client_id(secret=key, address="203.0.113.9", api_key="pk_shop")
    assert one == client_id(secret=key, address="203.0.113.9", api_key="pk_shop")
    assert len(one) == 16 and int(one, 16) >= 0 and one != TRUSTED
    assert one != client_id(secret=key, address="203.0.113.10", api_key="pk_shop")
    assert one != client_id(secret=key, address="203.0.113.9", api_key="pk_other")
    assert "203.0.113.9" not in one and "pk_shop" not in one


def test_the_id_depends_on_the_deployment_secret() -> None:
    def settings(secret: str, keys: str = "sk-1") -> Settings:
        return Settings(api_keys=keys, cursor_secret=SecretStr(secret))

    ids = {
        client_id(secret=settings(k).client_key, address="203.0.113.9", api_key="pk_shop")
        for k in ("deployment-secret-1", "deployment-secret-2")
    }
    assert len(ids) == 2
    # every worker and restart of one deployment derives the same key, and adding an API key keeps it
    assert settings("deployment-secret-1").client_key == settings("deployment-secret-1", "sk-1,sk-2").client_key
    assert settings("deployment-secret-1").client_key != settings("deployment-secret-1").cursor_key  # own domain
