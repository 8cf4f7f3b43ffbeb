"""The deployment's configuration file (TOML): its orgs — display name, 索引号 prefix and pattern, sensitive
words — and the review deadlines. Environment variables (gongkai.config) say where things run; this file
says how this body works.

    [orgs.zhangdian-jgsw]
    name = "淄博市张店区机关事务服务中心"
    index_prefix = "004230122"              # 组织机构代码 (9) or 统一社会信用代码 (18)
    index_pattern = "{prefix}/{year}-{seq:05d}"
    sensitive_words = ["内部资料"]

    stage_deadline = "2wd"                   # optional: this org's own, stricter rule

    [orgs.zhangdian-jgsw.contact]            # the annual report's preface
    address = "张店区新村西路226号区政务中心"
    phone = "0533-2869928"
    person = "张斌"

    [review]
    stage_deadline = "3wd"                   # working days; "90s" runs a drill in seconds
    publication_deadline = "20wd"            # Art. 26
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ORG_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_INDEX_PATTERN = "{prefix}/{year}-{seq:05d}"  # 前段码/后段码, the 2008 national catalogue guideline
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(wd|s)\s*$")


def check_org_code(code: str) -> str:
    if not ORG_CODE.match(code):
        raise ValueError(f"org code {code!r} must be 1-64 letters, digits, '-' or '_'")
    return code


@dataclass(frozen=True)
class Duration:
    """A deadline length: working days (`3wd`, the legal unit) or seconds (`90s`, for tests and drills)."""

    amount: float
    unit: str  # "wd" or "s"

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = DURATION.match(text)
        if not m:
            raise ValueError(f"duration {text!r}: write working days as '3wd' or seconds as '90s'")
        return cls(float(m.group(1)), m.group(2))

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


@dataclass(frozen=True)
class OrgConfig:
    code: str
    name: str | None = None
    index_prefix: str | None = None
    index_pattern: str = DEFAULT_INDEX_PATTERN
    sensitive_words: tuple[str, ...] = ()
    stage_deadline: Duration | None = None  # an org's own rule, stricter than the deployment's
    contact: dict[str, str] = field(default_factory=dict)  # the annual report's contact block
    report_template: str = "2021"  # the layout its annual report is generated in
    #: Art. 49: departments publish last year's report by 31 January, a government's disclosure office by 31 March
    report_publish_by: tuple[int, int] = (1, 31)

    def __post_init__(self) -> None:
        check_org_code(self.code)
        try:
            sample = self.index_no(2026, 1)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"org {self.code}: index_pattern {self.index_pattern!r} is not valid: {e}") from None
        if sample == self.index_no(2026, 2) or "2026" not in sample:
            raise ValueError(f"org {self.code}: index_pattern must contain {{year}} and {{seq}}")

    @property
    def display_name(self) -> str:
        return self.name or self.code

    def index_no(self, year: int, seq: int) -> str:
        """索引号 of the seq-th publication of `year`."""
        return self.index_pattern.format(prefix=self.index_prefix or self.code, org=self.code, year=year, seq=seq)


@dataclass(frozen=True)
class Deployment:
    orgs: dict[str, OrgConfig] = field(default_factory=dict)
    stage_deadline: Duration = Duration(3, "wd")
    publication_deadline: Duration = Duration(20, "wd")  # Art. 26: within 20 working days of formed_on
    report_day: tuple[int, int] = (1, 5)  # (month, day) the annual report of the year before is generated

    def org(self, code: str) -> OrgConfig:
        """An org the file does not name still works under its code."""
        return self.orgs.get(code) or OrgConfig(code=check_org_code(code))

    def stage_deadline_for(self, org: str) -> Duration:
        return self.org(org).stage_deadline or self.stage_deadline

    @classmethod
    def load(cls, path: Path | None) -> Deployment:
        if path is None or not path.exists():
            return cls()
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        orgs = {code: OrgConfig(code=code, name=o.get("name"), index_prefix=o.get("index_prefix"),
                                index_pattern=o.get("index_pattern", DEFAULT_INDEX_PATTERN),
                                sensitive_words=tuple(o.get("sensitive_words", ())),
                                stage_deadline=Duration.parse(o["stage_deadline"]) if "stage_deadline" in o else None,
                                contact=dict(o.get("contact", {})),
                                report_template=str(o.get("report_template", "2021")),
                                report_publish_by=_month_day(o.get("report_publish_by", "01-31")))
                for code, o in data.get("orgs", {}).items()}
        review = data.get("review", {})
        month, day = _month_day(data.get("report", {}).get("generate_on", "01-05"))
        return cls(orgs=orgs, stage_deadline=Duration.parse(review.get("stage_deadline", "3wd")),
                   publication_deadline=Duration.parse(review.get("publication_deadline", "20wd")),
                   report_day=(month, day))


def _month_day(text: object) -> tuple[int, int]:
    month, day = (int(x) for x in str(text).split("-"))
    date(2024, month, day)  # a real day of the year (leap years included)
    return month, day
