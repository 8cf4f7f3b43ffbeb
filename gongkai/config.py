"""Settings, all from the environment (GONGKAI_*), with the embedded one-machine defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from contracts.items import DEFAULT_CATEGORIES
from gongkai.deployment import Deployment


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"GONGKAI_{name}", default)


#: settings that come from the deployment's configuration file (a later issue), not from the environment
NOT_FROM_ENV = frozenset({"categories"})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", ".gongkai")).resolve())
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    nats_port: int = field(default_factory=lambda: int(_env("NATS_PORT", "4222")))
    temporal_port: int = field(default_factory=lambda: int(_env("TEMPORAL_PORT", "7233")))
    items_port: int = field(default_factory=lambda: int(_env("ITEMS_PORT", "8001")))
    reviews_port: int = field(default_factory=lambda: int(_env("REVIEWS_PORT", "8002")))
    reports_port: int = field(default_factory=lambda: int(_env("REPORTS_PORT", "8003")))
    dashboard_port: int = field(default_factory=lambda: int(_env("DASHBOARD_PORT", "8501")))
    nats_url_env: str | None = field(default_factory=lambda: _env("NATS_URL"))
    temporal_address_env: str | None = field(default_factory=lambda: _env("TEMPORAL_ADDRESS"))
    database_url_env: str | None = field(default_factory=lambda: _env("DATABASE_URL"))
    temporal_namespace: str = field(default_factory=lambda: _env("TEMPORAL_NAMESPACE", "default"))
    # copies of the event stream kept by a JetStream cluster (3 in compose.yaml; 1 on one machine)
    stream_replicas: int = field(default_factory=lambda: int(_env("STREAM_REPLICAS", "1")))
    reports_url_env: str | None = field(default_factory=lambda: _env("REPORTS_URL"))
    jwt_key_env: str | None = field(default_factory=lambda: _env("JWT_KEY"))
    config_file_env: str | None = field(default_factory=lambda: _env("CONFIG_FILE"))
    calendar_file_env: str | None = field(default_factory=lambda: _env("CALENDAR_FILE"))  # read by workdays
    categories: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CATEGORIES))

    @property
    def nats_url(self) -> str:
        return self.nats_url_env or f"nats://{self.host}:{self.nats_port}"

    @property
    def temporal_address(self) -> str:
        return self.temporal_address_env or f"{self.host}:{self.temporal_port}"

    @property
    def config_file(self) -> Path:
        """The deployment's configuration (orgs, 索引号 patterns, deadlines): GONGKAI_CONFIG_FILE or
        DATA_DIR/gongkai.toml."""
        return Path(self.config_file_env) if self.config_file_env else self.data_dir / "gongkai.toml"

    def deployment(self) -> Deployment:
        return Deployment.load(self.config_file)

    @property
    def reports_url(self) -> str:
        return self.reports_url_env or f"http://{self.host}:{self.reports_port}"

    def database_url(self, service: str) -> str:
        """One database per service by default (SQLite files); one shared database when configured."""
        if self.database_url_env:
            return self.database_url_env
        return f"sqlite:///{self.data_dir / 'db' / f'{service}.sqlite'}"

    def url(self, service: str) -> str:
        return f"http://{self.host}:{getattr(self, f'{service}_port')}"

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """The environment variable behind each setting, for error messages and docs."""
        return {f.name: f"GONGKAI_{f.name.removesuffix('_env').upper()}" for f in fields(cls)
                if f.name not in NOT_FROM_ENV}


def settings() -> Settings:
    return Settings()
