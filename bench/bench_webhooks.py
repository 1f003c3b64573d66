"""Signed status callbacks per second under the production server setup, side by side with a
bare Django view answering fixed TwiML on the same server (target: ≥ 0.5 of its throughput).

gunicorn serves callcenter.wsgi with settings.production (bench/settings_webhooks.py only adds
the bare view's URL) against the runner's database and Redis. An asyncio + aiohttp client in
this process posts precomputed requests at a fixed concurrency: Twilio-signed status callbacks,
each for a new CallSid; the same form bodies to the bare view; and the delivered callbacks
again (the duplicate path). Rounds alternate so machine noise hits every endpoint alike.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import aiohttp
from twilio.request_validator import RequestValidator

from callcenter.models import Call, CallEvent

NAME = "webhooks"
BASE_DIR = Path(__file__).resolve().parent.parent
STATUS_PATH, BARE_PATH = "/webhooks/twilio/voice/status/", "/bench/bare-twiml/"
FULL_REQUESTS, MIN_REQUESTS = 4_000, 300  # per endpoint and round, times --scale
ROUNDS, WARMUP, CONCURRENCY = 3, 100, 16
# Two workers for two cores; production's compose file logs access lines to stdout, so do we.
SERVERS = {
    "sync": ("--workers", "2"),
    "gthread": ("--workers", "2", "--worker-class", "gthread", "--threads", "4"),
}
TOKEN = "bench-webhooks-auth-token"
ACCOUNT_SID, CALLER, NUMBER = "AC" + "0" * 32, "+14155550123", "+15005550006"
FORM = "application/x-www-form-urlencoded"

Request = tuple[bytes, dict[str, str]]  # body, headers


@dataclass
class Batch:
    """One endpoint's round: wall time, latencies and outcome counts, CPU on both sides."""

    seconds: float
    latencies: list[float]
    codes: Counter
    server_cpu: float
    client_cpu: float

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds


def run(ctx) -> list[dict]:
    count = max(MIN_REQUESTS, round(FULL_REQUESTS * ctx.scale))
    rows = []
    for config, args in SERVERS.items():
        rows += _bench_server(ctx, config, args, count)
    return rows


def _bench_server(ctx, config: str, args: tuple[str, ...], count: int) -> list[dict]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # CallSids of this server's run share a random prefix: the SQL check counts exactly them.
    prefix = "CA" + secrets.token_hex(4)
    warmup = _callbacks(base, prefix, 0, WARMUP)
    rounds = [_callbacks(base, prefix, WARMUP + r * count, count) for r in range(ROUNDS)]
    ctx.log(f"{NAME}: {config}: {ROUNDS} rounds x {count:,} requests per endpoint")
    # The production shape: the web tier stores each callback and queues it; a Celery worker
    # applies it (sharing the two cores with the web tier, as it would on one machine).
    with _worker(ctx, port), _gunicorn(ctx, port, args) as master:
        batches = asyncio.run(_drive(base, master, warmup, rounds))
        rows = _summary(config, batches, count)
        rows.append(_exactly_once(config, prefix, WARMUP + ROUNDS * count))
    return rows


def _callbacks(base: str, prefix: str, start: int, count: int) -> list[Request]:
    """`count` final status callbacks of new inbound calls, signed as Twilio signs them."""
    url, validator = base + STATUS_PATH, RequestValidator(TOKEN)
    stamp = format_datetime(datetime.now(UTC))  # RFC 2822, like Twilio's Timestamp
    requests = []
    for i in range(start, start + count):
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": f"{prefix}{i:024x}",
            "CallStatus": "completed",
            "CallDuration": str(30 + i % 600),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": "3",
            "Timestamp": stamp,
            "Direction": "inbound",
            "From": CALLER,
            "To": NUMBER,
            "Caller": CALLER,
            "Called": NUMBER,
        }
        headers = {
            "Content-Type": FORM,
            "X-Twilio-Signature": validator.compute_signature(url, params),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        requests.append((urlencode(params).encode(), headers))
    return requests


async def _drive(
    base: str, master: int, warmup: list[Request], rounds: list[list[Request]]
) -> dict[str, list[Batch]]:
    """Warm up, then the rounds; the duplicate batch re-sends what its round just delivered."""
    batches: dict[str, list[Batch]] = {"bare": [], "status": [], "duplicate": []}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=30)  # a stuck server fails the run, not hangs it
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for path in (BARE_PATH, STATUS_PATH, STATUS_PATH):  # imports, pools, plans
            await _batch(session, base + path, warmup, master)
        for r, requests in enumerate(rounds):
            order = ["bare", "status", "duplicate"]
            if r % 2:  # the bare view does not always run first
                order = ["status", "duplicate", "bare"]
            for endpoint in order:
                path = BARE_PATH if endpoint == "bare" else STATUS_PATH
                batches[endpoint].append(await _batch(session, base + path, requests, master))
    return batches


async def _batch(session, url: str, requests: list[Request], master: int) -> Batch:
    latencies, codes, pending = [], Counter(), iter(requests)

    async def client() -> None:
        for body, headers in pending:  # shared iterator: each request is sent once
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    codes[response.status] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                codes[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - started)

    server_cpu, client_cpu, started = _workers_cpu(master), time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(CONCURRENCY):
            group.create_task(client())
    return Batch(
        seconds=time.perf_counter() - started,
        latencies=latencies,
        codes=codes,
        server_cpu=_workers_cpu(master) - server_cpu,
        client_cpu=time.process_time() - client_cpu,
    )


