"""Closing a year (年度关账): the report's figures are kept with their digest; a later event that changes them
shows as a restatement (old value, new value) in the report instead of silently changing a published one."""

from __future__ import annotations

import hashlib
import json

from services.reports.report_data import ReportData

FIGURES = {"proactive", "applications", "review_litigation", "proposals", "fees", "section2"}


def figures(data: ReportData) -> dict:
    return data.model_dump(mode="json", include=FIGURES)


def digest(figs: dict) -> str:
    return hashlib.sha256(json.dumps(figs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _flat(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def restatements(closed: dict, current: dict) -> list[dict]:
    """Every figure that differs from the closed year's, with both values."""
    old, new = _flat(closed), _flat(current)
    return [{"key": k, "old": old.get(k), "new": new.get(k)} for k in sorted(old.keys() | new.keys())
            if old.get(k) != new.get(k) and not k.startswith("proactive.category_names")]


def as_closed(data: ReportData, closed: dict, changes: list[dict], note_key: str) -> ReportData:
    """The report as published when closed, with the restatements stated in its last section."""
    kept = data.model_copy(update={k: type(getattr(data, k)).model_validate(v) if hasattr(getattr(data, k),
                                   "model_validate") else v for k, v in closed.items()})
    if not changes:
        return kept
    lines = "；".join(f"{c['key']}：原为{c['old']}，现为{c['new']}" for c in changes)
    note = f"更正说明：本年度关账后，以下数据因后续记录发生变化（报告仍按关账时数据列示）：{lines}。"
    narrative = dict(kept.narrative)
    narrative[note_key] = (narrative.get(note_key, "") + "\n\n" + note).strip()
    return kept.model_copy(update={"narrative": narrative})
