"""The OpenAPI document: FastAPI's, plus the schemas of bodies that routes parse by hand.

Why: ``POST /v1/events`` reads its body itself (size limits before parsing), so FastAPI never sees
its model; the route documents the body with a ``$ref`` and the models behind it are added to
``components/schemas`` here. Inlining pydantic's schema instead left ``#/$defs/...`` references
that point nowhere in an OpenAPI document (generators refused it, fuzzers skipped the route).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF_TEMPLATE = "#/components/schemas/{model}"


def component_schemas(*models: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Each model and every model it nests, keyed by name, with references into components."""
    out: dict[str, dict[str, Any]] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def body_ref(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads a JSON body of ``model`` by hand."""
    ref = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def install_openapi(app: FastAPI, *body_models: type[BaseModel]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            doc.setdefault("components", {}).setdefault("schemas", {}).update(component_schemas(*body_models))
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
