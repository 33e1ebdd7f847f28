"""How graphrec's FalkorDB clients (synchronous and asyncio) connect and which failures are transient."""

from __future__ import annotations

from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

# The driver errors that mean "the server cannot be reached now". MaxConnectionsError (a full pool)
# and BusyLoadingError (a server replaying its log) are ConnectionErrors too.
TRANSIENT: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)


def quick_retry() -> Retry:
    """One immediate retry, no backoff.

    Why: the retry replaces a pooled connection that a restarted server closed; redis-py's default
    (exponential backoff, three retries) held every request ~4 s against a server that was down.
    """
    return Retry(NoBackoff(), 1)
