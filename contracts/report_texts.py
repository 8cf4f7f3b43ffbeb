"""The narrative sections of an annual report (the parts that are not counts), by key: the 2018 layout's and
the 2021 national layout's. The office writes them per year; the report shows a placeholder until it does."""

from __future__ import annotations

from difflib import SequenceMatcher

NARRATIVE_SECTIONS: dict[str, str] = {
    "overview": "概述（2018）",
    "organization": "组织领导和制度建设（2018）",
    "key_areas": "重点领域信息公开（2018）",
    "affiliated_units": "所属事业单位（2018）",
    "problems_improvements": "存在的问题及改进情况",
    "notes": "需要说明的事项（2018）",
    "local_rules": "地方规定（前言所引）",
    "overall": "总体情况（2021）",
    "other_matters": "其他需要报告的事项（2021）",
}

#: X-9: a text this similar to last year's is a warning (the 2021 notice names copy-paste reports as a fault)
COPY_PASTE_RATIO = 0.9


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0
