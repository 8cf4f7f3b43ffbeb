"""Information items (政府信息): kinds, statuses, categories and the v1 events of their lifecycle."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

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
    RETRACTED = "retracted"  # 撤回 after publication, itself reviewed; the 索引号 stays with the item


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


class Validity(StrEnum):
    VALID = "valid"  # 有效
    EXPIRED = "expired"  # 失效
    REPEALED = "repealed"  # 废止


class DisclosureMode(StrEnum):
    PROACTIVE = "proactive"  # 主动公开
    ON_REQUEST = "on_request"  # 依申请公开
    NOT_DISCLOSED = "not_disclosed"  # 不予公开


DOC_NUMBER = re.compile(r"^\S+〔\d{4}〕\d+号$")


class ItemMetadata(BaseModel):
    """What a portal shows beside an item (domain notes §4.3); every field optional, each validated."""

    publisher: str | None = Field(default=None, max_length=100, description="发布机构, the full official name")
    doc_number: str | None = Field(default=None, max_length=60, description="文号, e.g. 国发〔2018〕43号")
    written_on: date | None = Field(default=None, description="成文日期")
    topic_category: str | None = Field(default=None, max_length=100, description="主题分类, e.g. 卫生、体育\\医药管理")
    genre: str | None = Field(default=None, max_length=30, description="体裁分类, e.g. 通知")
    keywords: list[str] = Field(default_factory=list, max_length=20, description="主题词")
    summary: str | None = Field(default=None, max_length=500, description="内容概述")
    disclosure_mode: DisclosureMode = Field(default=DisclosureMode.PROACTIVE, description="公开方式")
    disclosure_scope: Literal["public", "applicant"] = Field(default="public", description="公开范围")
    disclosure_period: Literal["long_term", "limited"] = Field(default="long_term", description="公开时限")
    validity: Validity = Field(default=Validity.VALID, description="有效性")
    effective_on: date | None = Field(default=None, description="实施日期")
    repealed_on: date | None = Field(default=None, description="废止日期")
    responsible_unit: str | None = Field(default=None, max_length=100, description="责任部门")
    source: str | None = Field(default=None, max_length=100, description="信息来源")

    @model_validator(mode="after")
    def _consistent(self) -> ItemMetadata:
        if self.doc_number and not DOC_NUMBER.match(self.doc_number):
            raise ValueError("doc_number must read like 国发〔2018〕43号, with 〔〕 brackets / "
                             "文号格式应为“机关代字〔年份〕序号号”")
        if self.effective_on and self.repealed_on and self.repealed_on < self.effective_on:
            raise ValueError("repealed_on is before effective_on / 废止日期早于实施日期")
        if self.validity is Validity.REPEALED and not self.repealed_on:
            raise ValueError("a repealed item needs repealed_on / 废止须填写废止日期")
        return self


class ItemContent(BaseModel):
    """What an author writes; shared by the draft and the import events."""

    kind: ItemKind
    category: str | None = Field(default=None, max_length=100)
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=200_000)  # a long regulation with its annexes fits
    formed_on: date | None = None  # 生成日期: the day the information was formed (Art. 26 clock)
    channels: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    interprets: str | None = Field(default=None, max_length=100)  # the item an interpretation explains
    metadata: ItemMetadata = Field(default_factory=ItemMetadata)

    @model_validator(mode="after")
    def _dates(self) -> ItemContent:
        if self.formed_on and self.metadata.written_on and self.formed_on < self.metadata.written_on:
            raise ValueError("formed_on is before the written date / 生成日期早于成文日期")
        return self


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
    metadata: ItemMetadata = Field(default_factory=ItemMetadata)
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
    metadata: ItemMetadata = Field(default_factory=ItemMetadata)
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


class ChangeRequested(Event):
    """A change to a published item — retraction (撤回) or a new validity (失效/废止) — submitted for review
    like the item itself; it takes effect only once the chain approves it."""

    TYPE = "item.change_requested"
    AGGREGATE = "item"
    submission: int
    workflow_id: str
    change: Literal["retract", "validity"]
    reason: str
    validity: Validity | None = None
    effective_on: date | None = None  # of the new validity (失效/废止 date)


class ItemRetracted(Event):
    """撤回: the approved retraction of a published item; its 索引号 is kept and never reused."""

    TYPE = "item.retracted"
    AGGREGATE = "item"
    submission: int
    retracted_at: datetime
    reason: str


class ValidityChanged(Event):
    """有效性 changed (失效/废止) after review."""

    TYPE = "item.validity_changed"
    AGGREGATE = "item"
    submission: int
    validity: Validity
    effective_on: date | None = None
