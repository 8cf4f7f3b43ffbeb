"""The committed JSON Schema of the report's JSON format: `python -m services.reports.schema` writes it."""

from __future__ import annotations

import json
from pathlib import Path

from services.reports.report_data import REPORT_SCHEMA_VERSION, AnnualReportDocument

PATH = Path(__file__).parent / "schemas" / f"annual-report.v{REPORT_SCHEMA_VERSION}.json"


def render() -> str:
    schema = AnnualReportDocument.model_json_schema()
    schema["$id"] = f"https://gongkai.invalid/reports/schemas/{PATH.name}"
    schema["title"] = "政府信息公开工作年度报告 (gongkai annual report)"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}")
