"""Realtime delivery (issue 5): commit-to-client latency with 500 connected WebSocket clients
over the Redis channel layer, side by side with 10 clients, and the server's memory per idle
connection at 2,000 connections (target: ≤ 50 KB).

uvicorn serves the real ASGI app (callcenter.asgi with settings.production, as docker/'s `ws`
service runs it) in a subprocess, on the runner's database and on Redis under a key prefix of
its own. The clients are `websockets` connections in this process, each logged in with a
session of its own user and sending the Origin and the compression offer a browser sends.

Latency: a publisher thread commits `realtime.publish.publish_to_user` events at a fixed rate,
one transaction each, spread over the connected users. Each is timed from an on_commit hook
registered just before publish's own (so: right after COMMIT, before the push is handed to the
sender thread) to its frame's arrival at the client. Rounds alternate between 10 and 500
clients at the same event rate, so only the number of connections differs between the arms.

Memory: a fresh server is warmed up with a few connections (closed again), then 2,000 idle
connections are opened in steps; VmRSS of the uvicorn process before, at each step and after
they close. Twice, on two fresh servers: with clients offering permessage-deflate, as browsers
do (the headline), and without, which shows what the compression contexts cost.

Each server's log is searched for exceptions, and its stop is timed: SIGTERM, then SIGKILL
after 10 s, as `docker stop` does.

Alone, on a database of its own (so it can run while the runner uses switchboard_bench):
`python -m bench.bench_realtime [--scale 0.05]` writes bench/results/realtime.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.servers import wait_ready
from realtime import transport

NAME = "realtime"
DATABASE = "switchboard_bench_rt"  # standalone runs only; under the runner, the runner's
BASE_DIR = Path(__file__).resolve().parent.parent
FEW, MANY, IDLE = 10, 500, 2_000  # clients; MANY and IDLE times --scale
EVENTS, RATE, ROUNDS = 1_000, 100, 3  # events per arm and round (times --scale), events/s
WARMUP_EVENTS, CONNECT_CONCURRENCY, MEMORY_STEPS = 50, 50, 4
SETTLE, DRAIN = 2.0, 10.0  # seconds: after (dis)connecting; for the last frames to arrive
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL, as `docker stop` gives
EVENT_TYPE = "bench.ping"


@dataclass
class Tally:
    """What the clients saw, keyed by the event's `k` (the clock is this process's)."""

    received: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0
    dropped: int = 0  # connections the server closed on us

    def frame(self, key: int, at: float) -> None:
        if key in self.received:
            self.duplicates += 1
        else:
            self.received[key] = at


@dataclass
class Client:
    """One browser tab: reconnects with `after=` the last seq it saw, as the dashboard does."""

    user_id: int
    session_key: str
    compression: str | None  # "deflate": offered as browsers offer it
    last_seq: int = 0
    ws: ClientConnection | None = None
    reader: asyncio.Task | None = None

    @property
    def connected(self) -> bool:
        return self.reader is not None and not self.reader.done()

    async def open(self, port: int, tally: Tally) -> None:
        await self.close()  # what is left of a connection the server dropped
        self.ws = await connect(
            f"ws://127.0.0.1:{port}/ws/?after={self.last_seq}",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={self.session_key}"},
            compression=self.compression,
            ping_interval=None,  # idle: only uvicorn's own pings (every 20 s) cross the wire
            open_timeout=60,
            proxy=None,
        )
        while self._take(await self.ws.recv(), tally)["type"] != "ready":
            pass  # a replay comes before `ready`
        self.reader = asyncio.create_task(self._read(self.ws, tally))

    async def close(self) -> None:
        ws, reader, self.ws, self.reader = self.ws, self.reader, None, None
        if ws is not None:
            await ws.close()
        if reader is not None:
            await reader

    async def _read(self, ws: ClientConnection, tally: Tally) -> None:
        try:
            async for message in ws:
                self._take(message, tally)
        except ConnectionClosed:  # not by us: the server dropped the socket
            tally.dropped += 1

    def _take(self, message: str, tally: Tally) -> dict:
        at = time.perf_counter()  # before parsing: the frame is here
        frame = json.loads(message)
        if frame["type"] in ("ready", "resync"):
            self.last_seq = frame["data"]["last_seq"]
        elif "seq" in frame:
            self.last_seq = max(self.last_seq, frame["seq"])
        if frame["type"] == EVENT_TYPE:
            tally.frame(frame["data"]["k"], at)
        return frame


@dataclass
class Server:
    pid: int
    port: int
    log: str = ""  # its stderr and stdout, once stopped
    stop_seconds: float = 0.0  # from SIGTERM to exit
    killed: bool = False  # SIGTERM did not stop it within STOP_GRACE


@dataclass
class Plan:
    """The sizes for --scale; at small scales the pauses shrink too (smoke runs)."""

    many: int
    idle: int
    events: int
    settle: float

    @classmethod
    def for_scale(cls, scale: float) -> Plan:
        return cls(
            many=max(2 * FEW, round(MANY * scale)),
            idle=max(100, round(IDLE * scale)),
            events=max(100, round(EVENTS * scale)),
            settle=SETTLE * min(1.0, max(scale, 0.25)),
        )


def run(ctx) -> list[dict]:
    plan = Plan.for_scale(ctx.scale)
    _raise_fd_limit(plan.idle + plan.many + 1_000)  # inherited by uvicorn
    prefix = "bench-rt-" + secrets.token_hex(4)  # users, sessions and Redis keys of this run
    secret = "bench-realtime-" + secrets.token_urlsafe(48)  # signs the sessions the server reads
    # A database of its own; the server uses it for its cache and broker too.
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    env = _server_env(ctx, secret, redis_url, prefix)
    # The channel layer settings/base.py gives the server (its options aside: this process
    # only sends), so our pushes reach its consumers.
    layer = {"BACKEND": "channels_redis.core.RedisChannelLayer",
             "CONFIG": {"hosts": [redis_url], "prefix": f"{prefix}:asgi"}}  # fmt: skip
    # Three threads here share the GIL (client loop, publisher, sender): hand it over sooner
    # than every 5 ms, so a frame's arrival is not stamped late.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        with (
            override_settings(CHANNEL_LAYERS={"default": layer}),
            _users(prefix, secret, plan.idle + plan.many) as sessions,
        ):
            keys, rows = itertools.count(), []
            # Browsers offer permessage-deflate; without it, the share of its contexts shows.
            for label, compression in (("memory", "deflate"), ("memory.no_deflate", None)):
                ctx.log(f"{NAME}: {label}: {plan.idle:,} idle connections")
                with _uvicorn(env) as server:
                    clients = _clients(sessions[: plan.idle], compression)
                    memory = asyncio.run(_memory(ctx, label, plan, server, clients, keys))
                rows += _memory_rows(label, memory, plan) + _log_rows(label, server)
            ctx.log(f"{NAME}: latency: {FEW} vs {plan.many} clients, {ROUNDS} rounds x "
                    f"{plan.events:,} events")  # fmt: skip
            with _uvicorn(env) as server:
                clients = _clients(sessions[plan.idle :], "deflate")
                latency = asyncio.run(_latency(ctx, plan, server, clients, keys))
            rows += _latency_rows(latency, plan) + _log_rows("latency", server)
            transport.wait_idle()  # nothing left in flight when the layer settings go back
    finally:
        sys.setswitchinterval(switch)
        _drop_redis_keys(redis_url, prefix)
    return rows


# -- the two measurements ----------------------------------------------------------------------


async def _memory(ctx, label: str, plan: Plan, server: Server, clients: list[Client], keys) -> dict:
    tally = Tally()
    # Warm-up: imports, the thread pool, the database pool and the push path, then back to 0.
    failures = await _open(clients[:FEW], server.port, tally)
    await _deliver(clients[:FEW], list(itertools.islice(keys, WARMUP_EVENTS)), tally)
    await _close(clients[:FEW])
    await asyncio.sleep(plan.settle)
    steps = [(0, _rss_kb(server.pid), _fds(server.pid))]
    for step in range(1, MEMORY_STEPS + 1):
        target = clients[: len(clients) * step // MEMORY_STEPS]
        failures += await _open([c for c in target if c.ws is None], server.port, tally)
        await asyncio.sleep(plan.settle)
        connected = sum(c.connected for c in target)
        steps.append((connected, _rss_kb(server.pid), _fds(server.pid)))
        ctx.log(f"{NAME}: {label}: {connected:,} connections, VmRSS {steps[-1][1]:,} kB")
    await _close(clients)
    await asyncio.sleep(plan.settle)
    return {"steps": steps, "after_close": _rss_kb(server.pid), "failures": failures,
            "dropped": tally.dropped}  # fmt: skip


async def _latency(ctx, plan: Plan, server: Server, clients: list[Client], keys) -> dict:
    tally = Tally()
    arms = {"few": clients[:FEW], "many": clients}
    # Per arm, one list of latencies and one publish rate per round.
    rounds: dict[str, list[list[float]]] = {"few": [], "many": []}
    rates: dict[str, list[float]] = {"few": [], "many": []}
    lost = dict.fromkeys(arms, 0)
    failures = await _open(arms["few"], server.port, tally)
    await _deliver(arms["few"], list(itertools.islice(keys, WARMUP_EVENTS)), tally)
    for r in range(ROUNDS):
        for arm in ("few", "many") if r % 2 == 0 else ("many", "few"):
            # Connect or disconnect the others, so that exactly this arm's clients are
            # connected (reconnecting any the server dropped).
            failures += await _open([c for c in arms[arm] if not c.connected], server.port, tally)
            await _close(arms["many"][FEW:] if arm == "few" else [])
            await asyncio.sleep(plan.settle)
            batch = list(itertools.islice(keys, plan.events))
            latencies, rate = await _deliver(arms[arm], batch, tally)
            rounds[arm].append(latencies)
            rates[arm].append(rate)
            lost[arm] += len(batch) - len(latencies)
            ctx.log(f"{NAME}: round {r + 1}, {len(arms[arm])} clients: p50 "
                    f"{_ms(latencies, 50):.2f} ms, {rate:.0f} events/s, "
                    f"{len(batch) - len(latencies)} lost")  # fmt: skip
    await _close(clients)
    return {"rounds": rounds, "rates": rates, "lost": lost, "duplicates": tally.duplicates,
            "failures": failures, "dropped": tally.dropped}  # fmt: skip


async def _deliver(clients: list[Client], batch: list[int], tally: Tally):
    """Publish `batch` (event keys) to these clients' users, spread evenly in random order, and
    wait for the frames; returns the latencies of those that arrived and the publish rate."""
    targets = [clients[i % len(clients)].user_id for i in range(len(batch))]
    random.Random(batch[0]).shuffle(targets)
    started = time.perf_counter()
    # The ORM is synchronous: it must not block the clients' loop.
    committed = await asyncio.to_thread(_publish, list(zip(batch, targets, strict=True)))
    rate = len(batch) / (time.perf_counter() - started)
    deadline = time.monotonic() + DRAIN
    while time.monotonic() < deadline and any(k not in tally.received for k in batch):
        await asyncio.sleep(0.05)
    arrived = [k for k in batch if k in tally.received]
    return [tally.received[k] - committed[k] for k in arrived], rate


def _publish(pairs: list[tuple[int, int]]) -> dict[int, float]:
    """Each (key, user) in its own transaction, at RATE events/s; the commit times by key."""
    from realtime.publish import publish_to_user

    committed: dict[int, float] = {}
    start = time.perf_counter()
    try:
        for i, (key, user_id) in enumerate(pairs):
            pause = start + i / RATE - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            with transaction.atomic():
                # on_commit hooks run in order: this one first, right after COMMIT.
                transaction.on_commit(lambda k=key: committed.__setitem__(k, time.perf_counter()))
                publish_to_user(user_id, EVENT_TYPE, {"k": key})
    finally:
        connection.close()  # this worker thread's own connection
    return committed


async def _open(clients: list[Client], port: int, tally: Tally) -> list[str]:
    """Connect these clients (a bounded number of handshakes at a time); the errors."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(client: Client) -> None:
        async with gate:
            await client.open(port, tally)

    results = await asyncio.gather(*(one(c) for c in clients), return_exceptions=True)
    return [repr(r) for r in results if isinstance(r, BaseException)]


