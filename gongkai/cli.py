"""The `gongkai` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from gongkai import natsauth
from gongkai.config import Settings

#: the projections each service keeps, rebuilt by `gongkai replay`: (service, module, class)
PROJECTIONS = [
    ("items", "services.items.listing", "ItemListing"),
    ("items", "services.items.register", "ApplicationRegister"),
    ("reviews", "services.reviews.inbox", "Inbox"),
    ("reports", "services.reports.projections", "AnnualTotals"),
]

EXAMPLES = {
    "up": "example: gongkai up --demo --data-dir ./.gongkai",
    "token": "example: curl -H \"Authorization: Bearer $(gongkai token --user zhang.wei --org zhangdian-jgsw "
             "--role author)\" http://127.0.0.1:8001/items",
    "replay": "example: gongkai replay --data-dir ./.gongkai",
    "status": "example: gongkai status",
    "import": "example: gongkai import published-2019.csv --org zhangdian-jgsw   "
              "(CSV columns: source_ref,kind,category,title,author,published_at[,index_no,body,formed_on])",
    "report": "example: gongkai report 2018 --org zhangdian-jgsw --template 2018 --format docx -o report-2018.docx",
    "backup": "example: gongkai backup -o gongkai-$(date +%F).zip   (while the stack runs; the file holds the signing "
              "key and is created with mode 0600: keep it as safe as the key)",
    "restore": "example: gongkai restore gongkai-2025-01-31.zip --data-dir ./restored && gongkai up --data-dir "
               "./restored   (into an empty or new data dir only)",
    "audit": "example: gongkai audit verify   (then: gongkai audit head >> anchors.txt, kept outside the system; "
             "later: gongkai audit verify --anchor \"$(tail -1 anchors.txt)\")",
}


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "data_dir", None):
        os.environ["GONGKAI_DATA_DIR"] = str(Path(args.data_dir).resolve())
    return Settings()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def cmd_up(args: argparse.Namespace) -> int:
    from gongkai import demo
    from gongkai.auth import mint
    from gongkai.launcher import Stack

    settings = _settings(args)
    started = time.monotonic()
    viewer = mint(settings, user="dashboard", org=demo.ORG, roles=["viewer"], ttl_s=365 * 24 * 3600)
    stack = Stack(settings, dashboard_token=os.environ.get("GONGKAI_DASHBOARD_TOKEN") or viewer)
    # Ctrl-C and `kill` stop the stack in order, even when started with SIGINT ignored (`gongkai up &`)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    if args.demo:
        demo.write_config(settings)  # before the services read it
    try:
        stack.start()
        print(f"gongkai is up in {time.monotonic() - started:.1f} s (data dir {settings.data_dir})", flush=True)
        if warning := _calendar_warning():
            print(f"gongkai: {warning}", flush=True)
        if args.demo:
            try:
                if demo.load(settings, say=lambda text: print(f"gongkai: {text}", flush=True)):
                    print("gongkai: demo data loaded", flush=True)
            except demo.DemoFailed as e:  # the stack is fine; say what went wrong and keep it running
                print(f"gongkai: the demo data could not be loaded: {e}", flush=True)
        for p in stack.parts:
            print(f"  {p.name:<10} {p.url}")
        if args.demo:
            print(f"\ndemo org: {demo.ORG}; tokens (valid 30 days):")
            for role, tok in demo.tokens(settings).items():
                print(f"  {role:<13} {demo.USERS[role][0]:<11} {tok}")
        print("\nCtrl-C stops everything; `gongkai up` again continues where it stopped.", flush=True)
        stack.watch()
    except KeyboardInterrupt:
        print("\ngongkai: stopping …", flush=True)
    finally:
        stack.stop()
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from gongkai.auth import mint

    print(mint(_settings(args), user=args.user, org=args.org, roles=args.role, ttl_s=args.ttl))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import Engine

    from gongkai import replay
    from gongkai.db import make_engine
    from gongkai.eventlog import EventLog

    settings = _settings(args)
    tty = sys.stderr.isatty()

    async def run() -> None:
        log = await EventLog.connect(natsauth.url(settings, "admin"), name="gongkai-replay")
        engines: dict[str, Engine] = {}
        targets = []
        for service, module, cls in PROJECTIONS:
            proj = getattr(importlib.import_module(module), cls)()
            url = settings.database_url(service)
            engines.setdefault(url, make_engine(url))
            targets.append((engines[url], proj))
        t0 = time.monotonic()

        def progress(pos: int, head: int) -> None:
            if tty:
                rate = pos / max(time.monotonic() - t0, 1e-6)
                eta = (head - pos) / rate if rate else 0
                print(f"\rreplay: {pos}/{head} events, {rate:,.0f}/s, ETA {eta:.0f} s ", end="", file=sys.stderr,
                      flush=True)

        try:  # one pass over the log for every projection
            positions = await replay.rebuild_all(log, targets, progress=progress)
        finally:
            await log.close()
            for engine in engines.values():
                engine.dispose()
        if tty:
            print(file=sys.stderr)
        for (_, proj), pos in zip(targets, positions, strict=True):
            print(f"{proj.name}: rebuilt to position {pos} in {time.monotonic() - t0:.1f} s")

    asyncio.run(run())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Ask the running reports service for the report (it reads the projections at one log position)."""
    import httpx

    from gongkai.auth import mint

    settings = _settings(args)
    token = mint(settings, user="gongkai-cli", org=args.org, roles=["office"], ttl_s=300)
    try:
        r = httpx.get(f"{settings.reports_url}/reports/{args.year}", timeout=120,
                      params={"org": args.org, "template": args.template, "format": args.format},
                      headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as e:
        raise RuntimeError(f"the reports service at {settings.reports_url} did not answer ({e}); is `gongkai up` "
                           "running on this data dir?") from None
    if r.status_code != 200:
        raise RuntimeError(r.json().get("message", r.text) if r.headers.get("content-type", "").startswith(
            "application/json") else r.text)
    failed = int(r.headers.get("X-Gongkai-Rules-Failed", "0"))
    if args.output:
        Path(args.output).write_bytes(r.content)
    else:
        sys.stdout.buffer.write(r.content)
    if failed:
        print(f"gongkai report: {failed} table rule(s) fail; see --format json for the cells", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Records from before gongkai: items already published, with their original dates, marked as imported."""
    import csv
    import json

    import httpx

    from gongkai.auth import mint

    settings = _settings(args)
    path = Path(args.file)
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            records = [{k: v for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(f)]
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = data["items"] if isinstance(data, dict) else data
    token = mint(settings, user="gongkai-import", org=args.org, roles=["office"], ttl_s=600)
    created = existing = 0
    for start in range(0, len(records), 500):  # the API takes at most 5000 a request; smaller batches show progress
        batch = records[start:start + 500]
        r = httpx.post(f"{settings.url('items')}/import", json={"items": batch}, timeout=300,
                       headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 201:
            raise RuntimeError(f"records {start + 1}–{start + len(batch)} refused: {r.text[:500]}")
        created += len(r.json()["created"])
        existing += len(r.json()["existing"])
        if sys.stderr.isatty():
            print(f"\r{start + len(batch)}/{len(records)} records", end="", file=sys.stderr, flush=True)
    print(f"imported {created} records, {existing} were already there")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from gongkai.launcher import components

    settings = _settings(args)
    down = 0
    for p in components(settings):
        ok = p.ready()
        down += not ok
        print(f"{p.name:<10} {'up  ' if ok else 'DOWN'} {p.url}")
    print(f"calendar: {_calendar_warning() or 'every year a deadline started today can reach is scheduled'}")
    _print_dead_letters(settings)
    return 1 if down else 0


def _calendar_warning() -> str | None:
    """Next year's working-day schedule, missing while a deadline started today could already reach it."""
    from contracts.lifecycle import SHANGHAI
    from gongkai import workdays

    try:
        missing = workdays.unscheduled_years(datetime.now(SHANGHAI).date())
    except workdays.CalendarConfigError as e:
        return f"WARNING {workdays.CALENDAR_FILE_ENV} is unreadable: {e}"
    if not missing:
        return None
    years = "、".join(map(str, missing))
    return (f"WARNING 缺少{years}年的节假日安排：期限延伸到该年的将没有截止日期，请在 {workdays.CALENDAR_FILE_ENV} 中补充 / "
            f"no working-day schedule for {years}: deadlines reaching into it get no due date until "
            f"{workdays.CALENDAR_FILE_ENV} adds it (or a newer chinese-calendar is installed)")


def _print_dead_letters(settings) -> None:
    """Events a projection could not fold: they are set aside (the log keeps them) and need a fix and a replay."""
    from gongkai import projection
    from gongkai.eventlog import EventLog

    async def read() -> list[dict]:
        log = await EventLog.connect(natsauth.url(settings, "admin"), name="gongkai-status")
        try:
            return await projection.dead_letters(log)
        finally:
            await log.close()

    try:
        dead = asyncio.run(asyncio.wait_for(read(), timeout=10))
    except Exception as e:  # NATS down: its line above already says so
        print(f"dead letters: unknown ({type(e).__name__})")
        return
    print(f"dead letters: {len(dead)}")
    for d in dead[-10:]:
        print(f"  {d['projection']}  event {d['seq']} ({d['type']}): {d['error']}")


def cmd_audit(args: argparse.Namespace) -> int:
    """Tamper evidence: walk the event log and check its hash chains (`gongkai/audit.py`)."""
    from gongkai import audit

    settings = _settings(args)
    return audit.run(natsauth.url(settings, "admin"), args.action, as_json=args.json, anchors=args.anchor)


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent snapshot of the event log, the deployment file, the keys and Temporal's state (`gongkai/backup.py`)."""
    from gongkai import backup

    try:
        done = backup.backup(_settings(args), Path(args.output), progress=sys.stderr.isatty())
    except backup.Refused as e:
        print(f"gongkai backup: {e}", file=sys.stderr)
        return 2
    print(f"backup: {done.events} events (sequences {done.first_seq}–{done.last_seq}), "
          f"{len(done.files)} files{' with Temporal' if done.temporal else ''} → {done.path} "
          f"({done.size / 1e6:.1f} MB, mode 0600) in {done.seconds:.1f} s")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """A backup back into an empty data dir; the services fold the projections when `gongkai up` starts."""
    from gongkai import backup

    settings = _settings(args)
    try:
        done = backup.restore(settings, Path(args.file), progress=sys.stderr.isatty())
    except backup.Refused as e:
        print(f"gongkai restore: {e}", file=sys.stderr)
        return 2
    print(f"restore: {done.events} events (sequences {done.first_seq}–{done.last_seq}) and {len(done.files)} files"
          f"{' with Temporal' if done.temporal else ''} into {done.path} in {done.seconds:.1f} s; "
          f"start it with `gongkai up --data-dir {done.path}`")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gongkai", description="政府信息公开 — government-information disclosure")
    sub = ap.add_subparsers(dest="command", required=True)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=EXAMPLES[name])
        p.add_argument("--data-dir", help="event log, databases and signing key (default ./.gongkai or "
                                          "$GONGKAI_DATA_DIR)")
        return p

    up = command("up", "start NATS, Temporal, the services, the worker and the dashboard on this machine")
    up.add_argument("--demo", action="store_true", help="load the demo data set once and print demo tokens")
    up.set_defaults(run=cmd_up)
    tok = command("token", "print a bearer token for this deployment")
    tok.add_argument("--user", required=True)
    tok.add_argument("--org", required=True)
    tok.add_argument("--role", action="append", required=True,
                     choices=["author", "officer", "section_head", "leader", "secrecy", "office", "viewer"])
    tok.add_argument("--ttl", type=int, default=30 * 24 * 3600, help="seconds the token is valid (default 30 days)")
    tok.set_defaults(run=cmd_token)
    command("replay", "rebuild every projection from the event log").set_defaults(run=cmd_replay)
    command("status", "health of each component").set_defaults(run=cmd_status)
    imp = command("import", "bring in published items from before gongkai (JSON or CSV), marked as imported")
    imp.add_argument("file")
    imp.add_argument("--org", required=True)
    imp.set_defaults(run=cmd_import)
    rep = command("report", "write the annual report (年度报告) of an org for a year")
    rep.add_argument("year", type=int)
    rep.add_argument("--org", required=True)
    rep.add_argument("--template", choices=["2018", "2021"], default="2021")
    rep.add_argument("--format", choices=["md", "html", "docx", "pdf", "json"], default="md")
    rep.add_argument("-o", "--output", help="file to write (default: standard output)")
    rep.set_defaults(run=cmd_report)
    bak = command("backup", "write a consistent backup of the event log, the deployment file, the keys and "
                            "Temporal's state while the stack runs; the file holds the signing key (anyone with it can "
                            "mint tokens), so it is created with mode 0600")
    bak.add_argument("-o", "--output", required=True, help="the backup file to write (a zip; replaced if it exists)")
    bak.set_defaults(run=cmd_backup)
    res = command("restore", "restore a backup into an empty or new data dir (refused otherwise, exit 2); then "
                             "`gongkai up` folds the projections from the restored log")
    res.add_argument("file", help="a file written by `gongkai backup`")
    res.set_defaults(run=cmd_restore)
    aud = command("audit", "check that the event log was not altered: `verify` walks it and names the first "
                           "altered, removed or inserted event (exit 1); `head` prints an anchor to record "
                           "outside the system")
    aud.add_argument("action", choices=["verify", "head"])
    aud.add_argument("--json", action="store_true", help="the whole report as JSON, every problem included")
    aud.add_argument("--anchor", action="append", default=[], metavar="SEQ:DIGEST",
                     help="an anchor printed earlier by `gongkai audit head`: the log up to SEQ must be unchanged")
    aud.set_defaults(run=cmd_audit)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except Exception as e:  # one clear line, not a traceback
        from gongkai.launcher import LaunchError

        msg = str(e) if isinstance(e, LaunchError) else f"{type(e).__name__}: {e}"
        print(f"gongkai {args.command}: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
