"""The store's failures as graphrec sees them: "unavailable" (retry later) versus everything else.

Why one type: callers above the adapters (the API, the background refreshes, the CLI) must decide
between "answer 503 and let the client retry" and "this is a bug"; matching driver classes of two
drivers, or error strings, in every caller is how a store outage used to become a 500 or a 404.
Each adapter declares the driver errors that mean "cannot reach the store now" and
:func:`translating` turns them into :class:`StoreUnavailable` at its public methods, once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class StoreUnavailable(RuntimeError):  # noqa: N818 - reads as what happened, like ConnectionError
    """The graph store cannot be reached or did not answer in time; the operation did not complete
    (a write either applied entirely or not at all) and may be retried."""


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


def _wrap(fn: Callable[..., Any], transient: tuple[type[BaseException], ...], name: str) -> Callable[..., Any]:
    def reason(exc: BaseException) -> str:
        return f"{name} unavailable: {type(exc).__name__}: {exc}"

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args: Any, **kwargs: Any) -> Any:
            try:
                return (yield from fn(*args, **kwargs))
            except transient as exc:
                raise StoreUnavailable(reason(exc)) from exc
        return gen

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def coro(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except transient as exc:
                raise StoreUnavailable(reason(exc)) from exc
        return coro

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except transient as exc:
            raise StoreUnavailable(reason(exc)) from exc
    return plain


def translating(transient: tuple[type[BaseException], ...], name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: every public method (plain, generator or coroutine) raises
    :class:`StoreUnavailable` where the driver raised one of ``transient``."""

    def decorate(cls: type[T]) -> type[T]:
        for attr, value in list(vars(cls).items()):
            if attr.startswith("_") or not inspect.isfunction(value):
                continue
            setattr(cls, attr, _wrap(value, transient, name))
        return cls

    return decorate