async def _close(clients: list[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients if c.ws is not None))


# -- rows --------------------------------------------------------------------------------------


def _memory_rows(label: str, memory: dict, plan: Plan) -> list[dict]:
    (_, base, base_fds), *_, (connected, full, fds) = memory["steps"]
    per_connection = (full - base) / max(connected, 1)
    half, half_rss = memory["steps"][MEMORY_STEPS // 2][:2]
    slope = (full - half_rss) / max(connected - half, 1)
    verdict = "meets" if per_connection <= 50 else "above"
    offer = "with" if label == "memory" else "without"
    return [
        _row(f"{label}.kb_per_idle_connection", per_connection, "KB",
             f"{verdict} the 50 KB target; clients {offer} permessage-deflate; (VmRSS at "
             f"{connected:,} - VmRSS at 0) / {connected:,}",
             steps=[{"connections": n, "vmrss_kb": kb, "fds": f} for n, kb, f in memory["steps"]]),
        _row(f"{label}.kb_per_connection_upper_half", slope, "KB",
             f"VmRSS slope from {half:,} to {connected:,} connections"),
        _row(f"{label}.rss_base_mb", base / 1024, "MB",
             f"uvicorn after a warm-up of {FEW} connections, all closed; {base_fds} fds"),
        _row(f"{label}.rss_full_mb", full / 1024, "MB",
             f"{connected:,} idle connections; {fds:,} fds"),
        _row(f"{label}.rss_after_close_mb", memory["after_close"] / 1024, "MB",
             "all closed again (memory the allocator keeps)"),
        _row(f"{label}.connect_failures", len(memory["failures"]) + memory["dropped"], "count",
             _failures_note(memory["failures"], memory["dropped"], plan.idle)),
    ]  # fmt: skip


def _latency_rows(latency: dict, plan: Plan) -> list[dict]:
    counts = {"few": FEW, "many": plan.many}
    rounds = latency["rounds"]
    # Each round measures both arms back to back: its ratio sees the same machine state.
    pairs = list(zip(rounds["few"], rounds["many"], strict=True))
    paired = {q: [_ms(many, q) / _ms(few, q) for few, many in pairs] for q in (50, 99)}
    slowest = min(rate for arm_rates in latency["rates"].values() for rate in arm_rates)
    saturated = (f"; the publisher fell to {slowest:.0f}/s: a saturated machine, noisy"
                 if slowest < 0.9 * RATE else "")  # fmt: skip
    rows = [
        _row(f"latency.{q_name}_ratio", statistics.median(paired[q]), "x",
             f"{q_name} with {plan.many} clients / with {FEW}; median of {ROUNDS} paired "
             f"rounds{saturated}", rounds=[round(x, 3) for x in paired[q]])
        for q, q_name in ((50, "p50"), (99, "p99"))
    ]  # fmt: skip
    for arm, per_round in rounds.items():
        pooled = [t for latencies in per_round for t in latencies]
        rows += [
            _row(f"latency.{arm}.p50_ms", _ms(pooled, 50), "ms",
                 f"{counts[arm]} clients; {len(pooled):,} events ({ROUNDS} rounds x "
                 f"{plan.events:,}), commit to client"),
            _row(f"latency.{arm}.p99_ms", _ms(pooled, 99), "ms"),
            _row(f"latency.{arm}.publish_rate", statistics.median(latency["rates"][arm]),
                 "events/s", f"median of rounds; paced at {RATE}/s, one transaction each",
                 rounds=[round(r, 1) for r in latency["rates"][arm]]),
        ]  # fmt: skip
    rows += [
        _row("latency.lost", sum(latency["lost"].values()), "count",
             f"must be 0: frames not delivered within {DRAIN:.0f} s; {latency['lost']}"),
        _row("latency.duplicates", latency["duplicates"], "count", "must be 0"),
        _row("latency.connect_failures", len(latency["failures"]) + latency["dropped"], "count",
             _failures_note(latency["failures"], latency["dropped"], plan.many)),
    ]  # fmt: skip
    return rows


def _ms(seconds: list[float], percentile: int) -> float:
    if len(seconds) < 2:
        return float("nan")
    return statistics.quantiles(seconds, n=100, method="inclusive")[percentile - 1] * 1000


def _failures_note(failures: list[str], dropped: int, total: int) -> str:
    note = f"must be 0: of {total:,} clients, {len(failures)} failed to connect, "
    note += f"the server dropped {dropped} connections"
    return note + (f"; first failure: {failures[0]}" if failures else "")


def _log_rows(phase: str, server: Server) -> list[dict]:
    """Exceptions in the server's log, by their last line (uvicorn and Django log at WARNING,
    so a healthy run prints next to nothing)."""
    errors, inside = Counter(), False
    for line in server.log.splitlines():
        if line.startswith("Traceback"):
            inside = True
        elif inside and line[:1].strip():  # the first unindented line: "module.Error: …"
            errors[line[:200]] += 1
            inside = False
    note = "must be 0" + "".join(f"; {n} x {line}" for line, n in errors.most_common(3))
    lines = server.log.splitlines()
    stop = f"SIGTERM to exit; {'killed' if server.killed else 'exited'} (grace {STOP_GRACE:.0f} s)"
    return [
        _row(f"{phase}.server_exceptions", errors.total(), "count", note,
             log_lines=len(lines), log_tail=lines[-80:]),
        _row(f"{phase}.server_stop_seconds", server.stop_seconds, "s", stop),
    ]  # fmt: skip


def _row(metric: str, value, unit: str, note: str = "", **extra) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"benchmark": NAME, "metric": metric, "value": value, "unit": unit, "note": note,
            **extra}  # fmt: skip


