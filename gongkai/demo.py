"""The demo data set: the seed's 2018 figures, imported, and this year's items sent through the real chain.

Everything goes through the public HTTP API with tokens of the demo users, exactly as a department would.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import httpx

from gongkai.auth import mint
from gongkai.config import Settings

ORG = "zhangdian-jgsw"  # 淄博市张店区机关事务服务中心

#: the demo users: (user, roles)
USERS: dict[str, tuple[str, list[str]]] = {
    "author": ("zhang.wei", ["author"]),
    "officer": ("li.na", ["officer"]),
    "section_head": ("wang.qiang", ["section_head"]),
    "leader": ("zhao.min", ["leader"]),
    "office": ("zhang.bin", ["office"]),
    "viewer": ("dashboard", ["viewer"]),
}

#: seed §五 and §三: proactive items per category in 2018, and interpretations
SEED_2018 = {
    "institution_functions": 4, "regulations_documents": 28, "meetings": 7, "plans": 1, "tax_fee_cuts": 1,
    "major_decisions": 6, "department_updates": 65, "new_media": 8, "department_news": 30,
}
SEED_2018_INTERPRETATIONS = 3

#: this year's items that go through the review chain when the demo loads
THIS_YEAR = [
    ("department_updates", "区机关事务服务中心开展公共机构节能宣传周活动"),
    ("meetings", "中心召开政府信息公开工作会议"),
    ("regulations_documents", "关于进一步加强公务用车管理的通知"),
    ("department_news", "中心完成办公用房清理整改工作"),
    ("plans", "年度公共机构节能工作计划"),
]


#: the seed's unit as the deployment file describes it (written once, when the data dir has no file yet)
CONFIG = """# gongkai deployment configuration (see README: "The deployment's configuration file")
[orgs.zhangdian-jgsw]
name = "张店区机关事务服务中心"
sensitive_words = ["内部资料"]

[orgs.zhangdian-jgsw.contact]
address = "张店区新村西路226号区政务中心张店区机关事务服务中心办公室"
postcode = "255000"
phone = "0533-2869928"
fax = "0533-2869928"
email = "zdqjgswgljbg@zb.shandong.cn"
person = "张斌"
website = "张店区政府门户网站"

