"""A small HTTP benchmark harness: scratch database, server subprocesses, one load generator, a report.

Scenarios (bench_me.py, later bench_members.py, ...) describe *what* to compare; this module does the
rest the same way for every target, so two targets are only ever compared under the same load
generator, concurrency, duration and warm-up.

The machine is small (2 cores on the development machines) and the load generator shares it with the
server and PostgreSQL. So: `wrk` with one thread when it is installed (C, a few microseconds of CPU per
request), else `loadgen.py` beside this file (uvloop + a raw-socket HTTP/1.1 keep-alive protocol, no
HTTP library) in its own process. Both servers are measured with the same one; the report says which.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
# A run during which other processes used more than this many cores' worth of CPU is flagged: on a small
# shared machine it measures the scheduler as much as the server.
DISTURBED_CORES = 0.2


# --------------------------------------------------------------------------------------------- database


def database_url_for(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(server_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """Drop and create database `name` on that server; yield its URL; drop it afterwards (unless keep)."""
    import asyncpg

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    quoted = '"' + name.replace('"', '""') + '"'
    asyncio.run(admin(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    asyncio.run(admin(f"CREATE DATABASE {quoted}"))
    try:
        yield database_url_for(server_url, name)
    finally:
        if not keep:
            asyncio.run(admin(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))


# ---------------------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (0.0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def postgres_backends_cpu_seconds(database: str) -> float:
    """CPU time of the PostgreSQL backends connected to `database` (found by their ps title in /proc).

    Only the backends that exist now are counted: compare two readings taken around a run while the pools
    stay connected (they do: both servers keep their pools open)."""
    total = 0.0
    needle = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            total += process_cpu_seconds(int(entry.name))
    return total


def children_cpu_seconds() -> float:
    """CPU time of our finished child processes (the load generator, once it has been waited for)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Server:
    """An HTTP server run as a subprocess, its output captured to a log file."""

    name: str
    argv: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    ready_path: str = "/healthz"
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, log_dir: Path) -> None:
        self.log_path = log_dir / f"{self.name}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it never signals us
        )
        log.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = self.base_url + self.ready_path
        last_error: object = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last_error = exc
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout:.0f}s ({last_error}):\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid) if self.process else 0.0

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path and self.log_path.exists() else 0

    def log_lines_since(self, offset: int) -> int:
        if not self.log_path or not self.log_path.exists():
            return 0
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().count(b"\n")

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running(servers: Sequence[Server], *, ready_timeout: float = 60.0) -> Iterator[Path]:
    """Start every server, wait until each answers its ready path; stop them all on the way out."""
    log_dir = Path(tempfile.mkdtemp(prefix="caseload-bench-"))
    failed = False
    try:
        for server in servers:
            server.start(log_dir)
        for server in servers:
            server.wait_ready(ready_timeout)
        yield log_dir
    except BaseException:
        failed = True
        print(f"server logs kept in {log_dir}", file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.stop()
        if not failed:
            shutil.rmtree(log_dir, ignore_errors=True)


def uvicorn_argv(app: str, port: int, *, app_dir: Path | None = None) -> list[str]:
    """uvicorn as `caseload serve` runs it: one process, uvloop, httptools, no access log."""
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    if app_dir is not None:
        argv += ["--app-dir", str(app_dir)]
    return argv


# ---------------------------------------------------------------------------------------------- targets


@dataclass
class Target:
    """One endpoint to load: a server, a path, headers, and a check of one response before the run."""

    name: str
    server: Server
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    check: Callable[[int, bytes], None] | None = None
    note: str = ""

    @property
    def url(self) -> str:
        return self.server.base_url + self.path

    def verify(self) -> None:
        request = urllib.request.Request(self.url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        if self.check is not None:
            self.check(status, body)
        elif status != 200:
            raise AssertionError(f"{self.name}: GET {self.path} answered {status}: {body[:300]!r}")


@dataclass
class LoadResult:
    target: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and non-2xx answers
    generator: str
    server_cpu_s: float = 0.0
    db_cpu_s: float = 0.0  # the PostgreSQL backends of the scratch database
    client_cpu_s: float = 0.0  # the load generator
    machine_busy: float = 0.0  # share of all cores busy during the run, 0..1
    other_cores: float = 0.0  # cores' worth of CPU used by anything else on the machine during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def per_request_us(self, seconds: float) -> float:
        return seconds / self.requests * 1e6 if self.requests else 0.0

    @property
    def server_cpu_us_per_request(self) -> float:
        return self.per_request_us(self.server_cpu_s)

    @property
    def disturbed(self) -> bool:
        return self.other_cores > DISTURBED_CORES

    def cpu_bound_rps(self, cores: int) -> float:
        """Throughput this CPU cost allows on an otherwise idle machine: the one-process server saturates a
        core, or server + database + client together saturate all of them, whichever comes first."""
        server = self.server_cpu_s / self.requests if self.requests else 0.0
        total = (self.server_cpu_s + self.db_cpu_s + self.client_cpu_s) / self.requests if self.requests else 0.0
        if not server or not total:
            return 0.0
        return min(1 / server, cores / total)


# ------------------------------------------------------------------------------------- load generators


class LoadGenerator:
    name = "?"

    def run(self, target: Target, *, connections: int, seconds: float, rate: float = 0.0) -> LoadResult:
        """Closed loop, or with `rate` (requests per second in all) open loop."""
        raise NotImplementedError


_WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, " ..
    "\\"max_us\\": %d, \\"errors\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.status + e.timeout))
