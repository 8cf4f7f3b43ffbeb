"""PDF of a report document, with ReportLab. The Chinese text uses Adobe's CID font STSong-Light, which every PDF
reader supplies, so nothing has to be installed or embedded; a reader without the Adobe Asian font pack shows a
substitute Song font."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph as P
from reportlab.platypus import SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as T

from services.reports.layouts.render import Document, Table, numbered

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

BODY = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=20, firstLineIndent=24, wordWrap="CJK")
TITLE = ParagraphStyle("title", parent=BODY, fontSize=18, leading=28, alignment=TA_CENTER, firstLineIndent=0)
HEADING = ParagraphStyle("heading", parent=BODY, fontSize=14, leading=24, firstLineIndent=0, spaceBefore=8)
CELL = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10, wordWrap="CJK")
SIGN = ParagraphStyle("sign", parent=BODY, alignment=TA_RIGHT, firstLineIndent=0)


def _table(table: Table, width: float) -> T:
    rows: list[list[object]] = [["" for _ in range(table.width)] for _ in table.header]
    spans = []
    for r, c, cell in table.placed_header():
        rows[r][c] = P(escape(cell.text), CELL)
        if cell.colspan > 1 or cell.rowspan > 1:
            spans.append(("SPAN", (c, r), (c + cell.colspan - 1, r + cell.rowspan - 1)))
    labels = table.width - len(table.body[0].values) if table.body else 1
    for row in table.body:
        cells = [P(escape(text), CELL) for text in row.labels]
        cells += [""] * (labels - len(cells)) + [P(escape(v), CELL) for v in row.values]
        if row.label_only:
            spans.append(("SPAN", (0, len(rows)), (table.width - 1, len(rows))))
        rows.append(cells)
    label_w = width * 0.3 / max(labels, 1)
    value_w = (width - label_w * labels) / max(table.width - labels, 1)
    t = T(rows, colWidths=[label_w] * labels + [value_w] * (table.width - labels), repeatRows=len(table.header))
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                           ("BACKGROUND", (0, 0), (-1, len(table.header) - 1), colors.whitesmoke), *spans]))
    return t


def to_pdf(doc: Document) -> bytes:
    out = io.BytesIO()
    page = SimpleDocTemplate(out, pagesize=A4, leftMargin=28 * mm, rightMargin=26 * mm, topMargin=37 * mm,
                             bottomMargin=35 * mm, title=doc.title)
    flow: list[object] = [P(escape(doc.title), TITLE), Spacer(1, 6 * mm)]
    flow += [P(escape(p.text), BODY) for p in doc.preface]
    for i, section in enumerate(doc.sections, 1):
        flow.append(P(escape(numbered(i, section.heading)), HEADING))
        for block in section.blocks:
            flow.append(_table(block, page.width) if isinstance(block, Table) else P(escape(block.text), BODY))
            flow.append(Spacer(1, 2 * mm))
    flow += [P(escape(line), SIGN) for line in doc.signature]
    page.build(flow)
    return out.getvalue()
