"""The annual report as a neutral document, and its renderers.

A layout (`layout_2018`, `layout_2021`) turns a `ReportData` into a `Document`: a title, an unnumbered
preface, numbered sections of paragraphs and tables, and a signature. The renderers know nothing about
disclosure: `to_markdown`, `to_html` and `to_docx` print any `Document`. `render` is the one entry point:
data + template + format → bytes.

Section numbers (一、二、…) are never stored: they come from a section's position, so a heading's number and
the preface's "报告全文共由N部分组成" cannot disagree.
"""

from __future__ import annotations

import copy
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from services.reports.report_data import AnnualReportDocument, ReportData

Template = Literal["2018", "2021"]
Format = Literal["md", "html", "docx", "pdf", "json"]
TEMPLATES: tuple[str, ...] = ("2018", "2021")

#: the Content-Type of each format, for whoever serves the bytes
MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "json": "application/json",
}

# ---------------------------------------------------------------------------------------------------------
# The document model
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class HeaderCell:
    """One cell of a table's header; it covers `colspan` columns and `rowspan` header rows."""

    text: str
    colspan: int = 1
    rowspan: int = 1


@dataclass(frozen=True)
class BodyRow:
    """One body row: its label cells, then its numbers (already formatted).

    A row without values is a label-only group row (e.g. "（三）不予公开" in table 三): renderers let its one
    label span the whole width. `level` is the label's indentation (0 = none).
    """

    labels: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    level: int = 0

    @property
    def label_only(self) -> bool:
        return not self.values


@dataclass(frozen=True)
class Table:
    """Header rows of merged cells over body rows. The header must tile a rectangle exactly (as HTML lays out
    colspan/rowspan); every data row fills the width with labels + values; a label-only row has one label."""

    header: tuple[tuple[HeaderCell, ...], ...]
    body: tuple[BodyRow, ...]
    width: int = field(init=False)

    def __post_init__(self) -> None:
        placed = list(_place(self.header))
        covered = {(r + dr, c + dc) for r, c, cell in placed for dr in range(cell.rowspan) for dc in range(cell.colspan)}
        width = 1 + max(c for _, c in covered)
        if covered != {(r, c) for r in range(len(self.header)) for c in range(width)}:
            raise ValueError("the header cells do not tile a rectangle")
        for row in self.body:
            if row.label_only and len(row.labels) != 1:
                raise ValueError(f"a label-only row has exactly one label: {row.labels}")
            if not row.label_only and len(row.labels) + len(row.values) != width:
                raise ValueError(f"row {row.labels} has {len(row.labels) + len(row.values)} cells, the table {width}")
        object.__setattr__(self, "width", width)

    def placed_header(self) -> list[tuple[int, int, HeaderCell]]:
        """Each header cell with the (row, column) of its top-left corner."""
        return list(_place(self.header))


def _place(header: tuple[tuple[HeaderCell, ...], ...]) -> Iterator[tuple[int, int, HeaderCell]]:
    """HTML's table layout: a cell goes to the first column of its row not covered by a rowspan from above."""
    taken: set[tuple[int, int]] = set()
    for r, row in enumerate(header):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            yield r, c, cell
            taken.update((r + dr, c + dc) for dr in range(cell.rowspan) for dc in range(cell.colspan))
            c += cell.colspan


Block = Paragraph | Table


@dataclass(frozen=True)
class Section:
    """A numbered section; `heading` is without its number ("概述", not "一、概述")."""

    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    title: str
    preface: tuple[Paragraph, ...]
    sections: tuple[Section, ...]
    signature: tuple[str, ...] = ()  # printed right-aligned at the end: the org, then the date

    def numbered_headings(self) -> list[str]:
        return [numbered(i, s.heading) for i, s in enumerate(self.sections, 1)]


_ZH_DIGITS = "零一二三四五六七八九"


def zh_number(n: int) -> str:
    """1 → 一, 10 → 十, 13 → 十三, 20 → 二十, 21 → 二十一 (1–99: section numbers and counts of parts)."""
    if not 0 < n < 100:
        raise ValueError(f"no Chinese numeral for {n} here")
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("" if tens == 1 else _ZH_DIGITS[tens]) + "十"
    return head + ("" if ones == 0 else _ZH_DIGITS[ones])