def _summary(config: str, batches: dict[str, list[Batch]], count: int) -> list[dict]:
    rps = {name: statistics.median(b.rps for b in runs) for name, runs in batches.items()}
    # Paired per round, so a slow moment of the machine counts against both endpoints.
    ratios = [s.rps / b.rps for s, b in zip(batches["status"], batches["bare"], strict=True)]
    ratio = statistics.median(ratios)
    verdict = "meets" if ratio >= 0.5 else "below"
    rows = [
        _row(f"{config}.status_over_bare", ratio, "x",
             f"{verdict} the 0.5 target; median of {ROUNDS} paired rounds",
             rounds=[round(r, 4) for r in ratios]),
        _row(f"{config}.duplicate_over_bare", rps["duplicate"] / rps["bare"], "x",
             "re-delivered callbacks (dedup path) / bare view"),
    ]  # fmt: skip
    codes: dict[str, Counter] = {}
    for name, runs in batches.items():
        latencies = sorted(t for b in runs for t in b.latencies)
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        requests = ROUNDS * count
        client_share = sum(b.client_cpu for b in runs) / sum(b.seconds for b in runs)
        rows += [
            _row(f"{config}.{name}.rps", rps[name], "req/s",
                 f"median of {ROUNDS} rounds x {count:,}, concurrency {CONCURRENCY}; "
                 f"load generator at {client_share:.0%} of a core",
                 rounds=[round(b.rps, 1) for b in runs]),
            _row(f"{config}.{name}.p50_ms", cuts[49] * 1000, "ms"),
            _row(f"{config}.{name}.p99_ms", cuts[98] * 1000, "ms"),
            _row(f"{config}.{name}.worker_cpu_ms", 1000 * sum(b.server_cpu for b in runs)
                 / requests, "ms/req", "gunicorn workers' CPU per request (PostgreSQL's not "
                 "included)"),
        ]  # fmt: skip
        codes[name] = sum((b.codes for b in runs), Counter())
    failed = sum(n for c in codes.values() for code, n in c.items() if not _is_2xx(code))
    note = "; ".join(f"{name}: {dict(c)}" for name, c in codes.items())
    rows.append(_row(f"{config}.non_2xx", failed, "count", f"must be 0; {note}"))
    return rows


def _is_2xx(code: int | str) -> bool:
    return isinstance(code, int) and 200 <= code < 300


def _exactly_once(config: str, prefix: str, expected: int, drain_seconds: float = 300) -> dict:
    """Every unique callback stored one CallEvent and, once the worker applied it, one Call;
    duplicates stored nothing."""
    deadline = time.monotonic() + drain_seconds
    while (
        Call.objects.filter(call_sid__startswith=prefix).count() < expected
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    events = CallEvent.objects.filter(call_sid__startswith=prefix, kind="status")
    stored, sids = events.count(), events.values("call_sid").distinct().count()
    calls = Call.objects.filter(call_sid__startswith=prefix).count()
    ok = stored == sids == calls == expected
    note = f"{expected:,} callbacks sent (each twice): {stored:,} events, {calls:,} calls"
    return _row(f"{config}.events_exactly_once", ok, "bool", note)


@contextmanager
def _worker(ctx, port: int) -> Iterator[None]:
    """A Celery worker on the bench's own Redis database, emptied first."""
    env = _server_env(ctx, port)
    celery = [sys.executable, "-m", "celery", "-A", "callcenter"]
    subprocess.run([*celery, "purge", "-f"], cwd=BASE_DIR, env=env, check=True,  # noqa: S603
                   capture_output=True, timeout=60)  # fmt: skip
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [*celery, "worker", "--pool", "solo", "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@contextmanager
def _gunicorn(ctx, port: int, args: tuple[str, ...]) -> Iterator[int]:
    """The production server on `port`, healthy; yields the master's pid, always stops it."""
    command = [sys.executable, "-m", "gunicorn", "callcenter.wsgi:application",
               "--bind", f"127.0.0.1:{port}", *args, "--access-logfile", "-"]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=BASE_DIR, env=_server_env(ctx, port), stdout=subprocess.DEVNULL,
            stderr=log,
        )  # fmt: skip
        try:
            _wait_ready(server, port, log)
            yield server.pid
        finally:
            server.terminate()  # SIGTERM: gunicorn stops its workers gracefully
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _server_env(ctx, port: int) -> dict[str, str]:
    """A clean environment: production settings see only what a deployment would set (not
    the runner's DATABASE_POOL=0, so the pool is on, as in production)."""
    db = ctx.connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    passed = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **passed,
        "DJANGO_SETTINGS_MODULE": "bench.settings_webhooks",
        "DJANGO_SECRET_KEY": "bench-webhooks-" + secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"postgres://{credentials}@{host}/{db['NAME']}",
        # Its own Redis database: the worker's queue is purged at the start of each server.
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2"),
        "TELEPHONY_MODE": "simulated",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
    }


def _wait_ready(server: subprocess.Popen, port: int, log, timeout: float = 60) -> None:
    """/healthz answers (workers booted), then /readyz (the database and Redis answer)."""
    deadline = time.monotonic() + timeout
    for path in ("/healthz", "/readyz"):
        while True:
            if server.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass  # not listening yet, or 503 while a service is still coming up
            if time.monotonic() > deadline:
                raise TimeoutError(f"gunicorn did not answer {path} within {timeout:.0f}s")
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _workers_cpu(master: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master's worker processes."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state, ppid, …
        if int(fields[1]) == master:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _row(metric: str, value, unit: str, note: str = "", **extra) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"benchmark": NAME, "metric": metric, "value": value, "unit": unit, "note": note,
            **extra}  # fmt: skip
