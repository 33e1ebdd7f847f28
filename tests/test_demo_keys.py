"""The demo serves with a secret key, a publishable key and a user-token secret, generated once and
kept, unless configured."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from graphrec.config import Settings
from graphrec.demo import demo_keys
from graphrec.user_tokens import mint_user_token, verify_user_token


def test_demo_keys_are_generated_once_and_configured_ones_win(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys="", publishable_keys="")
    keys = demo_keys(settings)
    secret, publishable, token_secret = keys
    assert len(secret) == 48 and publishable.startswith("pk_") and secret != publishable
    assert demo_keys(settings) == keys  # kept: the next demo run serves the same keys
    kept = tmp_path / "demo" / "keys.json"
    assert json.loads(kept.read_text()) == {
        "secret": secret,
        "publishable": publishable,
        "user_token_secret": token_secret,
    }
    assert kept.stat().st_mode & 0o777 == 0o600
    configured = Settings(
        data_dir=tmp_path,
        api_keys="mine",
        publishable_keys="pk_mine",
        publishable_origins="https://shop.example",
        user_token_secret=SecretStr("configured-user-token-secret-0123456789"),
    )
    assert demo_keys(configured) == ("mine", "pk_mine", "configured-user-token-secret-0123456789")
    Settings(
        publishable_keys=publishable, publishable_origins="*", user_token_secret=token_secret
    )  # generated ones pass the rules
    assert verify_user_token(token_secret, mint_user_token(token_secret, "u1", now=1), now=2).user_id == "u1"


def test_a_keys_file_from_before_user_tokens_keeps_its_keys_and_gains_a_token_secret(tmp_path: Path) -> None:
    kept = tmp_path / "demo" / "keys.json"
    kept.parent.mkdir()
    kept.write_text(json.dumps({"secret": "old-secret", "publishable": "pk_old"}))
    keys = demo_keys(Settings(data_dir=tmp_path, api_keys="", publishable_keys=""))
    assert keys[:2] == ("old-secret", "pk_old") and len(keys.user_token_secret) >= 32
    assert json.loads(kept.read_text())["user_token_secret"] == keys.user_token_secret
