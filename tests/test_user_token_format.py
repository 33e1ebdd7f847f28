"""The user-token format (graphrec.user_tokens): minting, verification, and every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from graphrec.config import Settings
from graphrec.user_tokens import (
    CLOCK_SKEW_S,
    MAX_TTL_S,
    InvalidUserToken,
    UserToken,
    mint_user_token,
    verify_user_token,
)

SECRET = "s3cr3t-for-user-tokens-0123456789abcdef"
NOW = 1_800_000_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: dict[str, object], *, secret: str = SECRET, version: str = "v1") -> str:
    """A token signed by hand, exactly as the documented five-line recipe does it."""
    payload = _b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{version}.{payload}".encode(), hashlib.sha256).digest()
    return f"{version}.{payload}.{_b64(sig)}"


def refused(token: str, *, now: int = NOW, secret: str = SECRET) -> str:
    with pytest.raises(InvalidUserToken) as info:
        verify_user_token(secret, token, now=now)
    return info.value.reason


def test_a_minted_token_verifies_to_its_user_and_lifetime() -> None:
    token = mint_user_token(SECRET, "u-42", 3600, now=NOW)
    assert token.startswith("v1.") and token.count(".") == 2
    assert verify_user_token(SECRET, token, now=NOW + 3599) == UserToken("u-42", NOW, NOW + 3600)
    assert mint_user_token(SECRET, "u-42", 3600, now=NOW) == token  # pure: same inputs, same token


def test_the_documented_recipe_mints_tokens_the_server_accepts() -> None:
    """Any backend can mint one: base64url JSON, HMAC-SHA256 over 'v1.' + payload."""
    token = signed({"sub": "Zoë", "iat": NOW, "exp": NOW + 60})
    assert verify_user_token(SECRET, token, now=NOW).user_id == "Zoë"
    padded = token.split(".")
    padded[2] += "=" * (-len(padded[2]) % 4)  # padding is tolerated
    assert verify_user_token(SECRET, ".".join(padded), now=NOW).user_id == "Zoë"


def test_an_expired_token_is_refused() -> None:
    token = mint_user_token(SECRET, "u1", 60, now=NOW)
    assert "expired 0 s ago" in refused(token, now=NOW + 60)


def test_a_tampered_token_or_another_secret_is_refused() -> None:
    token = mint_user_token(SECRET, "u1", 60, now=NOW)
    version, payload, sig = token.split(".")
    other = _b64(json.dumps({"sub": "u2", "iat": NOW, "exp": NOW + 60}).encode())
    assert "invalid signature" in refused(f"{version}.{other}.{sig}")
    assert "invalid signature" in refused(f"{version}.{payload}.{sig[:-2]}AA")
    assert "invalid signature" in refused(f"{version}.{payload}.not*base64")
    assert "invalid signature" in refused(token, secret="another-secret-of-enough-length-0123456789")


def test_a_wrong_version_or_shape_is_refused() -> None:
    assert "unsupported version 'v2'" in refused(signed({"sub": "u1", "iat": NOW, "exp": NOW + 60}, version="v2"))
    assert "malformed" in refused("v1.onlytwo")
    assert "malformed" in refused("")
    assert "longer than" in refused("v1." + "a" * 5000 + ".b")


def test_claims_must_be_well_formed() -> None:
    assert "no 'sub'" in refused(signed({"iat": NOW, "exp": NOW + 60}))
    assert "no integer 'exp'" in refused(signed({"sub": "u1", "iat": NOW, "exp": "later"}))
    assert "no integer 'iat'" in refused(signed({"sub": "u1", "iat": True, "exp": NOW + 60}))
    assert "not a JSON object" in refused(signed([1, 2]))  # type: ignore[arg-type]
    assert "invalid user id" in refused(signed({"sub": "a/b", "iat": NOW, "exp": NOW + 60}))


def test_far_future_issue_and_lifetimes_over_a_day_are_refused() -> None:
    assert "issued in the future" in refused(signed({"sub": "u1", "iat": NOW + CLOCK_SKEW_S + 1, "exp": NOW + 3600}))
    assert verify_user_token(SECRET, signed({"sub": "u1", "iat": NOW + CLOCK_SKEW_S, "exp": NOW + 3600}), now=NOW)
    assert "at most 86400 s" in refused(signed({"sub": "u1", "iat": NOW, "exp": NOW + MAX_TTL_S + 1}))


def test_minting_refuses_weak_secrets_bad_ids_and_lifetimes() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        mint_user_token("short", "u1", now=NOW)
    with pytest.raises(ValueError, match="distinct characters"):
        mint_user_token("ab" * 20, "u1", now=NOW)
    with pytest.raises(ValueError, match="ttl_s must be 1 to 86400"):
        mint_user_token(SECRET, "u1", MAX_TTL_S + 1, now=NOW)
    with pytest.raises(ValueError, match="user_id must not be empty"):
        mint_user_token(SECRET, "", now=NOW)


def test_the_setting_refuses_weak_secrets_and_reads_empty_as_unset() -> None:
    with pytest.raises(ValueError, match="GRAPHREC_USER_TOKEN_SECRET must be at least 32 characters"):
        Settings(user_token_secret="password")
    with pytest.raises(ValueError, match="GRAPHREC_USER_TOKEN_SECRET must use at least 8 distinct"):
        Settings(user_token_secret="x" * 40)
    assert Settings(user_token_secret="").user_token_secret is None
    assert Settings(user_token_secret=SECRET).user_token_secret is not None


def test_the_cli_mints_a_token_the_verifier_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from graphrec.cli import app

    monkeypatch.setenv("GRAPHREC_USER_TOKEN_SECRET", SECRET)
    before = int(time.time())
    out = CliRunner().invoke(app, ["token", "mint", "--user", "u-7", "--ttl", "120"])
    assert out.exit_code == 0, out.output
    verified = verify_user_token(SECRET, out.stdout.strip(), now=before)
    assert verified.user_id == "u-7" and verified.expires_at - verified.issued_at == 120
    bad = CliRunner().invoke(app, ["token", "mint", "--user", "a/b"])
    assert bad.exit_code == 2 and "user_id must not contain '/'" in bad.output
    monkeypatch.delenv("GRAPHREC_USER_TOKEN_SECRET")
    unset = CliRunner().invoke(app, ["token", "mint", "--user", "u-7"])
    assert unset.exit_code == 1 and "GRAPHREC_USER_TOKEN_SECRET is not set" in unset.output