end
"""


class Wrk(LoadGenerator):
    """wrk with one thread: the cheapest client there is, leaving the most CPU to the server."""

    name = "wrk -t1"

    def __init__(self, executable: str, threads: int = 1):
        self.executable = executable
        self.threads = threads
        self.name = f"wrk -t{threads}"
        with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-report-", delete=False) as handle:
            handle.write(_WRK_REPORT)
        self.script = handle.name
        atexit.register(lambda: Path(self.script).unlink(missing_ok=True))

    def run(self, target: Target, *, connections: int, seconds: float, rate: float = 0.0) -> LoadResult:
        if rate:
            raise ValueError("wrk runs closed loop only: use loadgen.py (PythonLoadGenerator) for a fixed rate")
        argv = [self.executable, f"-t{self.threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                "--timeout", "10s", "-s", self.script]
        for name, value in target.headers.items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(target.url)
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no report:\n{out}")
        data = json.loads(line[len("WRKJSON "):])
        return LoadResult(
            target=target.name, requests=data["requests"], seconds=data["duration_us"] / 1e6,
            p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
            max_ms=data["max_us"] / 1000, errors=data["errors"], generator=self.name,
        )


class PythonLoadGenerator(LoadGenerator):
    """loadgen.py in its own process (uvloop, raw keep-alive sockets): the fallback without wrk."""

    name = "loadgen.py (uvloop raw sockets)"

    def run(self, target: Target, *, connections: int, seconds: float, rate: float = 0.0) -> LoadResult:
        argv = [sys.executable, str(HERE / "loadgen.py"), "--url", target.url,
                "--connections", str(connections), "--seconds", str(seconds), "--rate", str(rate)]
        for name, value in target.headers.items():
            argv += ["--header", f"{name}: {value}"]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        data = json.loads(out.strip().splitlines()[-1])
        return LoadResult(
            target=target.name, requests=data["requests"], seconds=data["seconds"], p50_ms=data["p50_ms"],
            p90_ms=data["p90_ms"], p99_ms=data["p99_ms"], max_ms=data["max_ms"], errors=data["errors"],
            generator=self.name,
        )


def load_generator(kind: str = "auto") -> LoadGenerator:
    wrk = shutil.which("wrk")
    if kind == "wrk" or (kind == "auto" and wrk):
        if not wrk:
            raise SystemExit("wrk is not installed (apt-get install -y wrk), use --loadgen python")
        return Wrk(wrk)
    return PythonLoadGenerator()


# ------------------------------------------------------------------------------------------------ runs


@dataclass
class RunConfig:
    connections: int = 32
    seconds: float = 10.0
    warmup_seconds: float = 3.0
    rounds: int = 1
    database: str | None = None  # the scratch database's name, to account its backends' CPU time
    quiet_below: float = 0.10  # before each run, wait until the idle machine is busier than this share ...
    quiet_wait_seconds: float = 60.0  # ... at most this long
    rate: float = 0.0  # open loop at this many requests per second in all (loadgen.py only); 0: closed loop


def measure(generator: LoadGenerator, target: Target, config: RunConfig) -> LoadResult:
    """Wait for a quiet machine, warm up (discarded), then one measured run, with the CPU time of the server,
    the database backends and the load generator, and what everything else on the machine used meanwhile."""
    background = wait_for_quiet(config.quiet_below, config.quiet_wait_seconds)
    if background > config.quiet_below:
        print(f"  note: the machine never got quiet ({background:.0%} of all cores busy without us); "
              "measuring anyway", flush=True)
    if config.warmup_seconds > 0:
        generator.run(target, connections=config.connections, seconds=config.warmup_seconds, rate=config.rate)
    log_offset = target.server.log_size()
    cpu_before = target.server.cpu_seconds()
    db_before = postgres_backends_cpu_seconds(config.database) if config.database else 0.0
    client_before = children_cpu_seconds()
    busy_before, total_before = machine_cpu_ticks()
    result = generator.run(target, connections=config.connections, seconds=config.seconds, rate=config.rate)
    busy_after, total_after = machine_cpu_ticks()
    result.server_cpu_s = target.server.cpu_seconds() - cpu_before
    result.db_cpu_s = postgres_backends_cpu_seconds(config.database) - db_before if config.database else 0.0
    result.client_cpu_s = children_cpu_seconds() - client_before
    result.machine_busy = (busy_after - busy_before) / max(1, total_after - total_before)
    ours = result.server_cpu_s + result.db_cpu_s + result.client_cpu_s
    result.other_cores = max(0.0, ((busy_after - busy_before) / CLK_TCK - ours) / max(result.seconds, 1e-9))
    logged = target.server.log_lines_since(log_offset)
    if logged:
        print(f"  note: {target.server.name} wrote {logged} log lines during the run "
              f"({logged / max(1, result.requests):.2f} per request), the last ones:\n"
              + target.server.log_tail(3), flush=True)
    return result


def background_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy while our servers sit idle: anything else running on the machine."""
    busy_before, total_before = machine_cpu_ticks()
    time.sleep(seconds)
    busy_after, total_after = machine_cpu_ticks()
    return (busy_after - busy_before) / max(1, total_after - total_before)


