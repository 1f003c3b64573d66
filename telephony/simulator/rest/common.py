"""What every REST handler shares: Twilio's error shape, auth, paging, form parsing."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from telephony.simulator.clock import rfc2822
from telephony.simulator.exchange import Exchange

logger = logging.getLogger(__name__)

EXCHANGE = web.AppKey("exchange", Exchange)
API_PREFIX = "/2010-04-01/Accounts/{account}"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
PUBLIC_MEDIA_ROUTE = "recording-media"
SIMULATOR_PREFIX = "/Simulator/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        body = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        return web.json_response(body, status=self.status, headers=headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, 20404, f"The requested resource {what} was not found")


def exchange_of(request: web.Request) -> Exchange:
    return request.app[EXCHANGE]


def stamp(moment: datetime | None) -> str | None:
    return rfc2822(moment) if moment else None


def account_path(exchange: Exchange, rest: str) -> str:
    return f"/2010-04-01/Accounts/{exchange.account_sid}/{rest}"


def page(request: web.Request, key: str, items: list[dict]) -> dict:
    """Twilio's list envelope; the SDK follows `next_page_uri`."""
    query = request.query
    number = max(int(query.get("Page", 0)), 0)
    size = min(max(int(query.get("PageSize", 50)), 1), 1000)
    filters = [(k, v) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")]

    def uri(index: int) -> str:
        return f"{request.path}?{urlencode([*filters, ('PageSize', size), ('Page', index)])}"

    start = number * size
    chunk = items[start : start + size]
    return {
        key: chunk,
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1) if start + size < len(items) else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1) if number > 0 else None,
        "start": start,
        "uri": uri(number),
    }


def form_bool(form: MultiMapping[str], name: str, default: bool | None = None) -> bool | None:
    value = form.get(name)
    if value is None or value == "":
        return default
    return str(value).strip().lower() == "true"


def form_events(form: MultiMapping[str], name: str, default: frozenset[str]) -> frozenset[str]:
    """Repeated parameters (the SDK's lists), each possibly space-separated as in TwiML."""
    events = {event for value in form.getall(name, []) for event in str(value).split()}
    return frozenset(events) or default


def form_method(form: MultiMapping[str], name: str, default: str = "POST") -> str:
    method = str(form.get(name) or default).upper()
    if method not in ("GET", "POST"):
        raise ApiError(400, 21208, f"{name} must be GET or POST")
    return method


def form_int(form: MultiMapping[str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(form.get(name) or default)
    except ValueError as error:
        raise ApiError(400, 21206, f"{name} must be a number") from error
    return min(max(value, low), high)


def check_to(to: str | None) -> str:
    if not to:
        raise ApiError(400, 21201, "No 'To' number is specified")
    if to.startswith("sip:"):
        raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to} (SIP is not simulated)")
    if to.startswith("client:") and len(to) > len("client:"):
        return to
    if E164.match(to):
        return to
    raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")


def check_from(from_: str | None) -> str:
    if not from_:
        raise ApiError(400, 21213, "No 'From' number is specified")
    if E164.match(from_) or (from_.startswith("client:") and len(from_) > len("client:")):
        return from_
    raise ApiError(400, 21212, f"Invalid 'From' Phone Number: {from_}")


def is_public(request: web.Request) -> bool:
    """Recording media is served without auth, as Twilio does unless told otherwise."""
    return request.match_info.route.name == PUBLIC_MEDIA_ROUTE


def is_simulator_control(request: web.Request) -> bool:
    """The simulator's own API (not Twilio's): authenticated, but never given injected faults."""
    return request.path.startswith(SIMULATOR_PREFIX)


def _credentials_ok(exchange: Exchange, header: str | None) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    config = exchange.config
    expected = config.auth_token if user == config.account_sid else config.api_keys.get(user)
    return expected is not None and hmac.compare_digest(secret, expected)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as error:
        if error.status == 404:
            return not_found(request.path).response()
        return ApiError(error.status, 20000 + error.status, error.reason).response()
    except Exception as error:
        logger.exception("simulator REST handler failed")
        exchange_of(request).truth.add_error(None, f"simulator REST error: {error!r}")
        return ApiError(500, 20500, "Internal Server Error").response()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_public(request):
        return await handler(request)
    exchange = exchange_of(request)
    if not _credentials_ok(exchange, request.headers.get("Authorization")):
        challenge = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
        return ApiError(401, 20003, "Authenticate").response(challenge)
    account = request.match_info.get("account")
    if account is not None and account != exchange.account_sid:
        raise not_found(request.path)
    return await handler(request)
