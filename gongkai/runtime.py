"""What every service process holds while it runs: the event log, its database with one projection kept
current in the background, and (where needed) a Temporal client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nats.js.errors import NotFoundError
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from gongkai import natsauth, projection
from gongkai.config import Settings
from gongkai.db import make_engine
from gongkai.eventlog import EventLog

#: the one service whose NATS user may create the event stream and append to it (gongkai/nats/accounts.conf)
WRITER = "items"


async def _stream_exists(log: EventLog, timeout: float = 120.0) -> None:
    """Readers wait for the writer to create the stream: their NATS users may not create it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await log.js.stream_info(log.stream)
            return
        except NotFoundError:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the event stream {log.stream} does not exist; is the items service running?") from None
            await asyncio.sleep(0.2)


@dataclass
class Runtime:
    settings: Settings
    log: EventLog
    engine: Engine
    temporal: Client | None


async def connect_temporal(settings: Settings) -> Client:
    from gongkai import observability  # when tracing, its plugin carries the trace into workflows and activities

    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=pydantic_data_converter, plugins=observability.temporal_plugins())


@asynccontextmanager
async def running(settings: Settings, service: str, *projs: projection.Projection,
                  temporal: bool = False) -> AsyncIterator[Runtime]:
    log = await EventLog.connect(natsauth.url(settings, service), name=f"gongkai-{service}",
                                 inbox_prefix=natsauth.inbox_prefix(service))
    if service == WRITER:
        await log.ensure_stream(settings.stream_replicas)
    else:
        await _stream_exists(log)
    engine = make_engine(settings.database_url(service))
    for proj in projs:
        projection.setup(engine, proj)
    client = await connect_temporal(settings) if temporal else None
    stop = asyncio.Event()
    tasks = [asyncio.create_task(projection.run(log, engine, proj, stop)) for proj in projs]
    try:
        yield Runtime(settings, log, engine, client)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await log.close()
        engine.dispose()
