"""``graphrec token mint``: a user token for one user, signed with ``GRAPHREC_USER_TOKEN_SECRET``.

Why a command: to try the API as a signed-in visitor with the publishable key (curl, the tracker),
and to check a backend's own minting against graphrec's (same secret, user and times: same token).
A site's backend mints its own in five lines (docs/api.md, "User tokens"); this is the same function.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

token_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="User tokens: what lets a publishable key act for one signed-in user.",
)


@token_app.command("mint")
def mint(
    user: Annotated[str, typer.Option("--user", help="the user id the token acts for")],
    ttl: Annotated[int, typer.Option("--ttl", min=1, max=86_400, help="lifetime in seconds (at most 24 h)")] = 3_600,
) -> None:
    """Print a user token for USER (v1.<payload>.<signature>), valid TTL seconds from now."""
    from graphrec.config import Settings
    from graphrec.user_tokens import mint_user_token

    secret = Settings().user_token_secret
    if secret is None:
        typer.echo(
            "error: GRAPHREC_USER_TOKEN_SECRET is not set: it is the secret user tokens are signed with "
            "(32+ characters; the API needs the same one)",
            err=True,
        )
        raise typer.Exit(1)
    try:
        token = mint_user_token(secret.get_secret_value(), user, ttl, now=int(time.time()))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
