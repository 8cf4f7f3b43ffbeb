"""The annual report's layouts, and the wording they share.

- `render.py`: the neutral document model (`Document`, `Section`, `Paragraph`, `Table`), the renderers
  (`to_markdown`, `to_html`, `to_docx`) and the entry point `render(data, template, fmt) -> bytes`.
- `layout_2018.py`: the seed's 13-part pre-2019 layout (Shandong, 2018).
- `layout_2021.py`: the national six-part layout of 国办公开办函〔2021〕30号 with tables 二, 三 and 四.

This module holds the phrases both layouts print the same way: dates, counts, the narrative texts with
their placeholder, the preface's download and contact sentences, and the signature.
"""

from __future__ import annotations

from datetime import date

from services.reports.layouts.render import Paragraph
from services.reports.report_data import Contact, ReportData

#: shown where the office has not yet written a narrative text (or the signing date)
PLACEHOLDER = "（待填写）"

REGULATION = "《中华人民共和国政府信息公开条例》"


def date_zh(d: date) -> str:
    """2019-03-26 → 2019年3月26日."""
    return f"{d.year}年{d.month}月{d.day}日"


def period_zh(year: int) -> str:
    """The statistics period: the calendar year."""
    return f"{year}年1月1日至{year}年12月31日"


def count(value: int | float | None) -> str:
    """A table cell: None (not recorded) prints 0 — the format has no blank cells (X-6); the rules flag it."""
    if value is None:
        return "0"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")  # 万元 with up to 4 decimals: 1.2500 → 1.25
    return str(value)


def narrative(data: ReportData, key: str, default: str | None = None) -> tuple[Paragraph, ...]:
    """The office's text for `key`, one paragraph per non-empty line; missing → `default`, else the
    visible placeholder."""
    lines = [line.strip() for line in data.narrative.get(key, "").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        lines = [default if default is not None else PLACEHOLDER]
    return tuple(Paragraph(line) for line in lines)


def download_sentence(contact: Contact) -> str:
    return f"本报告电子版可在{contact.website}上下载。" if contact.website else ""


def contact_sentence(org_name: str, contact: Contact) -> str:
    """The seed's contact block; details that are not configured are left out."""
    details = [
        f"{label}：{value}"
        for label, value in (("地址", contact.address), ("邮编", contact.postcode), ("电话", contact.phone),
                             ("传真", contact.fax), ("电子邮箱", contact.email))
        if value
    ]
    text = f"如对本报告有任何疑问，请与{org_name}联系"
    if details:
        text += "（" + "；".join(details) + "）"
    return text + (f"，联系人：{contact.person}。" if contact.person else "。")


def title(data: ReportData) -> str:
    return f"{data.org_name}{data.year}年政府信息公开工作年度报告"


def signature(data: ReportData) -> tuple[str, ...]:
    return data.org_name, date_zh(data.signed_on) if data.signed_on else PLACEHOLDER


def cell(table: dict[str, dict[str, int]], row: str, column: str = "total") -> int:
    """A table-三 number; a row or column the data lacks counts 0."""
    return table.get(row, {}).get(column, 0)
