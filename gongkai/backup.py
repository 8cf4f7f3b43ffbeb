"""Backup and restore of a deployment (`gongkai backup -o FILE`, `gongkai restore FILE`).

A backup is one zip file, created with mode 0600 (it holds the signing key: whoever has it can mint tokens):

    manifest.json              format and gongkai version, created_at, stream, first/last sequence, event count,
                               gaps, the sha256 of every other member
    events.jsonl               the event log up to the backup's head, one message a line, in stream order:
                               {"seq", "subject", "headers", "data" (base64 of the stored bytes), "time"}
    config/gongkai.toml        the deployment file (`Settings.config_file`), if there is one
    keys/…                     the data dir's keys directory (`signing.key`), with each file's mode
    temporal/temporal.sqlite   Temporal's state (open reviews, clock watches, schedules, timers), when the
                               Temporal dev server of `gongkai up` holds it

Every header is kept as stored (`Nats-Msg-Id`, the tamper-evidence digests, `traceparent`, the atomic batch's
headers …), and so are the payload bytes. Projections are not in it: they are derived, and the services fold
them again from the log when the restored stack starts. Neither are the dead letters (`GONGKAI_DEAD`): a fold
of the same log sets the same events aside again.

**Consistency while the stack runs.** The log is read by an ordered consumer from its first message up to a
fixed head, so what comes later is not in the backup. Temporal's SQLite file is copied with SQLite's online
backup API (one read transaction, so one consistent state) between two readings of the log's head, and that
head is the backup's head. When something was appended meanwhile the copy is taken again, unless every such
event is one Temporal never hears of (`NEUTRAL`: drafts, revisions, imports). So Temporal's state and the log
are of one moment, up to what the design already tolerates: an event appended whose workflow was not yet
started (a decision starts it, update-with-start), an activity whose completion Temporal had not yet recorded
(it runs again; the items service's commands are idempotent), a withdrawal not yet signalled (the workflow
learns it from the item's refusal of the next decision).

Why Temporal's state is in the backup: a publishing workflow keeps its chain state (which stage, who decided)
only in Temporal. A decision on a submission whose workflow is missing starts one from `submission_input`,
which begins at the first stage: for a submission still waiting for its first decision that is enough, but one
already past a stage would be offered that stage again, and the items aggregate refuses to record it twice. The
applications' clock watches and the Art. 18 reminders months ahead also live only there.

**Restore** only into an empty (or new) data dir. It verifies every checksum before it writes anything, then
starts a private nats-server on a free port over `DATA_DIR/nats` (or uses `GONGKAI_NATS_URL`, where the stream
must not exist yet), creates the stream as `EventLog.ensure_stream` does, republishes every event in order to its
subject with its headers and data, checks that each lands at its original sequence, then writes the deployment
file, the keys and Temporal's database, and stops the server. A failure on the way leaves the data dir empty.

A gap in the original sequences (not produced by gongkai, whose stream denies delete from its creation) is
recreated: the stream is first created allowing deletes, with a filler message at each missing sequence that
is deleted afterwards, and then set to the configuration of `EventLog.ensure_stream`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import importlib.metadata
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import nats
import orjson
from nats.js import api
from nats.js.errors import NotFoundError

from contracts import subjects
from gongkai import eventlog, natsauth
from gongkai.config import Settings
from gongkai.eventlog import EventLog
from gongkai.launcher import _die_with_parent, alive, binary, tcp_open
from gongkai.pull import servers

FORMAT = "gongkai-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
CONFIG = "config/gongkai.toml"
KEYS = "keys"
TEMPORAL = "temporal/temporal.sqlite"
#: event types Temporal never hears of: appended meanwhile, they do not make Temporal's copy stale
NEUTRAL = frozenset({"item.drafted", "item.revised", "item.imported"})
#: how long a backup looks for a moment when Temporal's copy and the log's head agree
QUIET_WITHIN_S = 30.0
#: a restore's filler at a sequence the original lacks (deleted again before the restore ends)
FILLER = "gongkai.restore.gap"
CHUNK = 1 << 20
#: the NATS account that holds the event log on the embedded server (gongkai/nats/accounts.conf)
ACCOUNT = "GONGKAI"


class Refused(Exception):
    """The command refuses before it changes anything (exit code 2); the message is in Chinese and English."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")


