"""The office writes the narrative sections of its annual report here (events on the report's subject);
last year's text is offered as the starting point, and a near-identical text is a warning (X-9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from contracts import subjects
from contracts.application_events import ReportTextSet, Section2Figures
from contracts.envelope import Actor, Envelope
from contracts.errors import Forbidden, Invalid
from contracts.report_texts import COPY_PASTE_RATIO, NARRATIVE_SECTIONS, similarity
from contracts.roles import Role
from gongkai.http import Caller
from services.items.records import Section2Record

router = APIRouter(tags=["annual report"])

#: a report's year (the reports service takes the same range)
Year = Annotated[int, Path(ge=2000, le=2100)]


class Text(BaseModel):
    # a whole annual report is some 10,000 characters; every section at its longest still fits the report item
    text: str = Field(min_length=1, max_length=20_000)


async def texts_of(log, org: str, year: int) -> tuple[dict[str, str], int]:
    """The latest text of each section, and the subject's last sequence."""
    events = await log.load(subjects.event_subject("report", f"{org}-{year}"))
    texts = {st.envelope.payload["section"]: st.envelope.payload["text"] for st in events
             if st.envelope.type == ReportTextSet.TYPE}
    return texts, events[-1].seq if events else 0


@router.get("/report-texts/{year}")
async def get_texts(year: Year, request: Request, who: Caller) -> dict:
    log = request.app.state.svc.log
    texts, _ = await texts_of(log, who.org, year)
    previous, _ = await texts_of(log, who.org, year - 1)
    return {"year": year, "org": who.org, "sections": NARRATIVE_SECTIONS, "texts": texts,
            "previous": previous}  # last year's texts: the starting point for this year's


@router.put("/report-texts/{year}/{section}")
async def put_text(year: Year, body: Text, request: Request, who: Caller,
                   section: str = Path(max_length=100, description="one of the narrative sections")) -> dict:
    if Role.OFFICE not in who.roles:
        raise Forbidden("年度报告由公开办公室编写", "only role office writes the annual report", code="wrong_role")
    if section not in NARRATIVE_SECTIONS:
        raise Invalid(f"未知的报告部分 {section}", f"unknown section {section!r}; one of {sorted(NARRATIVE_SECTIONS)}",
                      code="unknown_section")
    log = request.app.state.svc.log
    _, last = await texts_of(log, who.org, year)
    previous, _ = await texts_of(log, who.org, year - 1)
    env = Envelope.wrap(ReportTextSet(year=year, section=section, text=body.text), aggregate_id=f"{who.org}-{year}",
                        org=who.org, actor=Actor(user=who.user, roles=[r.value for r in who.roles]))
    await log.append(subjects.event_subject("report", f"{who.org}-{year}"), env, last)
    ratio = similarity(body.text, previous.get(section, ""))
    warning = (f"与上一年度该部分内容高度相似（{ratio:.0%}），请避免照搬 / {ratio:.0%} identical to last year's text"
               if ratio >= COPY_PASTE_RATIO else None)
    return {"year": year, "section": section, "text": body.text, "similarity_to_last_year": round(ratio, 3),
            "warning": warning}


@router.post("/records/{year}", status_code=202)
async def submit_section2(year: Year, body: Section2Figures, request: Request, who: Caller) -> dict:
    """The year's table-二 figures (Art. 20 items 1, 5, 6, 8), submitted to the review chain; they appear in the
    report once approved (`POST /records/{year}/decisions` on the reviews service)."""
    svc = request.app.state.svc
    rid = f"{who.org}-{year}"
    record = Section2Record.from_events(rid, await svc.log.load(subjects.event_subject("record", rid)))
    await svc.append(record, record.submit(who, who.org, year, body), Actor(user=who.user,
                     roles=[r.value for r in who.roles]), org=who.org)
    await svc.start_review(record)
    return {"id": rid, "year": year, "status": record.status, "submission": record.submission,
            "figures": body.model_dump(mode="json")}
