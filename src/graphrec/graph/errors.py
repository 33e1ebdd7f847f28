"""The store's failures as graphrec sees them, whichever store raised them.

Why a small set of types: callers above the adapters (the API, the background refreshes, the CLI)
must decide between "answer 503 and let the client retry", "this write lost a race", "the store
refused these values" and "this is a bug"; matching driver classes of two drivers, or error strings,
in every caller is how a store outage used to become a 500 or a 404. Each adapter says once how its
driver's errors map onto these types (a ``classify`` function, by exception class or by the driver's
structured error code, never by message text) and :func:`translating` applies it at every public
method. Anything a classifier does not claim propagates unchanged: a bug stays a bug.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class StoreError(RuntimeError):
    """A failure the graph store reported, translated from the driver's own exception (its
    ``__cause__``)."""


class StoreUnavailable(StoreError):  # noqa: N818 - reads as what happened, like ConnectionError
    """The graph store cannot be reached or did not answer in time; the operation did not complete
    (a write either applied entirely or not at all) and may be retried."""


class StoreConflict(StoreError):
    """The write conflicted with data already in the store or with a concurrent write (a uniqueness
    constraint, for example); nothing was written. Re-read, then decide whether to retry."""


class NotFoundInStore(StoreError, LookupError):  # noqa: N818 - reads as what happened
    """The store has no such thing as the operation names: a database, a procedure, an index."""


class BadStoreInput(StoreError, ValueError):
    """The store (or the adapter, before sending anything) refused the statement or its values;
    sent again unchanged it fails again. A ``ValueError``, as for any refused argument."""


class GraphNotCreated(BadStoreInput):  # noqa: N818 - reads as what happened
    """The statement reads a graph that does not exist yet (FalkorDB creates a graph on its first
    write; ``graphrec init`` makes one): not an empty answer, which would hide a wrong store or name."""


Classify = Callable[[BaseException], type[StoreError] | None]
"""The translation of one driver's exception to a store error type; None leaves it untranslated."""


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` or anything in its cause chain is a :class:`StoreUnavailable`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StoreUnavailable):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _translated(exc: Exception, classify: Classify, name: str) -> StoreError | None:
    if isinstance(exc, StoreError):  # already translated (one public method calling another)
        return None
    kind = classify(exc)
    if kind is None:
        return None
    if kind is StoreUnavailable:
        return kind(f"{name} unavailable: {type(exc).__name__}: {exc}")
    message = getattr(exc, "message", None) or str(exc)  # Neo4j errors carry the server's message apart
    return kind(f"{name}: {message}")


def _wrap(fn: Callable[..., Any], classify: Classify, name: str) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(*args: Any, **kwargs: Any) -> Any:
            try:
                return (yield from fn(*args, **kwargs))
            except Exception as exc:
                if (translated := _translated(exc, classify, name)) is None:
                    raise
                raise translated from exc

        wrapped: Callable[..., Any] = gen
    elif inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def coro(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                if (translated := _translated(exc, classify, name)) is None:
                    raise
                raise translated from exc

        wrapped = coro
    else:

        @functools.wraps(fn)
        def plain(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if (translated := _translated(exc, classify, name)) is None:
                    raise
                raise translated from exc

        wrapped = plain
    wrapped.__graphrec_translated__ = True  # type: ignore[attr-defined]
    return wrapped


def translating(classify: Classify, name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: every public method (plain, generator or coroutine), its own or inherited,
    raises the store error ``classify`` names for what its driver raised."""

    def decorate(cls: type[T]) -> type[T]:
        methods: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):  # the most derived definition wins
            methods.update(vars(klass))
        for attr, value in methods.items():
            if attr.startswith("_") or not inspect.isfunction(value):
                continue
            if getattr(value, "__graphrec_translated__", False):
                continue  # a decorated parent's method keeps the parent's translation
            setattr(cls, attr, _wrap(value, classify, name))
        return cls

    return decorate