@dataclass
class Outcome:
    """What a backup wrote or a restore brought back: the one line the command prints."""

    events: int
    first_seq: int
    last_seq: int
    files: list[str]
    temporal: bool
    seconds: float
    path: Path
    size: int = 0


class Progress:
    """`done/total events, rate, ETA` on a terminal's stderr; nothing in a script."""

    def __init__(self, label: str, total: int, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.t0 = self.shown = time.monotonic()
        self.printed = False

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.shown < 0.2 and done < self.total):
            return
        self.shown, self.printed = now, True
        rate = done / max(now - self.t0, 1e-6)
        eta = (self.total - done) / rate if rate else 0
        print(f"\r{self.label}: {done}/{self.total} events, {rate:,.0f}/s, ETA {eta:.0f} s ", end="",
              file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.printed:
            print(file=sys.stderr, flush=True)


def warn(text: str) -> None:
    print(f"gongkai: {text}", file=sys.stderr, flush=True)


def _version() -> str:
    try:
        return importlib.metadata.version("gongkai")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def private_nats(store: Path, account: str | None = ACCOUNT) -> AsyncIterator[str]:
    """A nats-server of our own on a free port over `store`, as `gongkai up` runs it (`-sd`, `-n gongkai`), but
    with a configuration of its own: one user with every right in `account`, the account that holds the log
    on the embedded server (deleting a restore's fillers included, which no user of accounts.conf may do).
    `account` None: the server's global account, as before NATS users. Stopped on the way out."""
    port, password = _free_port(), secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="gongkai-nats-") as tmp, tempfile.TemporaryFile() as log:
        argv = [binary("nats-server"), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store), "-n", "gongkai"]
        url = f"nats://127.0.0.1:{port}"
        if account:
            conf = Path(tmp) / "nats.conf"
            conf.write_text(f'accounts {{ {account} {{ jetstream: enabled\n'
                            f'  users: [{{ user: "gongkai-restore", password: "{password}" }}] }} }}\n')
            argv[1:1] = ["-c", str(conf)]
            url = f"nats://gongkai-restore:{password}@127.0.0.1:{port}"
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)
        try:
            deadline = time.monotonic() + 30
            while not tcp_open("127.0.0.1", port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError("the private nats-server did not start: "
                                       + log.read().decode(errors="ignore")[-800:])
                await asyncio.sleep(0.05)
            yield url
        finally:
            if proc.poll() is None:
                proc.terminate()  # a clean shutdown writes the stream's files out
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def _connect(url: str, name: str) -> nats.NATS:
    nc = await nats.connect(servers(url), name=name, connect_timeout=5, max_reconnect_attempts=5,
                            reconnect_time_wait=0.5)
    js = nc.jetstream(timeout=5)
    deadline = time.monotonic() + 20
    while True:  # a server that has just started may still be recovering JetStream
        try:
            await js.account_info()
            return nc
        except Exception:
            if time.monotonic() > deadline:
                await nc.close()
                raise
            await asyncio.sleep(0.1)


# ---------------------------------------------------------------------------------------------------- backup


def backup(settings: Settings, output: Path, *, progress: bool = False) -> Outcome:
    """Write a backup of the deployment of `settings` to `output` (replaced atomically, mode 0600)."""
    t0 = time.monotonic()
    output = output.resolve()
    if not output.parent.is_dir():
        raise Refused(f"目录 {output.parent} 不存在", f"the directory {output.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            manifest = asyncio.run(_backup(settings, zf, progress))
        os.chmod(tmp, 0o600)
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Outcome(events=manifest["event_count"], first_seq=manifest["first_seq"], last_seq=manifest["last_seq"],
                   files=[f["path"] for f in manifest["files"]], temporal=manifest["temporal"]["included"],
                   seconds=time.monotonic() - t0, path=output, size=output.stat().st_size)


@contextlib.asynccontextmanager
async def _log_of(settings: Settings) -> AsyncIterator[str]:
    """The NATS that holds this data dir's log: `GONGKAI_NATS_URL`, the one `gongkai up` runs on it, or, when
    the stack is stopped, a private one over its store."""
    if settings.nats_url_env:
        yield settings.nats_url
        return
    pid = settings.data_dir / "run" / "nats.pid"
    if alive(pid):
        if not tcp_open(settings.host, settings.nats_port):
            raise RuntimeError(f"the NATS of {settings.data_dir} runs (pid in {pid}) but nothing answers on "
                               f"{settings.host}:{settings.nats_port}; give the same GONGKAI_NATS_PORT as `gongkai up`")
        yield natsauth.url(settings, "admin")
        return
    store = settings.data_dir / "nats"
    if not store.is_dir():
        raise Refused(f"{settings.data_dir} 中没有事件日志", f"there is no event log in {settings.data_dir}")
    # the log's account on this store: GONGKAI, or the global one of a store from before NATS users
    account = ACCOUNT if (store / "jetstream" / ACCOUNT).is_dir() else None
    async with private_nats(store, account) as url:
        yield url


async def _backup(settings: Settings, zf: zipfile.ZipFile, progress: bool) -> dict:
    async with _log_of(settings) as url:
        nc = await _connect(url, "gongkai-backup")
        try:
            js = nc.jetstream(timeout=10)
            try:
                await js.stream_info(subjects.STREAM)
            except NotFoundError:
                raise Refused("事件日志不存在", f"there is no event log (stream {subjects.STREAM})") from None
            with tempfile.TemporaryDirectory(prefix="gongkai-backup-") as tmp:
                created_at = datetime.now(UTC)
                head, temporal_copy, temporal_note, copies = await _cut(js, settings, Path(tmp))
                events = await _write_events(js, zf, head, Progress("backup", head, progress))
                files = []
                if temporal_copy is not None:
                    files.append(_add(zf, TEMPORAL, temporal_copy, "temporal"))
                if settings.config_file.is_file():
                    files.append(_add(zf, CONFIG, settings.config_file, "config"))
                keys = settings.data_dir / KEYS
                for p in (sorted(keys.rglob("*")) if keys.is_dir() else []):
                    if p.is_file():
                        files.append(_add(zf, f"{KEYS}/{p.relative_to(keys).as_posix()}", p, "key"))
        finally:
            await nc.close()
    if settings.jwt_key_env:
        warn("the signing key comes from GONGKAI_JWT_KEY and is not in the backup; keep that value as well")
    if temporal_note:
        warn(temporal_note)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "gongkai_version": _version(),
        "created_at": created_at.isoformat(), "stream": subjects.STREAM,
        "subjects": subjects.STREAM_SUBJECTS, **events,
        "temporal": {"included": temporal_copy is not None, "note": temporal_note, "log_head": head,
                     "copies": copies},
        "signing_key": "environment" if settings.jwt_key_env else
                       ("keys" if any(f["kind"] == "key" for f in files) else None),
        "files": files,
    }
    zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


async def _head(js) -> int:
    return (await js.stream_info(subjects.STREAM)).state.last_seq


async def _cut(js, settings: Settings, tmp: Path) -> tuple[int, Path | None, str | None, int]:
    """The backup's head, a copy of Temporal's database of the same moment (see the module docstring), why there
    is none, and how many copies it took."""
    if settings.temporal_address_env:
        return await _head(js), None, ("Temporal is external (GONGKAI_TEMPORAL_ADDRESS): its state is not in the "
                                       "backup; back it up with its own tools at the same moment"), 0
    db = settings.data_dir / "temporal" / "temporal.sqlite"
    if not db.is_file():
        return await _head(js), None, f"no Temporal database in {db.parent}: the backup holds no workflows", 0
    copy = tmp / "temporal.sqlite"
    deadline, attempt = time.monotonic() + QUIET_WITHIN_S, 1
    while True:
        before = await _head(js)
        await asyncio.to_thread(_copy_sqlite, db, copy)
        after = await _head(js)
        if after == before or await _neutral(js, before, after):
            return after, copy, None, attempt
        attempt += 1
        if time.monotonic() > deadline:
            raise RuntimeError(f"events kept coming for {QUIET_WITHIN_S:.0f} s: no moment was found when Temporal's "
                               "state and the log agree; take the backup at a quieter time")
        await asyncio.sleep(0.02)


async def _neutral(js, before: int, after: int) -> bool:
    """Whether every event in (before, after] is one Temporal never hears of."""
    if after - before > 200:
        return False
    for seq in range(before + 1, after + 1):
        try:
            msg = await js.get_msg(subjects.STREAM, seq)
        except NotFoundError:
            continue
        kind = (msg.headers or {}).get("Gongkai-Type") or orjson.loads(msg.data).get("type")
        if kind not in NEUTRAL:
            return False
    return True


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a database another process is writing (SQLite's online backup API, in one step)."""
    dst.unlink(missing_ok=True)
    for attempt in range(20):
        source = sqlite3.connect(src, timeout=30)
        try:
            target = sqlite3.connect(dst)
            try:
                source.backup(target)
                return
            finally:
                target.close()
        except sqlite3.OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.1)
        finally:
            source.close()


async def _write_events(js, zf: zipfile.ZipFile, head: int, progress: Progress) -> dict:
    """Every message up to `head`, in order, as JSON lines; returns the manifest's part about them."""
    digest, size, count, first, last = hashlib.sha256(), 0, 0, 0, 0
    gaps: list[list[int]] = []
    queue: asyncio.Queue = asyncio.Queue(maxsize=20_000)

    async def on_msg(msg) -> None:
        await queue.put(msg)

    with zf.open(EVENTS, "w", force_zip64=True) as out:
        buf: list[bytes] = []
        pending = 0

        def flush() -> None:
            nonlocal pending, size
            chunk = b"".join(buf)
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            buf.clear()
            pending = 0

        if head:
            sub = await js.subscribe(f"{subjects.EVENTS}.>", cb=on_msg, ordered_consumer=True, stream=subjects.STREAM,
                                     config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL),
                                     pending_msgs_limit=40_000)
            try:
                while last < head:
                    try:
                        msg = queue.get_nowait() if not queue.empty() else await asyncio.wait_for(queue.get(), 30)
                    except TimeoutError:
                        raise RuntimeError(f"the log stopped delivering at sequence {last} of {head}") from None
                    meta = msg.metadata
                    seq = meta.sequence.stream
                    if seq <= last:
                        continue
                    if seq > head:
                        break
                    if seq != last + 1:
                        gaps.append([last + 1, seq - 1])
                    line = orjson.dumps({"seq": seq, "subject": msg.subject, "headers": dict(msg.headers or {}),
                                         "data": base64.b64encode(msg.data).decode(),
                                         "time": meta.timestamp.isoformat() if meta.timestamp else None})
                    buf.append(line + b"\n")
                    pending += len(line) + 1
                    if pending >= CHUNK:
                        flush()
                    first, last, count = first or seq, seq, count + 1
                    progress(seq)
                    if meta.num_pending == 0 and seq < head:  # the messages up to the head were deleted
                        break
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        if last < head:
            gaps.append([last + 1, head])
        flush()
    progress.end()
    return {"first_seq": first, "last_seq": head, "event_count": count, "gaps": gaps,
            "events": {"path": EVENTS, "sha256": digest.hexdigest(), "bytes": size}}


