"""An annual report's data, read from the projections at one position of the log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from contracts.lifecycle import SHANGHAI
from gongkai.deployment import Deployment
from services.reports.projections import narrative, totals
from services.reports.report_data import Contact, Fees, Proactive, ReportData


def build(session: Session, *, year: int, org: str, deployment: Deployment, categories: dict[str, str],
          position: int) -> ReportData:
    t = totals(session, year=year, org=org, categories=categories, position=position)
    cfg = deployment.org(org)
    p = t["proactive"]
    return ReportData(
        year=year, org=org, org_name=cfg.display_name,
        contact=Contact(**{k: v for k, v in cfg.contact.items() if k in Contact.model_fields}),
        proactive=Proactive(total=p["total"], by_category=p["by_category"], category_names=p["category_names"],
                            interpretations=t["interpretations"], responses=t["responses"]),
        applications=t["applications"]["table3"], review_litigation=t["cases"], proposals=t["proposals"],
        fees=Fees(**t["fees"]), narrative=narrative(session, year=year, org=org),
        signed_on=datetime.now(SHANGHAI).date(), generated_at=datetime.now(UTC),
        position=position)
