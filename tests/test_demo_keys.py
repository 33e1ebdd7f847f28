"""The demo serves with a secret and a publishable key, generated once and kept, unless configured."""

from __future__ import annotations

import json
from pathlib import Path

from graphrec.config import Settings
from graphrec.demo import demo_keys


def test_demo_keys_are_generated_once_and_configured_ones_win(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys="", publishable_keys="")
    secret, publishable = demo_keys(settings)
    assert len(secret) == 48 and publishable.startswith("pk_") and secret != publishable
    assert demo_keys(settings) == (secret, publishable)  # kept: the next demo run serves the same keys
    kept = tmp_path / "demo" / "keys.json"
    assert json.loads(kept.read_text()) == {"secret": secret, "publishable": publishable}
    assert kept.stat().st_mode & 0o777 == 0o600
    configured = Settings(data_dir=tmp_path, api_keys="mine", publishable_keys="pk_mine")
    assert demo_keys(configured) == ("mine", "pk_mine")
    Settings(publishable_keys=publishable)  # a generated key passes the pk_ rule