def _add(zf: zipfile.ZipFile, name: str, path: Path, kind: str) -> dict:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as src, zf.open(name, "w", force_zip64=True) as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return {"path": name, "kind": kind, "sha256": digest.hexdigest(), "bytes": size,
            "mode": path.stat().st_mode & 0o777}


# --------------------------------------------------------------------------------------------------- restore


def restore(settings: Settings, file: Path, *, progress: bool = False) -> Outcome:
    """Bring the backup `file` back into the (empty) data dir of `settings`."""
    t0 = time.monotonic()
    try:
        zf = zipfile.ZipFile(file)
    except FileNotFoundError:
        raise Refused(f"找不到备份文件 {file}", f"no such file: {file}") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise Refused(f"{file} 不是 gongkai 备份文件或已损坏", f"{file} is not a gongkai backup or is damaged ({e})") from None
    with zf:
        manifest = _manifest(zf, file)
        data_dir = settings.data_dir
        if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
            raise Refused(f"数据目录 {data_dir} 不是空的，只能恢复到空目录或新目录",
                          f"the data dir {data_dir} is not empty; restore only into an empty or new data dir")
        _verify(zf, manifest)  # before anything is written
        _check_config_target(settings, zf, next((f for f in manifest["files"] if f["kind"] == "config"), None))
        targets = [(f, _target(settings, f)) for f in manifest["files"]]
        created = not data_dir.exists()
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            asyncio.run(_republish(settings, zf, manifest, Progress("restore", manifest["event_count"], progress)))
            for f, target in targets:
                _write_member(zf, f, target)
        except BaseException:
            _empty(data_dir, created)
            raise
    if manifest["temporal"]["included"] and settings.temporal_address_env:
        warn(f"Temporal's state was written to {data_dir / TEMPORAL}, but GONGKAI_TEMPORAL_ADDRESS is set: the "
             "external Temporal does not read it")
    elif not manifest["temporal"]["included"]:
        warn("the backup holds no Temporal state: a submission waiting for its first decision gets its workflow "
             "again at that decision, but one already past a stage has to be withdrawn and submitted again, and an "
             "application's clock watch starts again at its next clock step")
    if settings.database_url_env:
        warn("the projections live in GONGKAI_DATABASE_URL: after `gongkai up`, run `gongkai replay` unless that "
             "database is new")
    return Outcome(events=manifest["event_count"], first_seq=manifest["first_seq"], last_seq=manifest["last_seq"],
                   files=[f["path"] for f in manifest["files"]], temporal=manifest["temporal"]["included"],
                   seconds=time.monotonic() - t0, path=data_dir)


