"""The ceilings of the parts, measured in the same run as the project's figures (the machine is shared and
noisy, so a ratio against a ceiling measured minutes apart means more than an absolute number).

- `temporal_ceiling`: a bare workflow of the review's shape — started, two updates, the second running one
  activity, then done — on the stack's own Temporal server, with a worker in a process of its own (as the
  stack's worker is) and the same number of workflows in flight as the chain has clients.
- `jetstream_ceiling`: a raw nats-py consumer of the whole stream: a durable pull consumer with `fetch(1000)`
  and an ack per message, and a pull driven by hand (one request for a batch, messages to an inbox, acked by
  publishing to their reply subject); also how fast this process decodes the events into envelopes.

`python -m bench.ceilings worker --address HOST:PORT --task-queue Q` runs the bare workflow's worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.bare_workflow import BenchReview, bench_publish

ROOT = Path(__file__).resolve().parents[1]


# ---- the bare workflow ------------------------------------------------------------------------------------

async def _worker(address: str, task_queue: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[BenchReview], activities=[bench_publish]):
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes stdin


async def temporal_ceiling(address: str, n: int, concurrency: int, warmup: int = 10) -> dict:
    """Workflows/s of the bare review shape with `concurrency` in flight; the worker runs in a subprocess."""
    from temporalio.client import Client

    task_queue = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, "-m", "bench.ceilings", "worker", "--address", address,
                             "--task-queue", task_queue], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout=60)
        if line.strip() != "ready":
            raise RuntimeError(f"the ceiling's worker did not start: {line!r}")
        client = await Client.connect(address)
        latencies: list[float] = []

        async def one(i: int) -> None:
            t = time.perf_counter()
            h = await client.start_workflow(BenchReview.run, f"item-{i}", id=f"{task_queue}-{i}", task_queue=task_queue)
            await h.execute_update(BenchReview.decide, "initial")
            await h.execute_update(BenchReview.decide, "recheck")
            await h.result()
            latencies.append(time.perf_counter() - t)

        async def run(count: int, offset: int) -> float:
            todo = iter(range(offset, offset + count))

            async def lane() -> None:
                for i in todo:
                    await one(i)

            t0 = time.perf_counter()
            await asyncio.gather(*(lane() for _ in range(concurrency)))
            return time.perf_counter() - t0

        await run(warmup, 0)
        latencies.clear()
        elapsed = await run(n, warmup)
        return {"rate": n / elapsed, "n": n, "seconds": elapsed, "concurrency": concurrency,
                "latencies": latencies}
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- raw JetStream consumers ------------------------------------------------------------------------------

async def jetstream_ceiling(nats_url: str, stream: str = "GONGKAI") -> dict:
    """Messages/s of a raw nats-py consumer reading the whole stream and acking every message."""
    import nats
    import orjson
    from nats.js import api

    from gongkai.eventlog import decode

    nc = await nats.connect(nats_url, name="gongkai-bench-ceiling")
    js = nc.jetstream()
    try:
        head = (await js.stream_info(stream)).state.last_seq
        out: dict = {"events": head}

        # 1. durable pull consumer, fetch(1000), ack each
        durable = f"bench_fetch_{uuid.uuid4().hex[:8]}"
        psub = await js.pull_subscribe("gongkai.events.>", durable=durable, stream=stream,
                                       config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT,
                                                                 max_ack_pending=-1))
        got, t0 = 0, time.perf_counter()
        while got < head:
            for m in await psub.fetch(1000, timeout=5):
                await m.ack()
                got += 1
        out["fetch"] = got / (time.perf_counter() - t0)
        await psub.unsubscribe()
        await js.delete_consumer(stream, durable)

        # 2. pull driven by hand: ask for a batch, receive on an inbox, ack each by publishing to its reply
        durable = f"bench_hand_{uuid.uuid4().hex[:8]}"
        await js.add_consumer(stream, api.ConsumerConfig(durable_name=durable, ack_policy=api.AckPolicy.EXPLICIT,
                                                         max_ack_pending=-1, filter_subject="gongkai.events.>"))
        queue: asyncio.Queue = asyncio.Queue()
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, cb=queue.put, pending_msgs_limit=200_000)
        decoded_bytes: list[bytes] = []
        got, batch, t0 = 0, 1000, time.perf_counter()
        while got < head:
            await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
                             orjson.dumps({"batch": batch, "expires": 5_000_000_000}), reply=inbox)
            n = 0
            while n < batch and got < head:
                m = await queue.get()
                if m.headers and m.headers.get("Status"):
                    if m.headers["Status"] != "100":
                        break
                    continue
                await nc.publish(m.reply, b"+ACK")
                if len(decoded_bytes) < 20000:
                    decoded_bytes.append(m.data)
                n += 1
                got += 1
        out["hand"] = got / (time.perf_counter() - t0)
        await sub.unsubscribe()
        await js.delete_consumer(stream, durable)

        # 3. what decoding costs this process: orjson + Envelope validation (gongkai.eventlog.decode)
        t0 = time.perf_counter()
        for data in decoded_bytes:
            decode(data)
        out["decode"] = len(decoded_bytes) / (time.perf_counter() - t0)
        out["ceiling"] = max(out["fetch"], out["hand"])
        return out
    finally:
        await nc.drain()


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--address", required=True)
    w.add_argument("--task-queue", required=True)
    j = sub.add_parser("jetstream")
    j.add_argument("--url", required=True)
    args = ap.parse_args()
    if args.cmd == "worker":
        asyncio.run(_worker(args.address, args.task_queue))
    else:
        print(json.dumps(asyncio.run(jetstream_ceiling(args.url))))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
