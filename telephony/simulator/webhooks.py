"""Webhooks as Twilio sends them: signed, with connection overrides, retries, and chaos."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urldefrag, urlencode

import aiohttp
from twilio.request_validator import RequestValidator

from telephony.simulator.clock import SimClock
from telephony.simulator.config import ChaosConfig
from telephony.simulator.ground_truth import GroundTruth, WebhookRecord
from telephony.simulator.sids import derived_rng

RETRY_POLICIES = frozenset({"4xx", "5xx", "ct", "rt"})
TWIML_CONTENT_TYPES = ("text/xml", "application/xml", "text/html")


@dataclass(frozen=True)
class ConnectionOverrides:
    """Twilio's defaults, overridable per URL by a fragment such as `#rc=3&rp=all&ct=2000`."""

    retry_count: int = 1
    retry_on: frozenset[str] = frozenset({"ct"})
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 15.0

    @classmethod
    def from_fragment(cls, fragment: str) -> ConnectionOverrides:
        values = dict(parse_qsl(fragment))
        policies = {p.strip() for p in values.get("rp", "ct").split(",") if p.strip()}
        if "all" in policies:
            policies = set(RETRY_POLICIES)
        defaults = cls()

        def milliseconds(key: str, default: float, low: int, high: int) -> float:
            raw = values.get(key)
            return default if raw is None else min(max(int(raw), low), high) / 1000

        return cls(
            retry_count=min(max(int(values.get("rc", defaults.retry_count)), 0), 5),
            retry_on=frozenset(policies & RETRY_POLICIES),
            connect_timeout=milliseconds("ct", defaults.connect_timeout, 100, 10000),
            read_timeout=milliseconds("rt", defaults.read_timeout, 100, 15000),
            total_timeout=milliseconds("tt", defaults.total_timeout, 100, 15000),
        )


def split_webhook_url(url: str) -> tuple[str, ConnectionOverrides]:
    """The URL Twilio requests and signs (no fragment) and the overrides the fragment carried."""
    bare, fragment = urldefrag(url)
    return bare, ConnectionOverrides.from_fragment(fragment)


@dataclass(frozen=True)
class WebhookResult:
    status: int | None
    body: str = ""
    content_type: str = ""
    failure: str | None = None  # ct | rt | 4xx | 5xx

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def is_twiml(self) -> bool:
        return self.status == 200 and self.content_type.startswith(TWIML_CONTENT_TYPES)


def _failure_of(status: int) -> str | None:
    if 400 <= status < 500:
        return "4xx"
    if status >= 500:
        return "5xx"
    return None if 200 <= status < 300 else "4xx"


def _failure_of_error(error: aiohttp.ClientError) -> str:
    """`ct` when no connection was made; `rt` once the request may have reached the server."""
    if isinstance(error, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        return "ct"
    return "rt"


class WebhookSender:
    def __init__(
        self, *, auth_token: str, clock: SimClock, truth: GroundTruth, chaos: ChaosConfig, seed: int
    ) -> None:
        self._validator = RequestValidator(auth_token)
        self._clock = clock
        self._truth = truth
        self._chaos = chaos
        self._seed = seed
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self._tails: dict[str, asyncio.Task] = {}
        self._counts: dict[str, int] = {}
        self._closing = False

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=64)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def signature(self, url: str, params: dict[str, str]) -> str:
        return self._validator.compute_signature(url, params)

    async def request(
        self,
        url: str,
        params: dict[str, str],
        *,
        method: str = "POST",
        kind: str,
        call_sid: str | None,
        token: str | None = None,
    ) -> WebhookResult:
        """One webhook, retried as the URL's overrides say, with the same signature and token."""
        assert self._session is not None, "open() the sender first"
        bare, overrides = split_webhook_url(url)
        if method == "GET":
            separator = "&" if "?" in bare else "?"
            target, body = bare + separator + urlencode(list(params.items())), None
            signature = self.signature(target, {})
        else:
            target, body = bare, urlencode(list(params.items()))
            signature = self.signature(target, params)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": token or str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        timeout = aiohttp.ClientTimeout(
            total=overrides.total_timeout,
            sock_connect=overrides.connect_timeout,
            sock_read=overrides.read_timeout,
        )
        result = WebhookResult(status=None, failure="ct")
        for attempt in range(1, overrides.retry_count + 2):
            result = await self._attempt(method, target, body, headers, timeout)
            self._truth.add_webhook(
                WebhookRecord(
                    kind=kind,
                    method=method,
                    url=target,
                    call_sid=call_sid,
                    status=result.status,
                    attempt=attempt,
                    failure=result.failure,
                    at=self._clock.now(),
                    params=dict(params),
                )
            )
            if result.failure is None or result.failure not in overrides.retry_on:
                break
        return result

    async def _attempt(self, method, target, body, headers, timeout) -> WebhookResult:
        assert self._session is not None
        try:
            async with self._session.request(
                method, target, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                text = await response.text(errors="replace")
                return WebhookResult(
                    status=response.status,
                    body=text,
                    content_type=response.content_type or "",
                    failure=_failure_of(response.status),
                )
        except aiohttp.ClientError as error:
            return WebhookResult(status=None, failure=_failure_of_error(error))
        except TimeoutError:
            return WebhookResult(status=None, failure="rt")

    def send_callback(
        self,
        url: str,
        params: dict[str, str],
        *,
        method: str = "POST",
        kind: str,
        call_sid: str | None,
        order_key: str,
    ) -> None:
        """A fire-and-forget callback, in order per `order_key` unless chaos delays it."""
        if self._closing:
            return
        index = self._counts.get(order_key, 0)
        self._counts[order_key] = index + 1
        rng = derived_rng(self._seed, "chaos", order_key, index)
        delayed = rng.random() < self._chaos.delay_probability
        delay = rng.uniform(0.5, self._chaos.max_delay_seconds) if delayed else 0.0
        duplicate_after = (
            rng.uniform(0.0, self._chaos.max_delay_seconds)
            if rng.random() < self._chaos.duplicate_probability
            else None
        )
        previous = None if delayed else self._tails.get(order_key)
        delivery = self._deliver(
            previous, delay, duplicate_after, url, params, method, kind, call_sid
        )
        task = asyncio.get_running_loop().create_task(delivery)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if not delayed:
            self._tails[order_key] = task
            task.add_done_callback(lambda done: self._forget_tail(order_key, done))

    def _forget_tail(self, order_key: str, task: asyncio.Task) -> None:
        if self._tails.get(order_key) is task:
            del self._tails[order_key]

    async def _deliver(
        self, previous, delay, duplicate_after, url, params, method, kind, call_sid
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await self._clock.sleep(delay)
        token = str(uuid.uuid4())
        await self.request(url, params, method=method, kind=kind, call_sid=call_sid, token=token)
        if duplicate_after is not None:
            # Twilio's own retries repeat the request byte for byte, token included.
            await self._clock.sleep(duplicate_after)
            await self.request(
                url, params, method=method, kind=kind, call_sid=call_sid, token=token
            )

    async def drain(self) -> None:
        """Wait until every callback sent so far (and any it chains to) has been delivered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
