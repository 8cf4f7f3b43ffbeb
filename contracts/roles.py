"""Roles (角色) a principal may hold, and who a caller is."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    AUTHOR = "author"  # 撰稿人: a department's staff who write items
    OFFICER = "officer"  # 信息员: 初审
    SECTION_HEAD = "section_head"  # 科室负责人: 复核
    LEADER = "leader"  # 分管领导: 批示
    SECRECY = "secrecy"  # 同级保密部门
    OFFICE = "office"  # 政务公开办公室: registers applications, imports records
    VIEWER = "viewer"  # leaders and staff who only read totals


class Principal(BaseModel):
    """The caller of a command: one person, whatever roles they hold."""

    user: str = Field(min_length=1)
    org: str = Field(min_length=1)
    roles: list[Role] = Field(default_factory=list)

    def has(self, role: Role) -> bool:
        return role in self.roles
