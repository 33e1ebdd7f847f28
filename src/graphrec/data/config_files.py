"""Reading the TOML files commands take (``--config``) and validating them into their pydantic models.

Why here, once: ``graphrec train``, ``evaluate`` and ``export`` read the same kind of file, and a
missing file, a syntax error or a wrong field must fail the same way for each, as one line naming the
file and the field (``train.toml: train.epochs: Input should be a valid integer``), not as a
traceback (issue 30). Fields a command set from its options are named as the option (``--ratings``),
since the file is not where that value came from.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from graphrec.data.errors import InputError, UserError

Model = TypeVar("Model", bound=BaseModel)
Loc = tuple[str | int, ...]


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables; a missing, unreadable or malformed file is an :class:`InputError` naming it."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise InputError(path, None, f"cannot read the config file: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"not valid TOML: {exc}") from None


def table(raw: Mapping[str, Any], name: str, *, path: Path | None) -> dict[str, Any]:
    """``[name]`` of a file read by :func:`read_toml` (empty when absent); a key that is not a table
    is an :class:`InputError`."""
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise InputError(path or "config", None, f"{name} must be a table ([{name}]), got {type(value).__name__}")
    return dict(value)


def dotted(loc: Loc) -> str:
    """``("train", "encoder", "dim")`` -> ``train.encoder.dim`` (list positions as ``[i]``)."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


def describe_errors(exc: ValidationError, name: Callable[[Loc], str] = dotted) -> str:
    """Every problem of ``exc`` on one line: ``<field>: <message>``, joined by ``; ``."""
    problems = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = name(tuple(error["loc"]))
        problems.append(f"{where}: {message}" if where and not message.startswith(where) else message)
    return " ".join("; ".join(problems).split())  # one line, whatever a message held


def in_file(
    path: Path | None, where: str | Callable[[Loc], Loc] | None = None, *, options: Mapping[str, str] | None = None
) -> Callable[[Loc], str]:
    """Names a field by the option that set it (``options``: dotted field -> ``--option``), else as
    ``FILE: key``, ``key`` being the field's place in the file: under the table ``where`` names, or
    wherever the function ``where`` maps the model's location to."""

    def name(loc: Loc) -> str:
        field = dotted(loc)
        for key, option in (options or {}).items():
            if field == key or field.startswith((key + ".", key + "[")):
                return option
        if callable(where):
            key = dotted(where(loc))
        else:
            key = dotted(((where,) if where else ()) + loc)
        return f"{path}: {key}" if path is not None else key

    return name


def validate_config(model: type[Model], raw: Mapping[str, Any], name: Callable[[Loc], str] = dotted) -> Model:
    """``raw`` validated into ``model``; a problem is a :class:`UserError` naming each field with ``name``
    (:func:`in_file` for values read from a file)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise UserError(describe_errors(exc, name)) from None
