"""Path parameters that carry ids: every id reaches its validator, whatever characters it holds.

Why: Starlette matches a route against the decoded path, and its default ``{name}`` stops at ``/``
and its ``{name:path}`` stops at a newline, so an id with either never reached the route: the
client got a bare 404 ("Not Found") instead of a 422 naming the field and the id rule. The ``id``
convertor takes any non-empty text; :mod:`graphrec.ids` then accepts or rejects it with a reason.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[str]):
    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("id", IdConvertor())

_PARAM = re.compile(r"\{(\w+)\}")


def id_path(path: str) -> str:
    """``/users/{user_id}/merge`` -> ``/users/{user_id:id}/merge`` (the OpenAPI path is unchanged)."""
    return _PARAM.sub(r"{\1:id}", path)