def numbered(position: int, heading: str) -> str:
    return f"{zh_number(position)}、{heading}"


# ---------------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------------

MERGED_HEADER_NOTE_MD = "注：表头中的合并单元格在此逐列展开，以“上级表头 / 下级表头”表示。"
_MD_INDENT = "\u3000"  # an ideographic space per level: Markdown keeps it, unlike ordinary spaces


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}"]
    out += [_md_paragraph(p.text) for p in doc.preface]
    for i, section in enumerate(doc.sections, 1):
        out.append(f"## {numbered(i, section.heading)}")
        for block in section.blocks:
            out.append(_md_table(block) if isinstance(block, Table) else _md_paragraph(block.text))
    out += [_md_paragraph(line) for line in doc.signature]
    return "\n\n".join(out) + "\n"


def _md_paragraph(text: str) -> str:
    # a paragraph that would read as a heading, quote, list item or rule in Markdown is escaped
    if re.match(r"(\d+[.)](\s|$)|[#>*+-])", text):
        return "\\" + text
    return text


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _flattened_header(table: Table, skip: int = 0) -> list[str]:
    """One label per column: the texts of the header cells above it (from header row `skip` down), top to
    bottom, joined by " / "."""
    owner: dict[tuple[int, int], int] = {}
    placed = table.placed_header()
    for n, (r, c, cell) in enumerate(placed):
        for dr in range(cell.rowspan):
            for dc in range(cell.colspan):
                owner[r + dr, c + dc] = n
    labels = []
    for c in range(table.width):
        path: list[int] = []
        for r in range(skip, len(table.header)):
            if not path or path[-1] != owner[r, c]:
                path.append(owner[r, c])
        labels.append(" / ".join(placed[n][2].text for n in path))
    return labels


def _md_table(table: Table) -> str:
    # header rows of one cell across the whole table (e.g. "第二十条第（一）项") become a line above it
    captions = []
    for row in table.header[:-1]:
        if len(row) != 1 or row[0].colspan != table.width or row[0].rowspan != 1:
            break
        captions.append(f"**{_md_cell(row[0].text)}**")
    skip = len(captions)
    labels = max((len(row.labels) for row in table.body if not row.label_only), default=0)
    lines = [
        "| " + " | ".join(_md_cell(t) for t in _flattened_header(table, skip)) + " |",
        "| " + " | ".join(["---"] * labels + ["---:"] * (table.width - labels)) + " |",
    ]
    for row in table.body:
        cells = [_MD_INDENT * row.level + row.labels[0], *row.labels[1:]] if row.labels else []
        cells += row.values or [""] * (table.width - len(cells))
        lines.append("| " + " | ".join(_md_cell(t) for t in cells) + " |")
    parts = [*captions, "\n".join(lines)]
    if len(table.header) - skip > 1:
        parts.append(MERGED_HEADER_NOTE_MD)
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------

