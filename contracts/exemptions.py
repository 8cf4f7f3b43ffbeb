"""Grounds on which information is not disclosed (Regulation 国务院令第711号, Art. 14–16), as the reason codes
of a `reject`; the same codes are the `denied_*` rows of the annual report's table 三."""

from __future__ import annotations

REJECT_REASONS: dict[str, str] = {
    "denied_state_secret": "属于国家秘密（第十四条）",
    "denied_prohibited_by_law": "法律行政法规禁止公开（第十四条）",
    "denied_security_stability": "危及“三安全一稳定”（第十四条）",
    "denied_third_party_rights": "涉及商业秘密、个人隐私等第三方合法权益（第十五条）",
    "denied_internal_affairs": "属于三类内部事务信息（第十六条第一款）",
    "denied_process_info": "属于四类过程性信息（第十六条第二款）",
    "denied_enforcement_file": "属于行政执法案卷（第十六条第二款）",
    "denied_admin_query": "属于行政查询事项",
}
