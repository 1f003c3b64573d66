"""Simulator-only API (not Twilio's): interactive softphones a person answers from a browser.

    POST   /Simulator/Devices/{identity}/Register   form TTL (wall seconds, default 60)
    GET    /Simulator/Devices/{identity}            the registration
    DELETE /Simulator/Devices/{identity}            unregister
    GET    /Simulator/Devices/{identity}/Calls      legs ringing or connected to the identity
    POST   /Simulator/Devices/{identity}/Answer     form CallSid (optional; default the oldest)
    POST   /Simulator/Devices/{identity}/Reject     form CallSid (optional; default the oldest)
    POST   /Simulator/Devices/{identity}/Hangup     form CallSid (optional; default the newest
                                                    answered leg): the person hangs up

Same Basic auth as the Twilio API; never subject to injected faults. Errors use Twilio's shape.
"""

from __future__ import annotations

from aiohttp import web

from telephony.simulator.devices import ANSWER, DEFAULT_TTL_SECONDS, REJECT
from telephony.simulator.legs import SimCall
from telephony.simulator.rest.common import ApiError, exchange_of

routes = web.RouteTableDef()
DEVICE = "/Simulator/Devices/{identity}"


def device_call_json(request: web.Request, leg: SimCall) -> dict:
    devices = exchange_of(request).devices
    return {
        "sid": leg.sid,
        "status": leg.status,
        "direction": leg.direction,
        "from": leg.from_,
        "to": leg.to,
        "parent_call_sid": leg.parent_call_sid,
        "conference_name": devices.conference_of(leg),
        "awaiting_decision": devices.awaiting_decision(leg),
    }


def registration_json(request: web.Request, identity: str) -> dict:
    left = exchange_of(request).devices.expires_in(identity)
    return {"identity": identity, "interactive": left > 0, "expires_in": round(left, 1)}


async def _ttl(request: web.Request) -> float:
    form = await request.post()
    value = form.get("TTL") or request.query.get("TTL")
    if not value:
        return DEFAULT_TTL_SECONDS
    try:
        ttl = float(value)
    except ValueError as error:
        raise ApiError(400, 21206, "TTL must be a number of seconds") from error
    if ttl <= 0:
        raise ApiError(400, 21206, "TTL must be positive")
    return ttl


@routes.post(DEVICE + "/Register")
async def register(request: web.Request) -> web.Response:
    identity = request.match_info["identity"]
    exchange_of(request).devices.register(identity, await _ttl(request))
    return web.json_response(registration_json(request, identity))


@routes.get(DEVICE)
async def fetch(request: web.Request) -> web.Response:
    return web.json_response(registration_json(request, request.match_info["identity"]))


@routes.delete(DEVICE)
async def unregister(request: web.Request) -> web.Response:
    exchange_of(request).devices.unregister(request.match_info["identity"])
    return web.Response(status=204)


@routes.get(DEVICE + "/Calls")
async def calls(request: web.Request) -> web.Response:
    identity = request.match_info["identity"]
    legs = exchange_of(request).devices.live_legs(identity)
    return web.json_response(
        {"identity": identity, "calls": [device_call_json(request, leg) for leg in legs]}
    )


async def _decide(request: web.Request, decision: str) -> web.Response:
    identity = request.match_info["identity"]
    form = await request.post()
    leg = exchange_of(request).devices.decide(identity, decision, form.get("CallSid") or None)
    if leg is None:
        raise ApiError(404, 20404, f"No call is ringing client:{identity} for a decision")
    return web.json_response(device_call_json(request, leg))


@routes.post(DEVICE + "/Answer")
async def answer(request: web.Request) -> web.Response:
    return await _decide(request, ANSWER)


@routes.post(DEVICE + "/Reject")
async def reject(request: web.Request) -> web.Response:
    return await _decide(request, REJECT)


@routes.post(DEVICE + "/Hangup")
async def hang_up(request: web.Request) -> web.Response:
    identity = request.match_info["identity"]
    form = await request.post()
    leg = exchange_of(request).devices.hang_up(identity, form.get("CallSid") or None)
    if leg is None:
        raise ApiError(404, 20404, f"No call is connected to client:{identity}")
    return web.json_response(device_call_json(request, leg))