[review]
stage_deadline = "3wd"
publication_deadline = "20wd"
"""


def write_config(settings: Settings) -> None:
    if not settings.config_file.exists():
        settings.config_file.parent.mkdir(parents=True, exist_ok=True)
        settings.config_file.write_text(CONFIG, encoding="utf-8")


def tokens(settings: Settings) -> dict[str, str]:
    return {role: mint(settings, user=user, org=ORG, roles=roles) for role, (user, roles) in USERS.items()}


def seed_records() -> list[dict]:
    rng = random.Random(2018)
    records = []

    def when() -> str:
        day = date(2018, 1, 2) + timedelta(days=rng.randrange(0, 360))
        return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC).isoformat()  # 10:00 in Shanghai

    for category, n in SEED_2018.items():
        for i in range(n):
            records.append({"source_ref": f"seed-2018-{category}-{i + 1}", "kind": "proactive", "category": category,
                            "title": f"2018年{category}类信息第{i + 1}条", "author": "import",
                            "published_at": when(), "reviews": [
                                {"stage": "initial", "outcome": "approve", "user": "信息员"},
                                {"stage": "recheck", "outcome": "approve", "user": "科室负责人"}]})
    for i in range(SEED_2018_INTERPRETATIONS):
        records.append({"source_ref": f"seed-2018-interpretation-{i + 1}", "kind": "interpretation",
                        "title": f"2018年政策解读第{i + 1}条", "author": "import", "published_at": when()})
    return records


def through_chain(client: httpx.Client, settings: Settings, tok: dict[str, str], category: str, title: str,
                  *, stop_after: str | None = None) -> dict:
    """Create, submit and approve one item the way people do; `stop_after` leaves it waiting in review."""
    def auth(role: str) -> dict:
        return {"Authorization": f"Bearer {tok[role]}"}

    items, reviews = settings.url("items"), settings.url("reviews")
    item = client.post(f"{items}/items", headers=auth("author"), json={
        "kind": "proactive", "category": category, "title": title, "body": f"{title}（示例正文）",
        "formed_on": date.today().isoformat()}).json()
    client.post(f"{items}/items/{item['id']}/submit", headers=auth("author"))
    for stage, role in (("initial", "officer"), ("recheck", "section_head")):
        if stop_after == "submit" or (stop_after == "initial" and stage == "recheck"):
            break
        client.post(f"{reviews}/items/{item['id']}/decisions", headers=auth(role),
                    json={"stage": stage, "outcome": "approve", "comment": "同意"})
    return item


class DemoFailed(Exception):
    pass


def _check(response: httpx.Response) -> None:
    if response.is_error:
        response.read()
        raise DemoFailed(f"{response.request.method} {response.request.url.path} → {response.status_code}: "
                         f"{response.text[:300]}")
    return response


#: the seed's narrative sections (the parts of its report that are not counts), entered as the office would
SEED_2018_TEXTS = {
    "local_rules": "《山东省政府信息公开办法》",
    "overview": "在区政府信息公开领导小组的领导下，区机关事务服务中心严格落实省、市、区政府信息公开工作的总体安排、"
                "相关规定和要求，不断强化组织领导、完善制度建设，积极、有序、稳妥地推进政府信息公开的各项工作。"
                "截至2018年底，全中心政府信息公开工作运行正常，全年无重大信息安全责任事故。",
    "organization": "（一）健全工作机制。坚持“以公开为常态、不公开为例外”的原则，不断完善办公室具体承办、其他科室积极"
                    "协调配合、定期报送可公开政府信息的长效工作机制。\n\n（二）强化制度建设。对政务信息管理、门户网站管理、"
                    "政务信息公开等工作事项进行了规范整理。\n\n（三）加大公开力度。依托门户网站和政务微博，积极推进政府信息公开。",
    "key_areas": "根据我中心工作职责，对照重点领域政府信息内容，对涉及我中心公共机构节能等政府信息公开重点工作"
                 "认真梳理，逐条细化。",
    "affiliated_units": "高度重视对所属事业单位信息公开的推进力度，一年来所属事业单位张店区机关安全保卫办公室的相关信息得到"
                        "及时有效的公开。",
    "problems_improvements": "2018年，政府信息公开工作虽然取得一定成效，但仍存在部分信息公开内容不够及时、重点领域信息公开"
                             "不够全面、信息公开方式有待创新等方面的不足。2019年，将从以下几方面进行改进：\n\n"
                             "（一）提高信息规范化质量。\n\n（二）全面落实公开内容。\n\n（三）进一步保障网站内容。",
}


def applications(client: httpx.Client, settings: Settings, tok: dict[str, str]) -> None:
    """Two disclosure applications this year: one answered through the chain, one still open."""
    items, reviews = settings.url("items"), settings.url("reviews")
    office = {"Authorization": f"Bearer {tok['office']}"}
    today = date.today()
    answered = client.post(f"{items}/applications", headers=office, json={
        "applicant_type": "natural_person", "channel": "online", "received_on": (today - timedelta(days=10)).isoformat(),
        "subject": "本单位公务用车购置数量", "applicant": {"name": "王某"}}).json()
    client.post(f"{items}/applications/{answered['id']}/answer", headers=office,
                json={"outcome": "granted", "body": "经查，本单位本年度未购置公务用车。"})
    for stage, role in (("initial", "officer"), ("recheck", "section_head")):
        client.post(f"{reviews}/applications/{answered['id']}/decisions",
                    headers={"Authorization": f"Bearer {tok[role]}"}, json={"stage": stage, "outcome": "approve"})
    client.post(f"{items}/applications", headers=office, json={
        "applicant_type": "commercial_enterprise", "channel": "letter", "received_on": today.isoformat(),
        "subject": "办公用房维修项目招标文件", "applicant": {"name": "某建筑公司", "organization": "某建筑公司"}})


def load(settings: Settings, say=lambda text: None) -> bool:
    """Load the demo once per data dir; returns False when it was already there."""
    marker = settings.data_dir / "demo-loaded"
    if marker.exists():
        return False
    say("loading the demo data (the seed's 2018 figures and this year's items) …")
    tok = tokens(settings)
    with httpx.Client(timeout=60, event_hooks={"response": [_check]}) as client:
        client.post(f"{settings.url('items')}/import", headers={"Authorization": f"Bearer {tok['office']}"},
                    json={"items": seed_records()})
        for category, title in THIS_YEAR:
            through_chain(client, settings, tok, category, title)
        through_chain(client, settings, tok, "department_updates", "中心组织开展安全生产检查", stop_after="initial")
        through_chain(client, settings, tok, "meetings", "中心召开年度工作总结会", stop_after="submit")
        applications(client, settings, tok)
        for section, text in SEED_2018_TEXTS.items():
            client.put(f"{settings.url('items')}/report-texts/2018/{section}",
                       headers={"Authorization": f"Bearer {tok['office']}"}, json={"text": text})
    marker.write_text(datetime.now(UTC).isoformat())
    return True