def wait_for_quiet(below: float, max_seconds: float) -> float:
    """Sample the idle machine's load each second until it is under `below` or time runs out; the last sample."""
    deadline = time.monotonic() + max_seconds
    while True:
        busy = background_busy(1.0)
        if busy <= below or time.monotonic() >= deadline:
            return busy


@dataclass
class Results:
    by_target: dict[str, list[LoadResult]]
    background: list[float]  # machine busy share measured while idle, before each round and at the end

    def chosen(self, name: str) -> LoadResult:
        return median_result(self.by_target[name])


def run_all(generator: LoadGenerator, targets: Sequence[Target], config: RunConfig) -> Results:
    """Every target once per round, interleaved (A B A B ...) so slow drift hits all targets alike."""
    for target in targets:
        target.verify()
    results = Results({t.name: [] for t in targets}, [])
    for round_no in range(1, config.rounds + 1):
        results.background.append(background_busy())
        for target in targets:
            label = f"round {round_no}/{config.rounds}: " if config.rounds > 1 else ""
            print(f"{label}{target.name}: {config.warmup_seconds:g}s warm-up + {config.seconds:g}s "
                  f"at {config.connections} connections ...", flush=True)
            result = measure(generator, target, config)
            print(f"  {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms", flush=True)
            results.by_target[target.name].append(result)
    results.background.append(background_busy())
    return results


