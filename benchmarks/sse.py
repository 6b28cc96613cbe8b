"""Server-Sent Events benchmark: N clients on one uvicorn worker, broadcast events.

For each broker (the in-process MemoryBroker, and RedisBroker on the local Redis)
and each client count N, it

1. starts uvicorn (one worker) on a free 127.0.0.1 port serving a small kolben app
   (``stream_channel`` on ``GET /events``, ``POST /publish`` stamping
   ``time.monotonic()`` into the event just before ``app.broker.publish``),
2. reads the server's resident memory, connects N SSE clients (raw asyncio
   sockets in this process) and waits until every stream is open, reads the
   memory again: the difference over N is the memory per connected client,
3. publishes ``--events`` events from a separate thread (one keep-alive HTTP
   connection, one every ``--interval`` seconds), and records for every client
   and event the delay from publish to receipt (both stamps are
   ``time.monotonic()``, the same clock on one machine),
4. reports p50 / p99 / max delivery latency, delivered events per second (over
   the time from the first publish to the last receipt) and whether every client
   got every event. (Publishing goes through the same worker, so when it is
   saturated the publishing pace drops too: events/s is what one worker delivers.)

Everything is bounded in time (``--limit`` seconds per run) and stays on
127.0.0.1. A report, never a test: it fails only when a server does not start.

    python benchmarks/sse.py                        # N = 100, 1000; both brokers
    python benchmarks/sse.py --clients 100 --brokers memory
    python benchmarks/sse.py --json sse.json
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from uvicorn_worker import HOST, UvicornWorker, raise_open_files_limit

REDIS_URL = os.environ.get("KOLBEN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

APP = """
import os
import time

from kolben import Kolben, request
from kolben.sse import stream_channel

app = Kolben(__name__)
app.config.update(
    BROKER_URL=os.environ.get("BENCH_BROKER_URL") or None,
    BROKER_KEY_PREFIX=os.environ.get("BENCH_PREFIX", "kolben-bench:"),
)


@app.get("/ping")
def ping():
    return "ok"


@app.get("/events")
def events():
    return stream_channel("bench", keepalive=30)


@app.post("/publish")
def publish():
    seq = int(request.args["seq"])
    return {"id": app.broker.publish("bench", {"seq": seq, "t": time.monotonic()})}


@app.get("/stats")
def stats():
    return {"subscribers": app.broker.subscriber_count()}
"""

_STAMP = re.compile(rb'"t": ([0-9.]+)')


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Client:
    """One SSE connection: counts events and records publish-to-receipt delays."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.latencies: list[float] = []
        self.last_receipt = 0.0
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, port: int, done: asyncio.Event, events: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        self.writer = writer
        writer.write(
            b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        tail = b""
        while len(self.latencies) < events:
            chunk = await reader.read(65536)
            now = time.monotonic()
            if not chunk:
                return
            if not self.opened.is_set() and b": open" in chunk:
                self.opened.set()
            # Only whole events: the last one may continue in the next read.
            data = tail + chunk
            cut = data.rfind(b"\n\n")
            if cut < 0:
                tail = data
                continue
            tail = data[cut + 2 :]
            for stamp in _STAMP.findall(data, 0, cut):
                self.latencies.append(now - float(stamp))
            self.last_receipt = now

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def publisher(port: int, events: int, interval: float, stamps: list[float]) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        for seq in range(events):
            stamps.append(time.monotonic())
            conn.request("POST", f"/publish?seq={seq}", body=b"")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"publish answered {response.status}")
            if interval:
                time.sleep(interval)
    finally:
        conn.close()


async def measure(
    server: UvicornWorker, n: int, events: int, interval: float, limit: float
) -> dict[str, object]:
    deadline = time.monotonic() + limit
    done = asyncio.Event()
    # One stream open before the baseline, so fixed costs (the Redis reader thread
    # and its connection, first-use imports) are not counted per client.
    warm = Client()
    warm_task = asyncio.ensure_future(warm.run(server.port, done, events))
    await asyncio.wait_for(warm.opened.wait(), 10)
    await asyncio.sleep(0.3)
    idle_rss = rss_kib(server.process.pid)
    clients = [Client() for _ in range(n)]
    tasks = []
    for start in range(0, n, 100):  # connect in batches, as a crowd would arrive
        for client in clients[start : start + 100]:
            tasks.append(asyncio.ensure_future(client.run(server.port, done, events)))
        await asyncio.sleep(0.02)
    await asyncio.wait_for(
        asyncio.gather(*(c.opened.wait() for c in clients)), deadline - time.monotonic()
    )
    loop = asyncio.get_running_loop()
    connected = await loop.run_in_executor(None, server.subscribers) - 1
    await asyncio.sleep(0.5)
    connected_rss = rss_kib(server.process.pid)

    stamps: list[float] = []
    pub = threading.Thread(target=publisher, args=(server.port, events, interval, stamps))
    pub.start()
    _, pending = await asyncio.wait(tasks, timeout=max(0.1, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    warm_task.cancel()
    await asyncio.gather(warm_task, return_exceptions=True)
    for client in [warm, *clients]:
        client.close()
    await loop.run_in_executor(None, pub.join, 10)

    latencies = sorted(x for c in clients for x in c.latencies)
    delivered = len(latencies)
    complete = sum(len(c.latencies) == events for c in clients)
    span = max(c.last_receipt for c in clients) - stamps[0] if stamps and delivered else 0.0
    return {
        "clients": n,
        "connected": connected,
        "events": events,
        "delivered": delivered,
        "expected": n * events,
        "complete_clients": complete,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2) if latencies else None,
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "events_per_s": round(delivered / span) if span else None,
        "kib_per_client": round((connected_rss - idle_rss) / n, 1),
        "idle_rss_kib": idle_rss,
        "connected_rss_kib": connected_rss,
    }


def clear_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,1000")
    parser.add_argument("--brokers", default="memory,redis")
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between events")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per run, at most")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    limit = raise_open_files_limit(max(counts) * 2 + 1024)
    if limit < max(counts) + 100:
        raise SystemExit(f"the open files limit is {limit}: too low for {max(counts)} clients")

    try:
        import uvloop

        uvloop.install()  # DeprecationWarning on newer uvloop is fine here
    except ImportError:
        pass

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = Path(tmp)
        (app_dir / "bench_sse_app.py").write_text(APP)
        for broker in args.brokers.split(","):
            for n in counts:
                prefix = f"kolben-bench:{uuid.uuid4().hex[:8]}:"
                env = {"BENCH_PREFIX": prefix}
                if broker == "redis":
                    env["BENCH_BROKER_URL"] = REDIS_URL
                server = UvicornWorker(app_dir, "bench_sse_app", ["--lifespan", "on"], env)
                try:
                    row = asyncio.run(measure(server, n, args.events, args.interval, args.limit))
                finally:
                    server.stop()
                    if broker == "redis":
                        clear_redis(prefix)
                row["broker"] = broker
                results.append(row)
                print(json.dumps(row), flush=True)

    print()
    print("| broker | clients | p50 ms | p99 ms | max ms | events/s | KiB/client | delivered |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(
            f"| {r['broker']} | {r['clients']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']}"
            f" | {r['events_per_s']} | {r['kib_per_client']} |"
            f" {r['delivered']}/{r['expected']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
