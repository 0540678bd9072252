"""A closed-loop HTTP/1.1 keep-alive load generator: the harness's fallback when wrk is not installed.

N connections, each sending one GET and sending the next as soon as the answer is complete (closed loop), or,
with --rate, at fixed times (open loop: R requests per second in all, evenly spread over the connections; a
request whose time has come while its connection still waits is sent on the answer, and its latency counts from
its scheduled time, so a slow server cannot hide its queue). It is an
asyncio Protocol over raw sockets on uvloop (no HTTP library, no streams, one buffer per connection),
which keeps its CPU cost per request near wrk's order of magnitude; it must run in its own process so it
never shares an event loop with the server. Prints one JSON line.

  python scripts/bench/loadgen.py --url http://127.0.0.1:8000/v1/me -H "Authorization: Bearer ..." -c 32 -s 10
"""

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # plain asyncio still works, just costs more per request
    uvloop = None


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.measuring = True


class Connection(asyncio.Protocol):
    def __init__(self, request: bytes, stats: Stats, deadline: float, done: asyncio.Future[None],
                 interval: float = 0.0, first_at: float = 0.0):
        self.request = request
        self.interval = interval  # open loop: seconds between this connection's requests (0: closed loop)
        self.next_at = first_at
        self.stats = stats
        self.deadline = deadline
        self.done = done
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send_next()

    def send_next(self) -> None:
        if not self.interval:
            self.send()
            return
        wait = self.next_at - time.perf_counter()
        if wait > 0:
            asyncio.get_running_loop().call_later(wait, self.send)
        else:
            self.send()

    def send(self) -> None:
        now = time.perf_counter()
        # Open loop: the latency runs from the scheduled time, even when the request leaves late.
        self.sent_at = min(now, self.next_at) if self.interval else now
        self.next_at += self.interval
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:  # the servers under test always send a length; anything else is an error
                self.fail()
                return
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end > 0 else None])
            total = end + 4 + length
            if len(buffer) < total:
                return
            now = time.perf_counter()
            if not head.startswith(b"http/1.1 2"):
                self.stats.errors += 1
            self.stats.latencies.append(now - self.sent_at)
            del buffer[:total]
            if now >= self.deadline:
                self.finish()
                return
            self.send_next()

    def fail(self) -> None:
        self.stats.errors += 1
        self.finish()

    def finish(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.stats.errors += 1
            self.done.set_result(None)


async def run(url: str, headers: list[str], connections: int, seconds: float, rate: float = 0.0) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", *headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    loop = asyncio.get_running_loop()
    stats = Stats()
    started = time.perf_counter()
    deadline = started + seconds
    finished: list[asyncio.Future[None]] = []
    interval = connections / rate if rate else 0.0
    for n in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        finished.append(done)
        first_at = started + n * interval / connections  # staggered: evenly spread over time
        await loop.create_connection(
            lambda d=done, f=first_at: Connection(request, stats, deadline, d, interval, f), host, port  # type: ignore[misc]
        )
    await asyncio.wait_for(asyncio.gather(*finished), timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    latencies = sorted(stats.latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000 if latencies else 0.0,
        "errors": stats.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-s", "--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second in all (0: closed loop)")
    args = parser.parse_args()
    loop_factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        print(json.dumps(runner.run(run(args.url, args.header, args.connections, args.seconds, args.rate))))


if __name__ == "__main__":
    main()
