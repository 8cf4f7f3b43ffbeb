"""The reports service: keeps the annual totals projection current and serves `GET /totals`."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Query, Request
from sqlmodel import Session

from contracts.errors import Forbidden
from contracts.lifecycle import SHANGHAI
from contracts.roles import Role
from gongkai import projection, runtime
from gongkai.config import Settings
from gongkai.http import Caller, install
from services.reports.projections import AnnualTotals, totals

#: roles that see every org's totals (a city- or district-level viewer); others see their own org
ALL_ORGS_ROLES = frozenset({Role.VIEWER, Role.LEADER, Role.OFFICE})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    totals_projection = AnnualTotals()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.running(settings, "reports", totals_projection) as rt:
            app.state.engine = rt.engine
            yield

    app = FastAPI(title="gongkai reports", version="1", lifespan=lifespan,
                  description="年度统计与年度报告 / annual totals and the annual report")
    install(app, settings)

    @app.get("/totals")
    async def get_totals(request: Request, who: Caller, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                         org: str | None = None) -> dict:
        year = year or datetime.now(SHANGHAI).year
        if org != who.org and not (ALL_ORGS_ROLES & set(who.roles)):
            if org is None:
                org = who.org
            else:
                raise Forbidden("不能查看其他单位的统计", "you may see only your own org's totals", code="other_org")
        engine = request.app.state.engine

        def read() -> dict:
            with Session(engine) as s:  # one read transaction: the totals are exactly those of `position`
                row = s.get(projection.ProjectionPosition, totals_projection.name)
                return totals(s, year=year, org=org, categories=settings.categories,
                              position=row.position if row else 0)

        return await asyncio.to_thread(read)

    return app
