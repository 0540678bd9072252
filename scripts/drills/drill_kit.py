"""What every drill needs: private servers, the API and a worker, a small bounded load, and figures.

Each drill starts its OWN PostgreSQL (initdb + pg_ctl on a temporary directory and a free port) and its
own Redis (redis-server on a free port, no persistence), so stopping, crashing or emptying them touches
nothing else on the machine. The API (`caseload serve`) and the worker (`caseload worker`) run as child
processes in their own process groups; the load runs over loopback only, a few requests at a time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts" / "bench"))

CASELOAD = str(Path(sys.executable).parent / "caseload")
# The goals the drills check (issue 18 "done when"; README "Reliability").
RECOVERY_GOAL_S = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres_user() -> list[str]:
    # initdb and postgres refuse to run as root: run them as the `postgres` account then.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Postgres:
    """A private PostgreSQL cluster on a free port, its socket and data in a temporary directory."""

    def __init__(self, root: Path, *, max_connections: int = 60):
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.max_connections = max_connections
        self.log = root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/caseload"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*_as_postgres_user(), *argv], check=check, capture_output=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self.start()
        subprocess.run([*_as_postgres_user(), "psql", "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
                        "-c", "CREATE DATABASE caseload"], check=True, capture_output=True)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c max_connections={self.max_connections}")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: an administrator's shutdown (sessions terminated); immediate: a crash (recovery at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")


class RedisServer:
    """A private Redis without persistence: a restart comes back empty, as many managed ones do."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: no save (--save ""), so the data is gone
            self.process.wait(10)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Proc:
    """`caseload serve` or `caseload worker`, in its own process group, output to a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL to the whole group (the worker's parser children too): what an OOM kill or a lost host does."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class Stack:
    """PostgreSQL, Redis, the API and a worker, all private to one drill."""

    def __init__(self, name: str, *, env: dict[str, str] | None = None, max_connections: int = 60):
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix=f"caseload-drill-{name}-"))
        os.chmod(self.root, 0o755)
        self.pg = Postgres(self.root / "pg", max_connections=max_connections)
        self.redis = RedisServer(self.root / "redis")
        self.api_port = free_port()
        self.extra_env = env or {}
        self.api: Proc | None = None
        self.worker: Proc | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "DATA_DIR": str(self.root / "data"),
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(self.mail_dir),
            "FILES_DIR": str(self.root / "files"),
            "LOG_LEVEL": "WARNING",
            "PUBLIC_URL": f"http://127.0.0.1:{self.api_port}",
            **self.extra_env,
        }

    @property
    def mail_dir(self) -> Path:
        return self.root / "mail"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, *, worker: bool = True) -> None:
        print(f"[{self.name}] private servers under {self.root}", flush=True)
        self.pg.init()
        self.redis.start()
        subprocess.run([CASELOAD, "migrate"], cwd=REPO, env=self.env, check=True, capture_output=True)
        self.start_api()
        if worker:
            self.start_worker()

    def start_api(self) -> None:
        self.api = Proc("api", [CASELOAD, "serve", "--host", "127.0.0.1", "--port", str(self.api_port)], self.env,
                        self.root / "api.log")
        self.api.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.base_url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.1)
        raise RuntimeError(f"the API did not get ready; see {self.api.log}")

    def start_worker(self) -> None:
        self.worker = Proc("worker", [CASELOAD, "worker"], self.env, self.root / "worker.log")
        self.worker.start()

    def close(self, keep: bool = False) -> None:
        for proc in (self.api, self.worker):
            if proc is not None:
                proc.stop(10)
        self.redis.stop()
        self.pg.destroy()
        if keep:
            print(f"[{self.name}] kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def stack(name: str, **options: Any) -> Iterator[Stack]:
    s = Stack(name, **options)
    try:
        s.start()
        yield s
    finally:
        s.close(keep=bool(os.environ.get("DRILL_KEEP")))


# --- load --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    op: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer (connection refused/reset, timeout)
    code: str | None = None
    key: str | None = None  # what a write created (an email), to check afterwards
    error: str | None = None  # why there was no HTTP answer


@dataclass
class Load:
    """A few clients in a loop over loopback, each pausing between requests: a small, bounded load."""

    base_url: str
    ops: list[Callable[[Any, int], Awaitable[Outcome]]]
    clients: int = 4
    pause_s: float = 0.05
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _client(self, n: int) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=self.base_url, timeout=20.0) as http:
            i = 0
            while not self._stop.is_set():
                op = self.ops[(n + i) % len(self.ops)]
                self.outcomes.append(await op(http, n * 1_000_000 + i))
                i += 1
                await asyncio.sleep(self.pause_s)

    async def run_while(self, scenario: Awaitable[None]) -> None:
        tasks = [asyncio.create_task(self._client(n)) for n in range(self.clients)]
        try:
            await scenario
        finally:
            self._stop.set()
            await asyncio.gather(*tasks)


async def timed(op: str, request: Awaitable[Any], key: str | None = None) -> Outcome:
    import httpx

    started = time.monotonic()
    try:
        response = await request
    except httpx.HTTPError as exc:
        return Outcome(op, started, time.monotonic(), 0, None, key, f"{type(exc).__name__} after {time.monotonic() - started:.1f} s")
    code = None
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        code = response.json().get("code")
    return Outcome(op, started, time.monotonic(), response.status_code, code, key)


# --- figures -----------------------------------------------------------------------------------------


@dataclass
class Figures:
    drill: str
    values: dict[str, Any] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)

    def requests(self, outcomes: list[Outcome], *, returned_at: float | None, allow_no_answer: bool = False) -> None:
        by_status = collections.Counter(o.status for o in outcomes)
        self.values["requests"] = len(outcomes)
        self.values["requests_by_status"] = dict(sorted(by_status.items()))
        codes = collections.Counter(o.code for o in outcomes if o.status == 503)
        self.values["503_codes"] = dict(codes)
        bad = sum(n for status, n in by_status.items() if status >= 500 and status != 503)
        self.values["5xx_other_than_503"] = bad
        self.goal(bad == 0, "5xx other than 503")
        no_answer = by_status.get(0, 0)
        self.values["no_http_answer"] = no_answer
        if no_answer:
            self.values["no_http_answer_why"] = dict(collections.Counter(f"{o.op}: {o.error}" for o in outcomes if o.status == 0))
        if not allow_no_answer:
            self.goal(no_answer == 0, "requests without an HTTP answer")
        if returned_at is not None:
            failed_after = [o.ended - returned_at for o in outcomes if o.ended > returned_at and not 200 <= o.status < 500]
            recovery = max(failed_after, default=0.0)
            self.values["recovery_s"] = round(recovery, 2)
            self.goal(recovery <= RECOVERY_GOAL_S, f"recovery within {RECOVERY_GOAL_S:.0f} s")
            served_after = [o for o in outcomes if o.started > returned_at + recovery and 200 <= o.status < 300]
            self.goal(bool(served_after), "requests served after recovery")

    def goal(self, met: bool, what: str) -> None:
        if not met:
            self.misses.append(what)

    def count(self, name: str, value: int, goal: int | None = 0) -> None:
        self.values[name] = value
        if goal is not None:
            self.goal(value == goal, f"{name} = {goal}")

    def report(self) -> int:
        print(f"\n== drill {self.drill} ==")
        for name, value in self.values.items():
            print(f"  {name:<28} {value}")
        if self.misses:
            print(f"  MISSED: {', '.join(self.misses)}")
            return 1
        print("  all goals met")
        return 0


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.25) -> float | None:
    """Seconds until `check()` held, or None when it did not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(Exception):
            if await check():
                return time.monotonic() - started
        await asyncio.sleep(step)
    return None
