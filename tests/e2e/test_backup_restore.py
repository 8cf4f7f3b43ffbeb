"""Backup and restore (`gongkai backup -o FILE`, `gongkai restore FILE`): a backup taken while items are being
created, restored into a new data dir, gives the same log up to its head, the same totals, the same keys and
deployment file, and the reviews that were open go on."""

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
import zipfile
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import nats
from nats.js import api as jsapi

from contracts import subjects
from gongkai.backup import private_nats
from tests.e2e.conftest import Api, People
from tests.servers import NatsServer, StackProcess

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
GONGKAI = str(Path(sys.executable).parent / "gongkai")
ORG, BUSY_ORG = "bk-quiet", "bk-busy"
CONFIG = f'[orgs.{ORG}]\nname = "备份测试单位"\nindex_prefix = "BK"\n'


def admin_url(stack: StackProcess) -> str:
    """The stack's NATS as the operator (`admin` of gongkai/nats/accounts.conf), or without a user where the
    embedded server has none."""
    users = stack.data_dir / "keys" / "nats-users.json"
    if not users.exists():
        return stack.nats_url
    return f"nats://admin:{quote(json.loads(users.read_text())['admin'], safe='')}@127.0.0.1:{stack.ports['NATS']}"


def read_log(url: str, upto: int | None = None) -> list[tuple]:
    """(seq, subject, headers, data) of every message up to `upto` (default: the head)."""
    async def read() -> list[tuple]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            state = (await js.stream_info(subjects.STREAM)).state
            out = []
            for seq in range(state.first_seq, (upto or state.last_seq) + 1):
                try:
                    m = await js.get_msg(subjects.STREAM, seq)
                except nats.js.errors.NotFoundError:
                    continue
                out.append((m.seq, m.subject, dict(m.headers or {}), m.data))
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def gongkai(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([GONGKAI, *args], env=env, capture_output=True, text=True, timeout=120)


def with_data_dir(env: dict, data_dir: Path) -> dict:
    return {**env, "GONGKAI_DATA_DIR": str(data_dir)}


def through(api: Api, people: People, item_id: str, *stages: str) -> None:
    who = {"initial": people.officer, "recheck": people.head}
    for stage in stages:
        r = api.decide(who[stage], item_id, stage)
        assert r.status_code == 200, r.text


def test_a_backup_taken_while_items_are_created_restores_the_same_log_totals_keys_and_open_reviews(tmp_path):
    t0 = time.monotonic()
    src = StackProcess(tmp_path / "data", config=CONFIG)
    src.start()
    try:
        api, quiet, busy = Api(src), People(src, ORG), People(src, BUSY_ORG)
        published = api.create(quiet.author, "plans")["id"]
        at_recheck = api.create(quiet.author, "meetings")["id"]  # past its first stage at backup time
        at_initial = api.create(quiet.author, "meetings")["id"]  # waiting for its first decision
        rejected = api.create(quiet.author, "plans")["id"]
        for item in (published, at_recheck, at_initial, rejected):
            assert api.submit(quiet.author, item).status_code == 202
        through(api, quiet, published, "initial", "recheck")
        through(api, quiet, at_recheck, "initial")
        assert api.decide(quiet.officer, rejected, "initial", "reject").status_code == 200
        quiet_head = read_log(admin_url(src))[-1][0]
        totals = api.totals_after(quiet.viewer, quiet_head, year=YEAR, org=ORG)
        assert totals["position"] >= quiet_head and totals["proactive"]["total"] == 1 and totals["in_review"] == 2

        # another org keeps drafting and submitting while the backup runs
        stop, made = threading.Event(), []

        def churn() -> None:
            with httpx.Client(timeout=30) as http:
                while not stop.is_set():
                    r = http.post(api.items("/items"), headers=busy.author,
                                  json={"kind": "proactive", "category": "meetings", "title": "忙", "body": "正文"})
                    made.append(r.status_code)
                    if len(made) % 3 == 0:
                        http.post(api.items(f"/items/{r.json()['id']}/submit"), headers=busy.author)

        busy.author  # noqa: B018 - its token, minted before the thread starts
        worker = threading.Thread(target=churn)
        worker.start()
        try:
            time.sleep(0.5)
            file = tmp_path / "backup.zip"
            t_backup = time.monotonic()
            out = gongkai("backup", "-o", str(file), env=src.env)
            t_backup = time.monotonic() - t_backup
            after_backup = len(made)
            deadline = time.monotonic() + 10
            while len(made) < after_backup + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join()
        assert out.returncode == 0, out.stderr
        assert set(made) == {201} and len(made) > 5
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        with zipfile.ZipFile(file) as zf:
            manifest = json.loads(zf.read("manifest.json"))
        head = manifest["last_seq"]
        original = read_log(admin_url(src), head)
        assert head >= quiet_head and read_log(admin_url(src))[-1][0] > head  # the cut is inside the churn
        assert manifest["event_count"] == len(original) == head and manifest["gaps"] == []
        assert manifest["temporal"]["included"] and manifest["format_version"] == 1
        busy_in_review = sum(1 for _, subject, h, data in original if h.get("Gongkai-Type") == "item.submitted"
                             and json.loads(data)["org"] == BUSY_ORG)
        old_files = {p.relative_to(src.data_dir): p.read_bytes()
                     for p in [src.data_dir / "gongkai.toml", *(src.data_dir / "keys").iterdir()]}
        tokens = {ORG: dict(quiet.tokens), BUSY_ORG: dict(busy.tokens)}
    finally:
        src.stop()

    # refused: a data dir that is not empty (exit 2, nothing touched), a damaged file (checksum, nothing written)
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("keep me")
    r = gongkai("restore", str(file), env=with_data_dir(src.env, full))
    assert r.returncode == 2 and "不是空的" in r.stderr and "not empty" in r.stderr, r.stderr
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    damaged = tmp_path / "damaged.zip"
    raw = bytearray(file.read_bytes())
    with zipfile.ZipFile(file) as zf:
        info = zf.getinfo("events.jsonl")
    start = info.header_offset + 30 + int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little") \
        + int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    raw[start + info.compress_size // 2] ^= 0x01
    damaged.write_bytes(bytes(raw))
    r = gongkai("restore", str(damaged), env=with_data_dir(src.env, tmp_path / "from-damaged"))
    assert r.returncode == 2 and "checksum" in r.stderr and "校验" in r.stderr, r.stderr
    assert not (tmp_path / "from-damaged").exists()

    dst = StackProcess(tmp_path / "restored")
    t_restore = time.monotonic()
    restored = gongkai("restore", str(file), env=dst.env)
    t_restore = time.monotonic() - t_restore
    assert restored.returncode == 0, restored.stderr
    assert f"{head} events" in restored.stdout
    dst.start()
    try:
        # the same log, byte for byte, headers included, and nothing more
        assert read_log(admin_url(dst)) == original
        # the same deployment file and keys: tokens minted before the backup still work
        assert {p: (dst.data_dir / p).read_bytes() for p in old_files} == old_files
        assert stat.S_IMODE((dst.data_dir / "keys" / "signing.key").stat().st_mode) == 0o600
        api, quiet, busy = Api(dst), People(dst, ORG), People(dst, BUSY_ORG)
        quiet.tokens, busy.tokens = tokens[ORG], tokens[BUSY_ORG]
        # the same totals: the services folded the restored log
        again = api.totals_after(quiet.viewer, head, timeout=30, year=YEAR, org=ORG)
        assert again["position"] == head
        assert {**again, "position": 0} == {**totals, "position": 0}
        assert api.totals_after(busy.viewer, head, year=YEAR, org=BUSY_ORG)["in_review"] == busy_in_review
        assert api.item(quiet.author, published)["index_no"] == original_index(original, published)

        # the reviews open at backup time go on: one past its first stage, one waiting for it
        r = api.decide(quiet.head, at_recheck, "recheck")
        assert r.status_code == 200 and r.json()["status"] == "published", r.text
        through(api, quiet, at_initial, "initial", "recheck")
        assert api.item(quiet.author, at_initial)["status"] == "published"
        got = api.item(quiet.author, at_initial)
        after = api.totals_after(quiet.viewer, got["version"], year=YEAR, org=ORG)
        assert after["proactive"]["by_category"]["meetings"] == totals["proactive"]["by_category"]["meetings"] + 2
        assert after["in_review"] == 0
    finally:
        dst.stop()
    print(f"\n{out.stdout.strip()} ({t_backup:.1f} s with the CLI's start)\n{restored.stdout.strip()} "
          f"({t_restore:.1f} s with the CLI's start)\ntest {time.monotonic() - t0:.0f} s")


def original_index(log: list[tuple], item_id: str) -> str:
    published = [json.loads(data) for _, subject, _, data in log
                 if subject == subjects.event_subject("item", item_id) and json.loads(data)["type"] == "item.published"]
    return published[-1]["payload"]["index_no"]


def test_a_log_with_gaps_is_restored_at_the_same_sequences(tmp_path):
    """gongkai's own stream denies delete from its creation, so it has no gaps; a log that has them (here one
    made by hand on an external NATS) comes back with the same sequences, the gaps where they were."""
    server = NatsServer(tmp_path / "external")
    try:
        async def make():
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await js.add_stream(jsapi.StreamConfig(name=subjects.STREAM, subjects=subjects.STREAM_SUBJECTS,
                                                   storage=jsapi.StorageType.FILE, allow_atomic=True))
            for i in range(1, 8):
                await js.publish(f"{subjects.EVENTS}.item.i{i % 3}", b'{"type": "item.drafted", "n": %d}' % i,
                                 headers={"Nats-Msg-Id": f"m{i}", "Gongkai-Type": "item.drafted"})
            for seq in (1, 4, 7):
                await js.delete_msg(subjects.STREAM, seq)
            state = (await js.stream_info(subjects.STREAM)).state
            await nc.close()
            return state

        before = asyncio.run(make())
        original = read_log(server.url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
        src = {**env, "GONGKAI_NATS_URL": server.url, "GONGKAI_TEMPORAL_ADDRESS": "127.0.0.1:1",
               "GONGKAI_DATA_DIR": str(tmp_path / "src")}
        out = gongkai("backup", "-o", str(tmp_path / "b.zip"), env=src)
        assert out.returncode == 0, out.stderr
        assert "Temporal is external" in out.stderr
    finally:
        server.stop()
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["gaps"] == [[1, 1], [4, 4], [7, 7]] and manifest["event_count"] == 4
    r = gongkai("restore", str(tmp_path / "b.zip"), env={**env, "GONGKAI_DATA_DIR": str(tmp_path / "dst")})
    assert r.returncode == 0, r.stderr

    async def reopen() -> tuple[list[tuple], object]:
        async with private_nats(tmp_path / "dst" / "nats") as url:
            nc = await nats.connect(url)
            info = await nc.jetstream().stream_info(subjects.STREAM)
            await nc.close()
            return await asyncio.to_thread(read_log, url), info

    restored, info = asyncio.run(reopen())
    assert restored == original and [m[0] for m in restored] == [2, 3, 5, 6]
    assert (info.state.first_seq, info.state.last_seq, info.state.messages, info.state.num_deleted) == (
        before.first_seq, before.last_seq, before.messages, before.num_deleted)
    assert info.config.deny_delete and info.config.deny_purge and info.config.subjects == subjects.STREAM_SUBJECTS
    shutil.rmtree(tmp_path / "dst")
