"""Information items (政府信息): kinds, statuses, categories and the v1 events of their lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.scan import Finding


class ItemKind(StrEnum):
    PROACTIVE = "proactive"  # 主动公开
    INTERPRETATION = "interpretation"  # 政策解读
    RESPONSE = "response"  # 回应社会关切
    ANNUAL_REPORT = "annual_report"  # 年度报告


class ItemStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    PUBLISHED = "published"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


#: the seed's catalogue of proactive categories (a deployment may configure its own)
DEFAULT_CATEGORIES: dict[str, str] = {
    "institution_functions": "机构职能",
    "regulations_documents": "法规公文",
    "meetings": "会议",
    "plans": "规划计划",
    "tax_fee_cuts": "减税降费",
    "major_decisions": "重大决策",
    "department_updates": "部门动态",
    "new_media": "新媒体应用",
    "department_news": "部门新闻",
}

EDITABLE = frozenset({ItemStatus.DRAFT, ItemStatus.RETURNED})


class ItemContent(BaseModel):
    """What an author writes; shared by the draft and the import events."""

    kind: ItemKind
    category: str | None = None
    title: str = Field(min_length=1, max_length=500)
    body: str = ""
    formed_on: date | None = None  # 生成日期: the day the information was formed (Art. 26 clock)
    channels: list[str] = Field(default_factory=list)
    interprets: str | None = None  # the item an interpretation explains


class ItemDrafted(Event):
    """起草: an author created the item."""

    TYPE = "item.drafted"
    AGGREGATE = "item"
    kind: ItemKind
    category: str | None = None
    title: str
    body: str = ""
    formed_on: date | None = None
    channels: list[str] = Field(default_factory=list)
    interprets: str | None = None
    author: str


class ItemRevised(Event):
    """修改: the author changed fields while the item was a draft or returned."""

    TYPE = "item.revised"
    AGGREGATE = "item"
    changes: dict[str, object]


class ItemSubmitted(Event):
    """提交审查: a new submission starts; approvals of earlier submissions never count for it. It carries
    the findings of the pre-publication scan, which every approving reviewer must acknowledge."""

    TYPE = "item.submitted"
    AGGREGATE = "item"
    submission: int
    workflow_id: str
    findings: list[Finding] = Field(default_factory=list)


class ItemWithdrawn(Event):
    """撤回."""

    TYPE = "item.withdrawn"
    AGGREGATE = "item"
    reason: str | None = None


class ItemPublished(Event):
    """发布: only the publishing workflow causes this, after a complete approved chain."""

    TYPE = "item.published"
    AGGREGATE = "item"
    submission: int
    published_at: datetime
    index_no: str | None = None
    channels: list[str] = Field(default_factory=list)


class ImportedReview(BaseModel):
    stage: str
    outcome: str
    user: str
    decided_on: date | None = None


class ItemImported(Event):
    """导入: an item published before the system was in use, with its original dates and review record."""

    TYPE = "item.imported"
    AGGREGATE = "item"
    kind: ItemKind
    category: str | None = None
    title: str
    body: str = ""
    formed_on: date | None = None
    channels: list[str] = Field(default_factory=list)
    interprets: str | None = None
    author: str
    published_at: datetime
    index_no: str | None = None
    reviews: list[ImportedReview] = Field(default_factory=list)
    source: str = "import"


class IndexAssigned(Event):
    """索引号: the next number of an org's year, given to one item when it is published. Numbers are
    consecutive, never reused, and stay with the item whatever happens to it later."""

    TYPE = "index.assigned"
    AGGREGATE = "index"
    year: int
    seq: int
    index_no: str
    item_id: str
