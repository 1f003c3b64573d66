"""Queues and their Members: sizes, waiting callers, and dequeuing a caller to new TwiML."""

from __future__ import annotations

from aiohttp import web

from telephony.simulator.clock import whole_seconds
from telephony.simulator.legs import TwimlSource
from telephony.simulator.queueing import QueueMember, SimQueue
from telephony.simulator.rest.common import (
    API_PREFIX,
    ApiError,
    account_path,
    exchange_of,
    form_int,
    form_method,
    not_found,
    page,
    stamp,
)

routes = web.RouteTableDef()
MAX_QUEUE_SIZE = 5000


def queue_json(queue: SimQueue, request: web.Request) -> dict:
    exchange = exchange_of(request)
    uri = account_path(exchange, f"Queues/{queue.sid}")
    return {
        "account_sid": exchange.account_sid,
        "average_wait_time": queue.average_wait(exchange.clock.now()),
        "current_size": len(queue.members),
        "date_created": stamp(queue.date_created),
        "date_updated": stamp(queue.date_updated),
        "friendly_name": queue.friendly_name,
        "max_size": queue.max_size,
        "sid": queue.sid,
        "uri": f"{uri}.json",
        "subresource_uris": {"members": f"{uri}/Members.json"},
    }


def member_json(member: QueueMember, position: int, request: web.Request) -> dict:
    exchange = exchange_of(request)
    queue = member.queue
    return {
        "call_sid": member.call.sid,
        "date_enqueued": stamp(member.enqueued_at),
        "position": position,
        "wait_time": whole_seconds(exchange.clock.seconds_since(member.enqueued_at)),
        "queue_sid": queue.sid,
        "uri": account_path(exchange, f"Queues/{queue.sid}/Members/{member.call.sid}.json"),
    }


def _queue(request: web.Request) -> SimQueue:
    queue = exchange_of(request).queues.get(request.match_info["sid"])
    if queue is None:
        raise not_found(request.path)
    return queue


def _member(request: web.Request) -> QueueMember:
    member = _queue(request).member(request.match_info["call"])
    if member is None:
        raise not_found(request.path)
    return member


@routes.get(API_PREFIX + "/Queues.json")
async def list_queues(request: web.Request) -> web.Response:
    queues = sorted(exchange_of(request).queues.by_sid.values(), key=lambda q: q.date_created)
    return web.json_response(page(request, "queues", [queue_json(q, request) for q in queues]))


@routes.post(API_PREFIX + "/Queues.json")
async def create_queue(request: web.Request) -> web.Response:
    exchange, form = exchange_of(request), await request.post()
    name = form.get("FriendlyName")
    if not name:
        raise ApiError(400, 20001, "FriendlyName is required")
    if exchange.queues.named(name) is not None:
        raise ApiError(400, 20001, f"A queue named {name} already exists")
    max_size = form_int(form, "MaxSize", exchange.config.default_queue_max_size, 1, MAX_QUEUE_SIZE)
    return web.json_response(
        queue_json(exchange.queues.create(name, max_size), request), status=201
    )


@routes.get(API_PREFIX + "/Queues/{sid}.json")
async def fetch_queue(request: web.Request) -> web.Response:
    return web.json_response(queue_json(_queue(request), request))


@routes.post(API_PREFIX + "/Queues/{sid}.json")
async def update_queue(request: web.Request) -> web.Response:
    exchange, queue, form = exchange_of(request), _queue(request), await request.post()
    if form.get("MaxSize"):
        queue.max_size = form_int(form, "MaxSize", queue.max_size, 1, MAX_QUEUE_SIZE)
    if form.get("FriendlyName"):
        exchange.queues.rename(queue, form["FriendlyName"])
    queue.date_updated = exchange.clock.now()
    return web.json_response(queue_json(queue, request))


@routes.get(API_PREFIX + "/Queues/{sid}/Members.json")
async def list_members(request: web.Request) -> web.Response:
    queue = _queue(request)
    items = [member_json(m, i + 1, request) for i, m in enumerate(queue.members)]
    return web.json_response(page(request, "queue_members", items))


@routes.get(API_PREFIX + "/Queues/{sid}/Members/{call}.json")
async def fetch_member(request: web.Request) -> web.Response:
    member = _member(request)
    return web.json_response(member_json(member, member.queue.position(member), request))


@routes.post(API_PREFIX + "/Queues/{sid}/Members/{call}.json")
async def dequeue_member(request: web.Request) -> web.Response:
    """The waiting caller leaves the queue for the given TwiML (its <Enqueue> action hears
    QueueResult=redirected)."""
    member, form = _member(request), await request.post()
    url = form.get("Url")
    if not url:
        raise ApiError(400, 21205, "Url parameter is required")
    position = member.queue.position(member)
    member.call.redirect(TwimlSource(url=url, method=form_method(form, "Method")))
    return web.json_response(member_json(member, position, request))
