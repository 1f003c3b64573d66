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
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode

import aiohttp
from twilio.request_validator import RequestValidator

from bench.servers import wait_ready
from callcenter.models import Call, CallEvent

NAME = "webhooks"
BASE_DIR = Path(__file__).resolve().parent.parent
STATUS_PATH, BARE_PATH = "/webhooks/twilio/voice/status/", "/bench/bare-twiml/"
FULL_REQUESTS, MIN_REQUESTS = 4_000, 300  # per endpoint and round, times --scale
ROUNDS, WARMUP, CONCURRENCY = 3, 100, 16
STEADY_RATE, STEADY_SECONDS = 50, 6  # callbacks/s: a busy center's rate, not saturation
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
    with _worker(ctx, port) as worker, _gunicorn(ctx, port, args) as master:
        celery_cpu = _cpu(worker)
        batches, lags = asyncio.run(_drive(base, master, warmup, rounds, prefix))
        celery_cpu = _cpu(worker) - celery_cpu
        rows = _summary(config, batches, count)
        rows += _apply_rows(config, lags, celery_cpu, ROUNDS * count)
        rows.append(_exactly_once(config, prefix, WARMUP + ROUNDS * count))
        steady = _callbacks(base, prefix, WARMUP + ROUNDS * count, STEADY_RATE * STEADY_SECONDS)
        rows += _steady_rows(config, asyncio.run(_steady(base, steady)))
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
    base: str, master: int, warmup: list[Request], rounds: list[list[Request]], prefix: str
) -> tuple[dict[str, list[Batch]], list[float]]:
    """Warm up, then the rounds; the duplicate batch re-sends what its round just delivered.
    After each status batch, waits until the worker has applied every callback delivered so
    far (the apply lag): a backlog never spills into the next batch's measurement."""
    batches: dict[str, list[Batch]] = {"bare": [], "status": [], "duplicate": []}
    lags, delivered = [], len(warmup)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=30)  # a stuck server fails the run, not hangs it
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for path in (BARE_PATH, STATUS_PATH, STATUS_PATH):  # imports, pools, plans
            await _batch(session, base + path, warmup, master)
        await asyncio.to_thread(_applied_after, prefix, delivered)
        for r, requests in enumerate(rounds):
            order = ["bare", "status", "duplicate"]
            if r % 2:  # the bare view does not always run first
                order = ["status", "duplicate", "bare"]
            for endpoint in order:
                path = BARE_PATH if endpoint == "bare" else STATUS_PATH
                batches[endpoint].append(await _batch(session, base + path, requests, master))
                if endpoint == "status":
                    delivered += len(requests)
                    lags.append(await asyncio.to_thread(_applied_after, prefix, delivered))
    return batches, lags


async def _steady(base: str, requests: list[Request]) -> list[float]:
    """Seconds from each callback's 204 until it was applied, at STEADY_RATE a second (open
    loop); a poller notes when each callback's Call appears."""
    answered, seen, done = {}, {}, threading.Event()
    sids = [parse_qs(body.decode())["CallSid"][0] for body, _ in requests]

    def poll() -> None:
        from django.db import connection

        try:
            while not done.is_set() or len(seen) < len(sids):
                found = Call.objects.filter(call_sid__in=sids).values_list("call_sid", flat=True)
                now = time.perf_counter()
                for sid in found:
                    seen.setdefault(sid, now)
                if time.perf_counter() - started > STEADY_SECONDS + 60:
                    return
                time.sleep(0.005)
        finally:
            connection.close()

    async def post(session, sid: str, body: bytes, headers: dict) -> None:
        try:
            async with session.post(base + STATUS_PATH, data=body, headers=headers) as response:
                await response.read()
                if _is_2xx(response.status):
                    answered[sid] = time.perf_counter()
        except (aiohttp.ClientError, TimeoutError):
            pass  # not counted: the note says how many were

    started = time.perf_counter()
    poller = asyncio.create_task(asyncio.to_thread(poll))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session, asyncio.TaskGroup() as group:
        for i, (sid, (body, headers)) in enumerate(zip(sids, requests, strict=True)):
            await asyncio.sleep(max(0.0, started + i / STEADY_RATE - time.perf_counter()))
            group.create_task(post(session, sid, body, headers))
    done.set()
    await poller
    return [max(0.0, seen[sid] - answered[sid]) for sid in sids if sid in seen and sid in answered]


def _steady_rows(config: str, latencies: list[float]) -> list[dict]:
    count = STEADY_RATE * STEADY_SECONDS
    cuts = statistics.quantiles(sorted(latencies or [0, 0]), n=100, method="inclusive")
    note = (
        f"{STEADY_RATE} callbacks/s for {STEADY_SECONDS} s: from the 204 until the worker "
        f"applied it ({len(latencies)} of {count} answered 2xx and seen applied)"
    )
    return [
        _row(f"{config}.steady.apply_p50_ms", 1000 * cuts[49], "ms", note),
        _row(f"{config}.steady.apply_p99_ms", 1000 * cuts[98], "ms", note),
    ]  # fmt: skip


def _applied_after(prefix: str, expected: int, timeout: float = 120) -> float:
    """Seconds until `expected` callbacks of this run are applied (their Call exists)."""
    from django.db import connection

    started = time.perf_counter()
    try:
        while (
            Call.objects.filter(call_sid__startswith=prefix).count() < expected
            and time.perf_counter() - started < timeout
        ):
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        connection.close()  # a thread of asyncio's executor


def _apply_rows(config: str, lags: list[float], celery_cpu: float, callbacks: int) -> list[dict]:
    return [
        _row(f"{config}.status.apply_lag_ms", 1000 * max(lags), "ms",
             "longest wait, after a status batch's last answer, until every callback it "
             "delivered was applied (the worker's backlog)",
             rounds=[round(1000 * lag, 1) for lag in lags]),
        _row(f"{config}.status.celery_cpu_ms", 1000 * celery_cpu / callbacks, "ms/callback",
             "the Celery worker's CPU over the rounds per unique callback"),
    ]  # fmt: skip


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
def _worker(ctx, port: int) -> Iterator[int]:
    """A Celery worker on the bench's own Redis database, emptied first; yields its pid."""
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
        yield worker.pid
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
            wait_ready(server, port, log, "gunicorn")
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


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(metric: str, value, unit: str, note: str = "", **extra) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"benchmark": NAME, "metric": metric, "value": value, "unit": unit, "note": note,
            **extra}  # fmt: skip