_CSS = """\
body { font-family: "FangSong", "仿宋", "STFangsong", serif; font-size: 16px; line-height: 1.8;
       max-width: 60em; margin: 2em auto; padding: 0 1em; color: #000; }
h1 { font-family: "方正小标宋简体", "FZXiaoBiaoSong-B05S", "SimSun", serif; font-weight: normal;
     font-size: 1.6em; text-align: center; }
h2 { font-family: "SimHei", "黑体", "STHeiti", sans-serif; font-weight: normal; font-size: 1.1em; margin-top: 1.5em; }
p { text-indent: 2em; margin: 0.5em 0; }
.table-wrap { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.9em; line-height: 1.5; }
th, td { border: 1px solid #000; padding: 0.3em 0.5em; }
thead th { font-family: "SimHei", "黑体", sans-serif; font-weight: normal; text-align: center; }
tbody th { font-weight: normal; text-align: left; }
td { text-align: center; min-width: 2.5em; }
.level-1 { padding-left: 1.5em; }
.level-2 { padding-left: 3em; }
.signature { text-align: right; margin-top: 2em; }
.signature p { text-indent: 0; margin: 0; }
@media print { body { max-width: none; margin: 0; } thead { display: table-header-group; } }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def to_html(doc: Document) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(doc.title)}</title>",
        f"<style>\n{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(doc.title)}</h1>",
    ]
    out += [f"<p>{_e(p.text)}</p>" for p in doc.preface]
    for i, section in enumerate(doc.sections, 1):
        out.append(f"<h2>{_e(numbered(i, section.heading))}</h2>")
        for block in section.blocks:
            out.append(_html_table(block) if isinstance(block, Table) else f"<p>{_e(block.text)}</p>")
    if doc.signature:
        out += ['<div class="signature">', *(f"<p>{_e(line)}</p>" for line in doc.signature), "</div>"]
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _span(cell: HeaderCell) -> str:
    return (f' colspan="{cell.colspan}"' if cell.colspan > 1 else "") + (
        f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "")


def _level(level: int) -> str:
    return f' class="level-{level}"' if level else ""


def _html_table(table: Table) -> str:
    out = ['<div class="table-wrap">', "<table>", "<thead>"]
    for row in table.header:
        out.append("<tr>" + "".join(f'<th scope="col"{_span(c)}>{_e(c.text)}</th>' for c in row) + "</tr>")
    out += ["</thead>", "<tbody>"]
    for row in table.body:
        if row.label_only:
            cells = f'<th scope="rowgroup" colspan="{table.width}"{_level(row.level)}>{_e(row.labels[0])}</th>'
        else:
            cells = "".join(f'<th scope="row"{_level(row.level) if n == 0 else ""}>{_e(t)}</th>'
                            for n, t in enumerate(row.labels))
            cells += "".join(f"<td>{_e(v)}</td>" for v in row.values)
        out.append(f"<tr>{cells}</tr>")
    out += ["</tbody>", "</table>", "</div>"]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# Word (python-docx)
# ---------------------------------------------------------------------------------------------------------

FONT_BODY = "仿宋"
FONT_HEADING = "黑体"
FONT_TITLE = "方正小标宋简体"
SIZE_BODY = Pt(16)  # 三号
SIZE_TITLE = Pt(22)  # 二号
SIZE_TABLE = Pt(10.5)  # 五号
_THEME_FONT_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def _set_font(element, name: str) -> None:
    """Name the font of a run or a style for every script, w:eastAsia included — without w:eastAsia Word
    shows Chinese in the theme's font, whatever the font name says. Theme font references are removed
    because they win over the names."""
    rfonts = element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)
    for attr in _THEME_FONT_ATTRS:
        rfonts.attrib.pop(qn(attr), None)


def _run(paragraph, text: str, font: str, size: Pt, *, bold: bool = False):
    """Add a run of `text`; returns its `w:r` element."""
    # a report has hundreds of runs in a few styles: each style's w:rPr is made once (as python-docx makes
    # it) and copied, which is the same XML for a fraction of the work
    rpr = _RUN_PROPERTIES.get((font, size, bold))
    if rpr is None:
        run = paragraph.add_run(text)
        _set_font(run._r, font)
        run.font.size = size
        run.font.bold = bold
        _RUN_PROPERTIES[(font, size, bold)] = copy.deepcopy(run._r.rPr)
        return run._r
    r = paragraph.add_run(text)._r
    r.insert(0, copy.deepcopy(rpr))
    return r


_RUN_PROPERTIES: dict[tuple[str, int, bool], object] = {}


def _prepare_styles(d) -> None:
    normal = d.styles["Normal"]
    _set_font(normal.element, FONT_BODY)
    normal.font.size = SIZE_BODY
    heading = d.styles["Heading 1"]
    _set_font(heading.element, FONT_HEADING)
    heading.font.size = SIZE_BODY
    heading.font.bold = False
    heading.font.color.rgb = RGBColor(0, 0, 0)


def _a4(d) -> None:
    # GB/T 9704 (党政机关公文格式): A4, margins 37 / 35 / 28 / 26 mm
    for s in d.sections:
        s.page_width, s.page_height = Mm(210), Mm(297)
        s.top_margin, s.bottom_margin, s.left_margin, s.right_margin = Mm(37), Mm(35), Mm(28), Mm(26)


def to_docx(doc: Document) -> bytes:
    d = docx.Document()
    _a4(d)
    _prepare_styles(d)
    d.core_properties.title = doc.title

    title = d.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(title, doc.title, FONT_TITLE, SIZE_TITLE)
    for p in doc.preface:
        _docx_paragraph(d, p.text)
    heading_style = d.part.get_style_id("Heading 1", WD_STYLE_TYPE.PARAGRAPH)  # looked up once, not per heading
    for i, section in enumerate(doc.sections, 1):
        heading = d.add_paragraph()  # what `add_heading(level=1)` does, with the style's id already known
        heading._p.style = heading_style
        _run(heading, numbered(i, section.heading), FONT_HEADING, SIZE_BODY)
        for block in section.blocks:
            if isinstance(block, Table):
                _docx_table(d, block)
            else:
                _docx_paragraph(d, block.text)
    if doc.signature:
        d.add_paragraph()
        for line in doc.signature:
            p = d.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            _run(p, line, FONT_BODY, SIZE_BODY)
    buf = io.BytesIO()
    d.save(buf)
    _release(d)
    return buf.getvalue()


def _release(d) -> None:
    """Free the document's XML now. python-docx's package, parts and relationships refer to each other, and so
    do the document and its body: a document is freed only by the cycle collector, which counts Python objects
    and not the parsed XML behind them (a few MB a report), so after a city's reports the service stayed 40–100
    MB larger until a full collection ran. Emptied, none of them holds XML any more. (python-docx's walks over
    the parts leave small cycles of their own: `services.reports.app` collects the young generations.)"""
    package = d.part.package
    for part in list(package.iter_parts()):
        vars(part).clear()  # its XML, its relationships, its package
    vars(package).clear()
    vars(d).clear()  # the document's element and its body, which points back at it


def _docx_paragraph(d, text: str) -> None:
    p = d.add_paragraph()
    p.paragraph_format.first_line_indent = SIZE_BODY * 2  # 首行缩进两字
    _run(p, text, FONT_BODY, SIZE_BODY)


def _cell_text(cell, text: str, *, header: bool = False, level: int = 0, center: bool = True):
    """Write `text` into an empty cell; returns the `w:r` element that holds it."""
    p = cell.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER if center else WD_ALIGN_PARAGRAPH.LEFT
    if level:
        p.paragraph_format.left_indent = SIZE_TABLE * level
    return _run(p, text, FONT_HEADING if header else FONT_BODY, SIZE_TABLE)


def _repeat_as_header(row) -> None:
    """w:tblHeader: Word repeats the row at the top of every page the table runs onto."""
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(flag)


def _column_widths(d, t, table: Table) -> None:
    """Label columns get three shares of the text width, number columns one."""
    labels = max((len(row.labels) for row in table.body if not row.label_only), default=0)
    shares = [3 if c < labels else 1 for c in range(table.width)]
    section = d.sections[-1]
    usable = section.page_width - section.left_margin - section.right_margin
    t.autofit = False
    cells = t._cells  # the grid, walked once (`_Column.cells` walks the whole table for each column)
    for c in range(table.width):
        width = int(usable * shares[c] / sum(shares))
        for cell in cells[c::table.width]:
            cell.width = width


def _docx_table(d, table: Table) -> None:
    """The table in Word. Reports of one layout share their tables' shape and labels; only the numbers differ.
    So a table of a shape seen before is a copy of the one built then (`_TABLES`), its number cells given
    this report's text: the same XML as building it again, at a fraction of python-docx's cost."""
    section = d.sections[-1]
    key = (table.header, tuple((row.labels, row.level, row.label_only, len(row.values)) for row in table.body),
           section.page_width, section.left_margin, section.right_margin)
    values = [text for row in table.body for text in row.values]
    known = _TABLES.get(key)
    if known is None:
        t, value_runs = _new_docx_table(d, table)
        runs = list(t._tbl.iter(qn("w:r")))
        if len(_TABLES) >= 64:
            _TABLES.clear()
        _TABLES[key] = (copy.deepcopy(t._tbl), [runs.index(r) for r in value_runs])
    else:
        template, where = known
        tbl = copy.deepcopy(template)
        runs = list(tbl.iter(qn("w:r")))
        for i, text in zip(where, values, strict=True):
            _run_text(runs[i], text)
        d.element.body._insert_tbl(tbl)
    d.add_paragraph()  # Word needs a paragraph between two tables, or it joins them


def _run_text(r, text: str) -> None:
    """Give a number cell's run `text`, as python-docx's setter writes it: plain text replaces the one w:t
    in place (the setter rebuilds the run's content, which was most of a copied table's cost)."""
    t = r.find(_W_T)
    plain = text and text.strip() == text and not any(c in text for c in "\t\n\r")
    if plain and t is not None and not t.attrib and len(r) == 1 + (r.rPr is not None):
        t.text = text
    else:
        r.text = text  # (tabs, line breaks, kept spaces)


_W_T = qn("w:t")
#: table shape → (its w:tbl as first built, the index among its w:r elements of each number cell's run)
_TABLES: dict[tuple, tuple[object, list[int]]] = {}


def _new_docx_table(d, table: Table):
    """Build the table with python-docx; returns it and the w:r of each number cell, in row order."""
    top = len(table.header)
    t = d.add_table(rows=top + len(table.body), cols=table.width)
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r in range(top):
        _repeat_as_header(t.rows[r])
    _column_widths(d, t, table)
    # `Table.cell` walks the whole table at each call; here the grid is walked once before the merges (whose
    # corners are never inside an earlier merge: merged areas do not overlap) and once after them, for the text
    width, rows = table.width, top + len(table.body)
    before = t._cells
    for r, c, cell in table.placed_header():
        if cell.colspan > 1 or cell.rowspan > 1:
            before[r * width + c].merge(before[(r + cell.rowspan - 1) * width + c + cell.colspan - 1])
    for n, row in enumerate(table.body):
        if row.label_only:
            before[(top + n) * width].merge(before[(top + n) * width + width - 1])
    after = t._cells
    grid = [after[r * width:(r + 1) * width] for r in range(rows)]
    for r, c, cell in table.placed_header():
        _cell_text(grid[r][c], cell.text, header=True)
    value_runs = []
    for n, row in enumerate(table.body):
        cells = grid[top + n]
        if row.label_only:
            _cell_text(cells[0], row.labels[0], level=row.level, center=False)
            continue
        for c, text in enumerate(row.labels):
            _cell_text(cells[c], text, level=row.level if c == 0 else 0, center=False)
        for c, text in enumerate(row.values, len(row.labels)):
            value_runs.append(_cell_text(cells[c], text))
    return t, value_runs


# ---------------------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------------------


def build(data: ReportData, template: Template) -> Document:
    # imported here: the layouts build on this module's document model
    from services.reports.layouts import layout_2018, layout_2021

    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; one of {TEMPLATES}")
    return {"2018": layout_2018.build, "2021": layout_2021.build}[template](data)


def render(data: ReportData, template: Template, fmt: Format) -> bytes:
    """The report of `data` in the layout `template`, as `fmt` bytes (UTF-8 for the text formats)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; one of {TEMPLATES}")
    if fmt == "json":
        doc = AnnualReportDocument.of(data, template).model_dump(mode="json")
        return json.dumps(doc, ensure_ascii=False, indent=2).encode()
    doc = build(data, template)
    if fmt == "md":
        return to_markdown(doc).encode()
    if fmt == "html":
        return to_html(doc).encode()
    if fmt == "docx":
        return to_docx(doc)
    if fmt == "pdf":
        from services.reports.layouts.pdf import to_pdf  # ReportLab is loaded only for PDFs

        return to_pdf(doc)
    raise ValueError(f"unknown format {fmt!r}; one of {sorted(MEDIA_TYPES)}")
