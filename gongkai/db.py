"""SQL engines for projections: SQLite by default (one file per service), PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex, DropIndex
from sqlmodel import SQLModel, create_engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # WAL: readers never wait for the projector's commits
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


#: any fixed number: the PostgreSQL advisory lock that serializes creating tables
DDL_LOCK = 0x676F6E67  # "gong"


def create_tables(engine: Engine, tables: list[type[SQLModel]]) -> None:
    """Create the tables that are missing. Replicas of several services start at once against one PostgreSQL
    database, and two concurrent CREATE TABLE of one name fail there, so they take turns."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK})
        SQLModel.metadata.create_all(conn, tables=[t.__table__ for t in tables])  # type: ignore[attr-defined]
        for table in tables:  # (a rebuild that stopped half-way left its tables without them)
            for index in table.__table__.indexes:  # type: ignore[attr-defined]
                conn.execute(CreateIndex(index, if_not_exists=True))  # (no catalog query per index first)


def drop_indexes(engine: Engine, tables: list[type[SQLModel]]) -> None:
    """Drop the tables' indexes but their keys, while a rebuild fills them: built afterwards at once
    (`create_tables`), an index costs a fraction of what it cost kept up row by row."""
    with engine.begin() as conn:
        for table in tables:
            for index in table.__table__.indexes:  # type: ignore[attr-defined]
                conn.execute(DropIndex(index, if_exists=True))
