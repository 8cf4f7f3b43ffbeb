"""What every HTTP service shares: JSON errors in Chinese and English, the bearer-token dependency, /health,
and observability (correlation id, request span and metrics, `GET /metrics`: `gongkai/observability.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.errors import DomainError
from contracts.roles import Principal
from gongkai import observability
from gongkai.auth import Verifier
from gongkai.config import Settings


def install(app: FastAPI, settings: Settings) -> None:
    app.state.settings = settings
    app.state.verifier = Verifier(settings)
    observability.install_http(app)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, e: DomainError) -> JSONResponse:
        return JSONResponse(e.to_json(), status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(err.get("loc", [])), "msg": err.get("msg")} for err in e.errors()]
        return JSONResponse({"error": "invalid", "message": "请求内容不合法 / the request is malformed",
                             "details": details}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        zh = {404: "资源不存在", 405: "不支持该请求方法"}.get(e.status_code, "请求错误")
        return JSONResponse({"error": {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error"),
                             "message": f"{zh} / {e.detail}"}, status_code=e.status_code)

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, e: ValidationError) -> JSONResponse:
        details = [{"loc": list(err.get("loc", [])), "msg": err.get("msg")} for err in e.errors()]
        return JSONResponse({"error": "invalid", "message": "请求内容不合法 / the request is malformed",
                             "details": details}, status_code=422)

    @app.get("/health", tags=["health"])
    async def health() -> dict:
        return {"status": "ok", "service": app.title}


def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    return request.app.state.verifier.principal(authorization)


Caller = Annotated[Principal, Depends(caller)]
