"""Who sent a batch of events, as trending's per-client cap counts it: a keyed hash, never the raw values.

A *client* is one sender: the address a request came from and the API key it used. Trending counts at
most ``Settings.popular_actors_per_client`` actors per client for an item (``graphrec.recommend.popular``),
so one script inventing anonymous ids cannot buy a place in the shared lists. The id is stored on every
edge the client's events touch, so it must not be the address or the key themselves: it is an
HMAC-SHA256 under the deployment's secret (``Settings.client_key``), cut to 64 bits. Keyed, because an
unkeyed hash of an IPv4 address and a public key is reversed by trying all 2**32 addresses; 64 bits,
because the id only has to tell apart the senders of one window, and a shorter one says less.

Events whose sender is trusted to relay many people (a secret key: the shop's own backend; imports and
``graphrec ingest``) carry :data:`TRUSTED`, and each of their actors counts.
"""

from __future__ import annotations

import hashlib
import hmac

TRUSTED = ""  # the client id of a trusted sender: its actors are not capped


def client_id(*, secret: bytes, address: str, api_key: str) -> str:
    """The client id of requests from ``address`` with ``api_key`` (16 hex digits)."""
    digest = hmac.new(secret, api_key.encode() + b"\0" + address.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]
