"""The one home of how a ``graphrec`` command fails: a problem the user can fix is one line on stderr
naming what to fix, exit 2 (a command line the parser refuses too); a graph store that cannot be
reached is one line, exit 3 (retry later); never a traceback for either (issue 30).

Why one home: commands and the pure functions under them raise (a :class:`~graphrec.data.errors.UserError`
or :class:`~graphrec.data.errors.InputError`, a pydantic ``ValidationError`` of the settings, an
``OSError`` naming a file, ``StoreUnavailable``) and :class:`FailingInOneLine`, the root command group,
turns them into the line and the exit code for every command at once, instead of a ``try``/``except``
in each command that some forget. Anything else is a bug and keeps its traceback: it has nothing to
name that the user could fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:  # typer carries its own click: its Context, not the click package's
    from typer._click.core import Context
    from typer._click.exceptions import UsageError

BAD_INPUT = 2  # fix what the line names, then run it again
STORE_DOWN = 3  # nothing to fix here: retry when the store is back


def failure_line(exc: BaseException) -> tuple[str, int] | None:
    """``(line, exit code)`` for a failure the user can act on; ``None`` for anything else (a bug)."""
    from pydantic import ValidationError

    from graphrec.data.config_files import describe_errors
    from graphrec.data.errors import UserError
    from graphrec.graph.errors import StoreUnavailable

    if isinstance(exc, StoreUnavailable):
        return (
            f"error: {exc}; is the graph store running, and does GRAPHREC_GRAPH_URI point at it? "
            "Retry when it is (imports resume where they stopped)",
            STORE_DOWN,
        )
    if isinstance(exc, UserError):
        return f"error: {exc}", BAD_INPUT
    if isinstance(exc, ValidationError) and exc.title == "Settings":  # GRAPHREC_* environment or .env
        return "error: " + describe_errors(exc, lambda loc: f"GRAPHREC_{str(loc[0]).upper()}" if loc else ""), BAD_INPUT
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"error: {exc.filename}: {exc.strerror or exc}", BAD_INPUT
    return None


def usage_line(exc: UsageError) -> str:
    """One line for a command line the parser refused (an unknown option, a bad value, a missing
    argument), naming the command whose ``--help`` lists what it takes; click's own form is a usage
    block and a framed box, five lines or more."""
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    return f"error: {exc.format_message()}{where}"


class FailingInOneLine(TyperGroup):
    """The root command group: every command's user-facing failure leaves through :func:`failure_line`,
    and a command line its parser refuses through :func:`usage_line`."""

    def invoke(self, ctx: Context) -> Any:
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise  # a group called bare shows its help: no failure to report
        except UsageError as exc:
            typer.echo(" ".join(usage_line(exc).split()), err=True)
            raise typer.Exit(BAD_INPUT) from None
        except Exception as exc:
            failure = failure_line(exc)
            if failure is None:
                raise
            line, code = failure
            typer.echo(" ".join(line.split()), err=True)
            raise typer.Exit(code) from None