def _damaged(name: str, why: str = "") -> Refused:
    return Refused(f"备份文件已损坏：{name} 的校验和不符，未写入任何内容",
                   f"the backup file is damaged: checksum mismatch in {name}{f' ({why})' if why else ''}; "
                   "nothing was written")


def _manifest(zf: zipfile.ZipFile, file: Path) -> dict:
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except KeyError:
        raise Refused(f"{file} 不是 gongkai 备份文件（缺少 {MANIFEST}）",
                      f"{file} is not a gongkai backup (no {MANIFEST})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
        raise _damaged(MANIFEST, str(e)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Refused(f"{file} 不是 gongkai 备份文件", f"{file} is not a gongkai backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Refused(f"备份格式版本 {manifest.get('format_version')} 不受支持（本版本读取 {FORMAT_VERSION}）",
                      f"backup format version {manifest.get('format_version')} is not supported "
                      f"(this gongkai reads {FORMAT_VERSION})")
    if manifest.get("stream") != subjects.STREAM:
        raise Refused("备份中的事件流名称不同", f"the backup is of stream {manifest.get('stream')}, not {subjects.STREAM}")
    return manifest


def _verify(zf: zipfile.ZipFile, manifest: dict) -> None:
    """Every member's sha256 (and zip CRC) against the manifest."""
    for name, want in [(manifest["events"]["path"], manifest["events"]["sha256"]),
                       *((f["path"], f["sha256"]) for f in manifest["files"])]:
        digest = hashlib.sha256()
        try:
            with zf.open(name) as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
        except KeyError:
            raise _damaged(name, "missing") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise _damaged(name, str(e)) from None
        if digest.hexdigest() != want:
            raise _damaged(name)


def _target(settings: Settings, f: dict) -> Path:
    if f["kind"] == "config":
        return settings.config_file
    if f["kind"] == "temporal":
        return settings.data_dir / TEMPORAL
    rel = PurePosixPath(f["path"])
    if f["kind"] != "key" or rel.parts[0] != KEYS or ".." in rel.parts or rel.is_absolute():
        raise Refused(f"备份中有无法识别的文件 {f['path']}", f"the backup names an unexpected file {f['path']}")
    return settings.data_dir.joinpath(*rel.parts)


def _check_config_target(settings: Settings, zf: zipfile.ZipFile, config: dict | None) -> None:
    """A GONGKAI_CONFIG_FILE outside the data dir is written only if absent or already the same."""
    target = settings.config_file
    if config is None or not target.exists():
        return
    if target.read_bytes() != zf.read(config["path"]):
        raise Refused(f"部署配置文件 {target} 已存在且内容不同", f"the deployment file {target} exists and differs "
                      "from the backup's; move it away or unset GONGKAI_CONFIG_FILE")


def _write_member(zf: zipfile.ZipFile, f: dict, target: Path) -> None:
    if target.exists():  # an external GONGKAI_CONFIG_FILE already equal to the backup's
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if f["kind"] == "key":
        target.parent.chmod(0o700)
    tmp = target.with_name(f".{target.name}.restoring")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, zf.open(f["path"]) as src:
        while chunk := src.read(CHUNK):
            out.write(chunk)
    os.chmod(tmp, f.get("mode", 0o600) if f["kind"] == "key" else f.get("mode", 0o644) & 0o777)
    os.replace(tmp, target)


def _empty(data_dir: Path, created: bool) -> None:
    """Undo a failed restore: the data dir was empty (or absent) before."""
    import shutil

    if created:
        shutil.rmtree(data_dir, ignore_errors=True)
        return
    for p in data_dir.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def stream_config(replicas: int, *, relaxed: bool = False) -> api.StreamConfig:
    """The configuration `EventLog.ensure_stream` creates; `relaxed` while a restore recreates gaps."""
    return eventlog.stream_config(subjects.STREAM, replicas, extra_subjects=(FILLER,) if relaxed else (),
                                  relaxed=relaxed)


async def _republish(settings: Settings, zf: zipfile.ZipFile, manifest: dict, progress: Progress) -> None:
    external = bool(settings.nats_url_env)
    replicas = settings.stream_replicas if external else 1
    async with contextlib.AsyncExitStack() as stack:
        url = settings.nats_url if external else await stack.enter_async_context(private_nats(settings.data_dir / "nats"))
        nc = await _connect(url, "gongkai-restore")
        stack.push_async_callback(nc.close)
        js = nc.jetstream(timeout=10)
        try:
            info = await js.stream_info(subjects.STREAM)
        except NotFoundError:
            info = None
        if info is not None:
            raise Refused(f"{url} 上已有事件流 {subjects.STREAM}（{info.state.messages} 条事件），只能恢复到新的事件流",
                          f"the NATS at GONGKAI_NATS_URL already holds the stream {subjects.STREAM} "
                          f"({info.state.messages} events); restore only into a fresh one")
        log = EventLog(nc, timeout=10)
        if manifest["gaps"]:
            await js.add_stream(stream_config(replicas, relaxed=True))
        else:
            await log.ensure_stream(replicas)
        try:
            fillers = await _publish_all(nc, zf, manifest, progress)
            if manifest["gaps"]:
                for seq in fillers:
                    await js.delete_msg(subjects.STREAM, seq)
                await js.update_stream(stream_config(replicas))
            await log.ensure_stream(replicas)  # checks deny delete and purge, atomic batches
            state = (await js.stream_info(subjects.STREAM)).state
            if (state.last_seq, state.messages) != (manifest["last_seq"], manifest["event_count"]):
                raise RuntimeError(f"the restored log has {state.messages} events up to sequence {state.last_seq}, "
                                   f"the backup {manifest['event_count']} up to {manifest['last_seq']}")
        except BaseException:
            if external:  # we created it: leave that NATS as it was
                with contextlib.suppress(Exception):
                    await js.delete_stream(subjects.STREAM)
            raise


async def _publish_all(nc: nats.NATS, zf: zipfile.ZipFile, manifest: dict, progress: Progress) -> list[int]:
    """Publish every event in order, pipelined, each acknowledged at its original sequence; returns the
    sequences of the fillers published for gaps."""
    inbox = nc.new_inbox()
    window = asyncio.Semaphore(2000)
    failures: list[str] = []
    state = {"sent": 0, "acked": 0}
    all_acked = asyncio.Event()

    async def on_ack(msg) -> None:
        want = int(msg.subject.rsplit(".", 1)[1])
        window.release()
        state["acked"] += 1
        try:
            ack = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            ack = {"error": {"description": msg.data[:200].decode(errors="ignore")}}
        if "error" in ack:
            failures.append(f"event {want} was refused: {ack['error'].get('description', ack['error'])}")
        elif ack.get("seq") != want or ack.get("duplicate"):
            failures.append(f"event {want} landed at sequence {ack.get('seq')}"
                            + (" as a duplicate of an earlier message id" if ack.get("duplicate") else ""))
        if state["acked"] == state["sent"]:
            all_acked.set()

    async def send(subject: str, data: bytes, headers: dict | None, seq: int) -> None:
        if failures:
            raise RuntimeError(f"restore failed: {failures[0]}")
        await window.acquire()
        state["sent"] += 1
        all_acked.clear()
        await nc.publish(subject, data, reply=f"{inbox}.{seq}", headers=headers or None)

    sub = await nc.subscribe(f"{inbox}.*", cb=on_ack)
    fillers: list[int] = []
    nxt = 1
    try:
        with zf.open(manifest["events"]["path"]) as src:
            for line in src:
                ev = orjson.loads(line)
                seq, subject, headers = ev["seq"], ev["subject"], ev["headers"] or {}
                while nxt < seq:  # a sequence the original lacks
                    await send(FILLER, b"", None, nxt)
                    fillers.append(nxt)
                    nxt += 1
                data = base64.b64decode(ev["data"])
                if "Nats-Batch-Id" in headers and "Nats-Batch-Commit" not in headers:
                    # a staged member of an atomic batch is not acknowledged; the commit's ack covers the batch
                    if failures:
                        raise RuntimeError(f"restore failed: {failures[0]}")
                    await nc.publish(subject, data, headers=headers)
                else:
                    await send(subject, data, headers, seq)
                nxt = seq + 1
                progress(seq)
        while nxt <= manifest["last_seq"]:  # missing up to the head
            await send(FILLER, b"", None, nxt)
            fillers.append(nxt)
            nxt += 1
        await nc.flush()
        if state["sent"]:
            try:
                await asyncio.wait_for(all_acked.wait(), timeout=60)
            except TimeoutError:
                raise RuntimeError(f"only {state['acked']} of {state['sent']} events were acknowledged") from None
        if failures:
            raise RuntimeError(f"restore failed: {failures[0]}")
    finally:
        progress.end()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return fillers