def median_result(results: Sequence[LoadResult]) -> LoadResult:
    """The round with the median throughput (a real run, so its percentiles belong together)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


def report(
    results: Results,
    targets: Sequence[Target],
    config: RunConfig,
    generator: LoadGenerator,
    *,
    ratios: Sequence[tuple[str, str, float | None]] = (),
) -> list[tuple[str, float, float | None, bool | None]]:
    """Print the table and the ratios (numerator ÷ denominator throughput, with an optional goal).

    With several rounds, a ratio is the median of the per-round ratios: the two runs of one round are
    minutes apart at most, so background load on a shared machine cancels out better than across rounds.
    """
    print()
    print(f"cores: {os.cpu_count()}   load generator: {generator.name}   connections: {config.connections}   "
          f"duration: {config.seconds:g}s (+{config.warmup_seconds:g}s warm-up)   rounds: {config.rounds}")
    background = max(results.background) if results.background else 0.0
    print(f"background load while idle: {'/'.join(f'{b:.0%}' for b in results.background)} of all cores"
          + ("   WARNING: something else is using the CPU; absolute figures are depressed, compare ratios"
             if background > 0.15 else ""))
    header = (f"{'target':<28} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'errors':>6} "
              f"{'│ CPU µs/req: server':>20} {'db':>5} {'client':>6} {'│ others':>8}")
    print(header)
    print("-" * len(header))
    for target in targets:
        r = results.chosen(target.name)
        print(f"{target.name:<28} {r.rps:>8,.0f} {r.p50_ms:>7.2f} {r.p90_ms:>7.2f} {r.p99_ms:>7.2f} {r.errors:>6} "
              f"{r.server_cpu_us_per_request:>20.0f} {r.per_request_us(r.db_cpu_s):>5.0f} "
              f"{r.per_request_us(r.client_cpu_s):>6.0f} {r.other_cores:>6.2f}{' *' if r.disturbed else '  '}")
    print("(CPU µs/req: the server process, the PostgreSQL backends of the scratch database, the load generator."
          "\n others: cores' worth of CPU that other processes on the machine used during the run;"
          f" * more than {DISTURBED_CORES:g}: a disturbed run)")
    if config.rounds > 1:
        print("(the median round of each target; every round's req/s: "
              + "; ".join(f"{name} " + "/".join(f"{r.rps:,.0f}" for r in rs) for name, rs in results.by_target.items())
              + ")")
    notes = [t for t in targets if t.note]
    if notes:
        print()
        for target in notes:
            print(f"  {target.name}: {target.note}")
    outcomes = []
    if ratios:
        print()
    for numerator, denominator, goal in ratios:
        per_round = [
            n.rps / d.rps if d.rps else float("nan")
            for n, d in zip(results.by_target[numerator], results.by_target[denominator])
        ]
        ratio = statistics.median(per_round)
        met = None if goal is None else ratio >= goal
        verdict = "" if goal is None else f"   goal ≥ {goal:g}: {'MET' if met else 'NOT MET'}"
        rounds = f"   (rounds: {', '.join(f'{r:.2f}' for r in per_round)})" if len(per_round) > 1 else ""
        print(f"ratio {numerator} ÷ {denominator}: {ratio:.2f}{verdict}{rounds}")
        estimates = [
            n.cpu_bound_rps(CORES) / d.cpu_bound_rps(CORES) if d.cpu_bound_rps(CORES) else float("nan")
            for n, d in zip(results.by_target[numerator], results.by_target[denominator])
        ]
        disturbed = any(r.disturbed for r in (*results.by_target[numerator], *results.by_target[denominator]))
        print(f"      from CPU cost per request (idle-machine estimate): {statistics.median(estimates):.2f}"
              + ("   (a run was disturbed by other processes: trust this estimate more than the ratio)"
                 if disturbed else ""))
        outcomes.append((f"{numerator} / {denominator}", ratio, goal, met))
    return outcomes


def write_json(path: Path, results: Results, config: RunConfig, generator: LoadGenerator,
               ratios: Sequence[tuple[str, float, float | None, bool | None]]) -> None:
    document = {
        "cores": os.cpu_count(),
        "generator": generator.name,
        "config": config.__dict__,
        "background_busy": results.background,
        "results": {
            name: [{**r.__dict__, "rps": r.rps, "server_cpu_us_per_request": r.server_cpu_us_per_request,
                    "db_cpu_us_per_request": r.per_request_us(r.db_cpu_s),
                    "client_cpu_us_per_request": r.per_request_us(r.client_cpu_s)} for r in rs]
            for name, rs in results.by_target.items()
        },
        "ratios": [{"ratio": n, "value": v, "goal": g, "met": m} for n, v, g, m in ratios],
        "median_rps": {name: statistics.median(r.rps for r in rs) for name, rs in results.by_target.items()},
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