# -- set-up ------------------------------------------------------------------------------------


@contextmanager
def _users(prefix: str, secret: str, count: int) -> Iterator[list[tuple[int, str]]]:
    """`count` users, each logged in through a database session signed with the server's
    SECRET_KEY; yields (user id, session key) pairs and deletes them all afterwards."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=f"{prefix}-{i:05d}", password="!") for i in range(count)
    )
    expires = datetime.now(UTC) + timedelta(days=1)
    sessions = []
    with override_settings(SECRET_KEY=secret):
        for user in users:
            data = {SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"}  # fmt: skip
            key = secrets.token_hex(16)
            sessions.append(Session(session_key=key, session_data=SessionStore().encode(data),
                                    expire_date=expires))  # fmt: skip
    Session.objects.bulk_create(sessions)
    try:
        yield [(user.pk, s.session_key) for user, s in zip(users, sessions, strict=True)]
    finally:
        Session.objects.filter(session_key__in=[s.session_key for s in sessions]).delete()
        user_model.objects.filter(username__startswith=f"{prefix}-").delete()  # and their log


def _clients(sessions: list[tuple[int, str]], compression: str | None) -> list[Client]:
    return [Client(user_id, key, compression) for user_id, key in sessions]


def _server_env(ctx, secret: str, redis_url: str, prefix: str) -> dict[str, str]:
    """What docker/'s `ws` service gets: production settings from the environment."""
    db = ctx.connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    passed = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **passed,
        "DJANGO_SETTINGS_MODULE": "settings.production",
        "DJANGO_SECRET_KEY": secret,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",  # also the Origins the socket accepts
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"postgres://{credentials}@{host}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": prefix,
        "TELEPHONY_MODE": "simulated",
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def _uvicorn(env: dict[str, str]) -> Iterator[Server]:
    """`uvicorn callcenter.asgi:application` on a free port, ready; always stopped afterwards.
    One process, no reloader: its pid is the process that holds the connections."""
    port = _free_port()
    # The options of docker/compose.yml's `ws` service (no per-message deflate, a bounded
    # graceful shutdown), so the figures are those of the deployment.
    command = [sys.executable, "-m", "uvicorn", "callcenter.asgi:application",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--ws-per-message-deflate", "false",
               "--timeout-graceful-shutdown", "5"]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        server = Server(pid=process.pid, port=port)
        try:
            wait_ready(process, port, log, "uvicorn")
            yield server
        finally:
            stopping = time.monotonic()
            process.terminate()  # graceful: uvicorn waits for its connections' tasks to end
            try:
                process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                server.killed = True
            server.stop_seconds = time.monotonic() - stopping
            log.seek(0)
            server.log = log.read().decode(errors="replace")


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise RuntimeError(f"{needed:,} file descriptors needed, the hard limit is {hard:,}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _drop_redis_keys(url: str, prefix: str) -> None:
    """Groups and channel queues of this run (they would expire, groups only after a day)."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1_000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    from bench import runner

    parser = argparse.ArgumentParser(description="The realtime benchmark on its own database.")
    parser.add_argument("--scale", type=float, default=1.0, help="size factor (smoke: 0.05)")
    parser.add_argument(
        "--server-url",
        default=os.environ.get("BENCH_POSTGRES_URL", runner.DEFAULT_SERVER_URL),
        help="PostgreSQL, without a database name (env BENCH_POSTGRES_URL)",
    )
    args = parser.parse_args(argv)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    runner.recreate_database(args.server_url, DATABASE)
    ctx = runner.Context(
        connection=runner.setup_django(f"{args.server_url}/{DATABASE}"),
        scale=args.scale,
        database=DATABASE,
    )
    rows, ok = runner.run_one(ctx, NAME, __name__)
    meta = {"started_at": started_at,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "environment": runner.environment(ctx)}  # fmt: skip
    runner.RESULTS_DIR.mkdir(exist_ok=True)
    out = runner.RESULTS_DIR / NAME
    out.with_suffix(".json").write_text(
        json.dumps({**meta, "results": rows}, indent=2, default=str) + "\n"
    )
    table = runner.markdown(rows, meta)
    out.with_suffix(".md").write_text(table)
    print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
