"""Answers written straight to JSON, once.

Why: a route that returns a pydantic model has FastAPI validate it against ``response_model`` again
and then serialise it; on the recommendations route that second validation cost about as much as the
ranking's blend. A route whose answer is built from typed domain values returns :func:`json_body`
instead and keeps ``response_model`` for the OpenAPI document (the schema tests hold its answers to it).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response


def json_body(content: dict[str, Any], *, status_code: int = 200) -> Response:
    """``content`` as compact ``application/json``. A NaN or infinity raises (a bug upstream) rather
    than writing JSON no client can parse."""
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return Response(body.encode(), status_code=status_code, media_type="application/json")
