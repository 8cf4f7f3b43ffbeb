"""An annual report's data, read from the projections at one position of the log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from contracts.application_events import Section2Figures
from contracts.items import ItemKind
from contracts.lifecycle import SHANGHAI
from gongkai.deployment import Deployment
from services.reports.projections import (
    cases_table,
    fees_collected,
    narrative,
    proposals_count,
    section2_figures,
    year_counts,
)
from services.reports.report_data import Contact, Fees, Proactive, ReportData, Section2


def build(session: Session, *, year: int, org: str, deployment: Deployment, categories: dict[str, str],
          position: int) -> ReportData:
    # the year's counts as `GET /totals` gives them, without what only the dashboard shows (trends, open work)
    t = year_counts(session, year=year, org=org, categories=categories)
    cfg = deployment.org(org)
    figures = section2_figures(session, year=year, org=org)
    by_kind = t["by_kind"]
    return ReportData(
        year=year, org=org, org_name=cfg.display_name,
        contact=Contact(**{k: v for k, v in cfg.contact.items() if k in Contact.model_fields}),
        proactive=Proactive(total=by_kind[ItemKind.PROACTIVE], by_category=t["by_category"],
                            category_names=t["category_names"], interpretations=by_kind[ItemKind.INTERPRETATION],
                            responses=by_kind[ItemKind.RESPONSE]),
        applications=t["table3"], review_litigation=cases_table(session, year=year, org=org),
        proposals=proposals_count(session, year=year, org=org),
        fees=Fees(**fees_collected(session, year=year, org=org)), narrative=narrative(session, year=year, org=org),
        section2=section2_of(figures),
        signed_on=datetime.now(SHANGHAI).date(), generated_at=datetime.now(UTC),
        position=position)


def section2_of(f: Section2Figures | None) -> Section2:
    """The approved figures in the report's shape; none approved: every cell not recorded (a warning, X-6)."""
    if f is None:
        return Section2()
    return Section2(
        rules={"issued_this_year": f.rules_issued, "repealed_this_year": f.rules_repealed,
               "currently_valid": f.rules_in_force},
        normative_documents={"issued_this_year": f.normative_documents_issued,
                             "repealed_this_year": f.normative_documents_repealed,
                             "currently_valid": f.normative_documents_in_force},
        administrative_licensing=f.administrative_licensing, administrative_penalty=f.administrative_penalty,
        administrative_coercion=f.administrative_coercion, fee_amount_wan_yuan=float(f.fee_amount_wan_yuan))
