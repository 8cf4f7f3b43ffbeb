"""Run one HTTP service: `python -m gongkai.serve items|reviews|reports`."""

from __future__ import annotations

import importlib
import sys

import uvicorn

from gongkai import observability
from gongkai.config import Settings

SERVICES = ("items", "reviews", "reports")


def main(argv: list[str] | None = None) -> None:
    name = (argv or sys.argv[1:] or [""])[0]
    if name not in SERVICES:
        raise SystemExit(f"usage: python -m gongkai.serve {'|'.join(SERVICES)}")
    settings = Settings()
    observability.setup(f"gongkai-{name}")  # JSON logs, tracing: from the environment
    app = importlib.import_module(f"services.{name}.app").create_app(settings)
    # JSON logs: uvicorn keeps its hands off logging, its records go to the JSON handler
    extra = {"log_config": None} if observability.json_logs() else {}
    uvicorn.run(app, host=settings.host, port=getattr(settings, f"{name}_port"), log_level="warning",
                access_log=False, **extra)


if __name__ == "__main__":
    main()
