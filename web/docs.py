"""The API's reference: ``/openapi.json`` (FastAPI's OpenAPI schema) and ``/docs``, a plain page
made from it here (FastAPI's own page loads Swagger UI from a CDN: nothing is fetched from the
internet at run time)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from .context import WebContext, get_context

__all__ = ["router", "operations"]

router = APIRouter()


def operations(schema: dict) -> list[dict]:
    """``[{"method", "path", "summary", "description", "parameters"}]`` of an OpenAPI ``schema``."""
    found = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            params = [{"name": p.get("name"), "where": p.get("in"), "description": p.get("description", "")}
                      for p in op.get("parameters", [])]
            found.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                          "description": op.get("description", ""), "parameters": params})
    return found


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def docs(request: Request, context: WebContext = Depends(get_context)) -> Response:
    return context.render(request, "docs.html", page="docs", operations=operations(request.app.openapi()))
