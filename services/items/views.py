"""How an item looks in the API: its state and its full history."""

from __future__ import annotations

from contracts.chain import STAGE_LABEL_ZH
from contracts.items import ItemStatus
from services.items.domain import Item


def item_view(item: Item, categories: dict[str, str]) -> dict:
    review = item.review if item.status is ItemStatus.IN_REVIEW else None
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
        "author": item.author,
        "status": item.status.value,
        "submission": item.submission,
        "stage": review.stage.value if review and review.stage else None,
        "stage_name": STAGE_LABEL_ZH[review.stage] if review and review.stage else None,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "index_no": item.index_no,
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
