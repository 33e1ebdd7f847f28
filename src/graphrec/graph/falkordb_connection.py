"""How graphrec's FalkorDB clients (synchronous and asyncio) connect, and what their errors mean."""

from __future__ import annotations

from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from graphrec.graph.embedded import EmbeddedStoreError
from graphrec.graph.errors import BadStoreInput, StoreError, StoreUnavailable

# The driver errors that mean "the server cannot be reached now". MaxConnectionsError (a full pool)
# and BusyLoadingError (a server replaying its log) are ConnectionErrors too; so is an embedded
# server that could not be (re)started.
TRANSIENT: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, EmbeddedStoreError)


def classify(exc: BaseException) -> type[StoreError] | None:
    """FalkorDB's errors as store errors, by class: an error reply to a query (a plain
    ``ResponseError``: the statement or its values were refused) is bad input; the server states
    redis reports as ``ResponseError`` subclasses (read-only replica, out of memory, no permission)
    are left as they are."""
    if isinstance(exc, TRANSIENT):
        return StoreUnavailable
    if type(exc) is ResponseError:
        return BadStoreInput
    return None


def quick_retry() -> Retry:
    """One immediate retry, no backoff.

    Why: the retry replaces a pooled connection that a restarted server closed; redis-py's default
    (exponential backoff, three retries) held every request ~4 s against a server that was down.
    """
    return Retry(NoBackoff(), 1)


def quick_retry_async() -> AsyncRetry:
    """:func:`quick_retry` for the asyncio client (given the synchronous one, redis-py converts it
    and warns on every connection)."""
    return AsyncRetry(NoBackoff(), 1)
