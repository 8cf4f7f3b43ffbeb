"""What an annual report (政府信息公开工作年度报告) says, as data: every number from the projections, the
narrative texts, and the org's contact block. Layouts (2018, 2021) and formats (md, html, docx, json) render
this one model; the rules check it. Its JSON is versioned."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

REPORT_SCHEMA_VERSION = 1


class Contact(BaseModel):
    """The preface's contact block (from the deployment's configuration)."""

    address: str | None = None
    postcode: str | None = None
    phone: str | None = None
    fax: str | None = None
    email: str | None = None
    person: str | None = None
    website: str | None = None  # where the electronic version can be downloaded


class Proactive(BaseModel):
    total: int = 0
    by_category: dict[str, int] = Field(default_factory=dict)  # code → count, in the org's catalogue order
    category_names: dict[str, str] = Field(default_factory=dict)  # code → 中文名
    interpretations: int = 0  # 政策解读
    responses: int = 0  # 回应社会关切


class Section2(BaseModel):
    """Table 二 (Art. 20 figures that are not items); None values mean not recorded for the year."""

    rules: dict[str, int | None] = Field(default_factory=lambda: dict.fromkeys(
        ["issued_this_year", "repealed_this_year", "currently_valid"]))
    normative_documents: dict[str, int | None] = Field(default_factory=lambda: dict.fromkeys(
        ["issued_this_year", "repealed_this_year", "currently_valid"]))
    administrative_licensing: int | None = None
    administrative_penalty: int | None = None
    administrative_coercion: int | None = None
    fee_amount_wan_yuan: float | None = None


class Fees(BaseModel):
    """信息处理费 under 国办函〔2020〕109号 (the 2018 layout's 收费及减免情况)."""

    charged_count: int = 0
    charged_yuan: int = 0


class ReportData(BaseModel):
    schema_version: int = REPORT_SCHEMA_VERSION
    year: int
    org: str
    org_name: str
    contact: Contact = Field(default_factory=Contact)
    proactive: Proactive = Field(default_factory=Proactive)
    #: table 三: row key → column key (six applicant types and "total") → count
    applications: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: table 四: the 15 keys of the domain notes (review_upheld … lit_after_review_total)
    review_litigation: dict[str, int] = Field(default_factory=dict)
    #: 人大代表建议 / 政协委员提案: kind → {"received": n, "answered": n}
    proposals: dict[str, dict[str, int]] = Field(default_factory=dict)
    fees: Fees = Field(default_factory=Fees)
    section2: Section2 = Field(default_factory=Section2)
    #: narrative texts the office entered, by section key
    narrative: dict[str, str] = Field(default_factory=dict)
    signed_on: date | None = None
    generated_at: datetime | None = None
    position: int = 0  # how far into the event log the figures go


class ReportTables(BaseModel):
    """The tables of the report, keyed as in the domain notes (§2.3–§2.6)."""

    proactive: Proactive
    section2: Section2
    applications: dict[str, dict[str, int]]  # table 三: [row][column]
    review_litigation: dict[str, int]  # table 四
    proposals: dict[str, dict[str, int]]
    fees: Fees


class AnnualReportDocument(BaseModel):
    """The report in JSON (`format=json`): versioned, its schema committed (services/reports/schemas)."""

    schema_version: int = REPORT_SCHEMA_VERSION
    template: str
    year: int
    org: str
    org_name: str
    contact: Contact
    tables: ReportTables
    narrative: dict[str, str]
    signed_on: date | None = None
    generated_at: datetime | None = None
    position: int = 0

    @classmethod
    def of(cls, data: ReportData, template: str) -> AnnualReportDocument:
        return cls(template=template, year=data.year, org=data.org, org_name=data.org_name, contact=data.contact,
                   tables=ReportTables(proactive=data.proactive, section2=data.section2,
                                       applications=data.applications, review_litigation=data.review_litigation,
                                       proposals=data.proposals, fees=data.fees),
                   narrative=data.narrative, signed_on=data.signed_on, generated_at=data.generated_at,
                   position=data.position)
