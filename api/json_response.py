"""A response model's JSON, serialised once.

Why: a route that returns a pydantic model has FastAPI validate it against ``response_model`` again
and then serialise it; on the recommendations route that second validation cost about as much as
the ranking's blend. Routes whose models are built from typed domain values (``model_construct``)
return :func:`json_response` instead, and keep ``response_model`` for the OpenAPI document.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, *, status_code: int = 200) -> Response:
    """``model`` as ``application/json`` (pydantic's own serialiser, no second validation)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
