"""How an item looks in the API: its state and its full history."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.chain import STAGE_LABEL_ZH
from contracts.items import ItemKind
from gongkai.deadlines import publication_deadline, report_deadline, stage_deadline
from gongkai.deployment import Deployment
from services.items.domain import Item


def deadlines(item: Item, deployment: Deployment, now: datetime | None = None) -> list[dict]:
    """Each deadline the item is held to now, with how it was computed (the days skipped and why)."""
    now = now or datetime.now(UTC)
    out = []
    stage = item.review.stage if item.review_open else None
    if stage and item.stage_started_at:
        d = stage_deadline(stage, item.stage_started_at, deployment.stage_deadline_for(item.org))
        out.append({"kind": "stage", "stage": stage.value, "starts_at": item.stage_started_at.isoformat(),
                    **d.model_dump(mode="json"), "overdue": d.overdue(now)})
    if item.formed_on and not item.imported:
        d = (report_deadline(item.formed_on.year, deployment.org(item.org).report_publish_by)
             if item.kind is ItemKind.ANNUAL_REPORT else publication_deadline(item.formed_on, deployment.publication_deadline))
        out.append({"kind": "publication", "stage": None, "starts_on": item.formed_on.isoformat(),
                    **d.model_dump(mode="json"), "overdue": d.overdue(item.published_at or now)})
    return out


def item_view(item: Item, categories: dict[str, str], deployment: Deployment) -> dict:
    review = item.review if item.review_open else None
    return {
        "id": item.id,
        "org": item.org,
        "kind": item.kind.value,
        "category": item.category,
        "category_name": categories.get(item.category or ""),
        "title": item.title,
        "body": item.body,
        "formed_on": item.formed_on.isoformat() if item.formed_on else None,
        "channels": item.channels,
        "interprets": item.interprets,
        "metadata": item.metadata.model_dump(mode="json"),
        "author": item.author,
        "status": item.status.value,
        "review_open": item.review_open,
        "pending_change": item.change.model_dump(mode="json") if item.change and item.review_open else None,
        "submission": item.submission,
        "stage": review.stage.value if review and review.stage else None,
        "stage_name": STAGE_LABEL_ZH[review.stage] if review and review.stage else None,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "index_no": item.index_no,
        "deadlines": deadlines(item, deployment),
        "findings": [f.model_dump(mode="json") for f in item.findings],
        "reminders": [{"type": st.envelope.type, "occurred_at": st.envelope.occurred_at.isoformat(),
                       **st.envelope.payload} for st in item.reminders],
        "imported": item.imported,
        "version": item.version,
        "created_at": item.created_at.isoformat() if item.created_at else None,
        "updated_at": item.updated_at.isoformat() if item.updated_at else None,
        "history": [
            {"seq": st.seq, "type": st.envelope.type, "occurred_at": st.envelope.occurred_at.isoformat(),
             "actor": st.envelope.actor.model_dump(), "event_id": st.envelope.event_id,
             "payload": st.envelope.payload}
            for st in item.history
        ],
    }
