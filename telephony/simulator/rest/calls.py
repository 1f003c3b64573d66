"""Calls and their Recordings: create, list, fetch, redirect, hang up, record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp import web

from telephony.simulator import recordings
from telephony.simulator.legs import API_VERSION, SimCall, StatusSubscription, TwimlSource
from telephony.simulator.rest.common import (
    API_PREFIX,
    PUBLIC_MEDIA_ROUTE,
    ApiError,
    account_path,
    check_from,
    check_to,
    exchange_of,
    form_events,
    form_int,
    form_method,
    not_found,
    page,
    stamp,
)
from telephony.simulator.twiml import TwimlError, parse_twiml

routes = web.RouteTableDef()
CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})


def call_json(call: SimCall, status: str | None = None) -> dict:
    exchange = call.exchange
    uri = account_path(exchange, f"Calls/{call.sid}")
    return {
        "sid": call.sid,
        "account_sid": exchange.account_sid,
        "parent_call_sid": call.parent_call_sid,
        "date_created": stamp(call.date_created),
        "date_updated": stamp(call.date_updated),
        "to": call.to,
        "to_formatted": call.to,
        "from": call.from_,
        "from_formatted": call.from_,
        "phone_number_sid": None,
        "status": status or call.status,
        "start_time": stamp(call.start_time),
        "end_time": stamp(call.end_time),
        "duration": str(call.duration_seconds) if call.is_over else None,
        "price": None,
        "price_unit": "USD",
        "direction": call.direction,
        "answered_by": None,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": f"{uri}.json",
        "subresource_uris": {"recordings": f"{uri}/Recordings.json"},
    }


def _call(request: web.Request) -> SimCall:
    call = exchange_of(request).calls.get(request.match_info["sid"])
    if call is None:
        raise not_found(request.path)
    return call


def _source(form, *, required: bool) -> TwimlSource | None:
    url, twiml = form.get("Url"), form.get("Twiml")
    if twiml:
        try:
            parse_twiml(twiml)
        except TwimlError as error:
            raise ApiError(400, 12100, f"Document parse failure: {error}") from error
        return TwimlSource(twiml=twiml)
    if url:
        return TwimlSource(url=url, method=form_method(form, "Method"))
    if required:
        raise ApiError(400, 21205, "A 'Url' or 'Twiml' parameter is required")
    return None


def status_subscription(form, default: StatusSubscription | None = None) -> StatusSubscription:
    url = form.get("StatusCallback")
    if not url:
        return default or StatusSubscription()
    events = form_events(form, "StatusCallbackEvent", frozenset({"completed"})) & CALL_EVENTS
    return StatusSubscription(url, form_method(form, "StatusCallbackMethod"), events)


@routes.post(API_PREFIX + "/Calls.json")
async def create_call(request: web.Request) -> web.Response:
    exchange, form = exchange_of(request), await request.post()
    to, from_ = check_to(form.get("To")), check_from(form.get("From"))
    source = _source(form, required=True)
    leg = exchange.new_leg(
        direction="outbound-api", from_=from_, to=to, subscription=status_subscription(form)
    )
    leg.pending_source = source
    exchange.start_outbound(leg, form_int(form, "Timeout", 60, 1, 600), lambda: leg.pending_source)
    return web.json_response(call_json(leg), status=201)


def _parse_moment(value: str) -> tuple[datetime, bool]:
    """A filter value and whether it named a whole day."""
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC), True
    return datetime.fromisoformat(value.replace("Z", "+00:00")), False


def _matches_start_time(call: SimCall, query) -> bool:
    started = call.start_time or call.date_created
    for key, value in query.items():
        if not key.startswith("StartTime"):
            continue
        try:
            moment, whole_day = _parse_moment(value)
        except ValueError as error:
            raise ApiError(400, 20001, f"{key} must be a date or a date-time") from error
        day_end = moment + timedelta(days=1) if whole_day else moment
        # Twilio's StartTime> and StartTime< read "on or after" and "on or before".
        if key in ("StartTime>", "StartTime>=") and started < moment:
            return False
        if key in ("StartTime<", "StartTime<=") and started > day_end:
            return False
        if key == "StartTime" and not (
            moment <= started < day_end if whole_day else started.replace(microsecond=0) == moment
        ):
            return False
    return True


@routes.get(API_PREFIX + "/Calls.json")
async def list_calls(request: web.Request) -> web.Response:
    query = request.query
    calls = [
        call
        for call in exchange_of(request).calls.values()
        if query.get("To", call.to) == call.to
        and query.get("From", call.from_) == call.from_
        and query.get("Status", call.status) == call.status
        and query.get("ParentCallSid", call.parent_call_sid) == call.parent_call_sid
        and _matches_start_time(call, query)
    ]
    calls.sort(key=lambda call: call.date_created, reverse=True)
    return web.json_response(page(request, "calls", [call_json(call) for call in calls]))


@routes.get(API_PREFIX + "/Calls/{sid}.json")
async def fetch_call(request: web.Request) -> web.Response:
    return web.json_response(call_json(_call(request)))


@routes.post(API_PREFIX + "/Calls/{sid}.json")
async def update_call(request: web.Request) -> web.Response:
    call, form = _call(request), await request.post()
    if call.is_over or call.is_hung_up:
        raise ApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
    call.subscription = status_subscription(form, call.subscription)
    status = form.get("Status")
    if status in ("completed", "canceled"):
        # Twilio ignores `canceled` for a call that is already up.
        if call.answered_at is None or status == "completed":
            call.hang_up(by="api")
            await asyncio.sleep(0)
            return web.json_response(
                call_json(call, "completed" if call.answered_at else "canceled")
            )
        return web.json_response(call_json(call))
    if status:
        raise ApiError(400, 21218, f"Invalid Status: {status}")
    source = _source(form, required=False)
    if source is not None:
        if call.answered_at is None:
            call.pending_source = source
        else:
            call.redirect(source)
    return web.json_response(call_json(call))


# --- recordings -------------------------------------------------------------------------------


def recording_json(recording: recordings.Recording) -> dict:
    exchange = recording.exchange
    return {
        "account_sid": exchange.account_sid,
        "api_version": API_VERSION,
        "call_sid": recording.call.sid,
        "conference_sid": None,
        "date_created": stamp(recording.started_at),
        "date_updated": stamp(recording.date_updated or recording.started_at),
        "start_time": stamp(recording.started_at),
        "duration": str(recording.duration) if recording.duration is not None else "-1",
        "sid": recording.sid,
        "price": None,
        "price_unit": "USD",
        "status": recording.status,
        "channels": recording.channels,
        "source": recording.source,
        "error_code": None,
        "track": "both",
        "encryption_details": None,
        "uri": account_path(
            exchange, f"Calls/{recording.call.sid}/Recordings/{recording.sid}.json"
        ),
    }


@routes.post(API_PREFIX + "/Calls/{sid}/Recordings.json")
async def start_recording(request: web.Request) -> web.Response:
    call, form = _call(request), await request.post()
    if call.answered_at is None or call.is_hung_up:
        raise ApiError(400, 21220, "Requested resource is not eligible for recording")
    url = form.get("RecordingStatusCallback")
    events = form_events(form, "RecordingStatusCallbackEvent", frozenset({"completed"}))
    method = form_method(form, "RecordingStatusCallbackMethod")
    subscription = StatusSubscription(url, method, events) if url else None
    channels = 2 if form.get("RecordingChannels") == "dual" else 1
    recording = recordings.start(
        exchange_of(request), call, "StartCallRecordingAPI", channels, subscription
    )
    return web.json_response(recording_json(recording), status=201)


@routes.get(API_PREFIX + "/Calls/{sid}/Recordings.json")
async def list_call_recordings(request: web.Request) -> web.Response:
    call = _call(request)
    items = [r for r in exchange_of(request).recordings.values() if r.call is call]
    return web.json_response(page(request, "recordings", [recording_json(r) for r in items]))


def _call_recording(request: web.Request) -> recordings.Recording:
    call, sid = _call(request), request.match_info["recording"]
    own = [r for r in exchange_of(request).recordings.values() if r.call is call]
    if sid == "Twilio.CURRENT":
        found = next((r for r in reversed(own) if r.status in ("in-progress", "paused")), None)
    else:
        found = next((r for r in own if r.sid == sid), None)
    if found is None:
        raise not_found(request.path)
    return found


@routes.get(API_PREFIX + "/Calls/{sid}/Recordings/{recording}.json")
async def fetch_call_recording(request: web.Request) -> web.Response:
    return web.json_response(recording_json(_call_recording(request)))


@routes.post(API_PREFIX + "/Calls/{sid}/Recordings/{recording}.json")
async def update_call_recording(request: web.Request) -> web.Response:
    recording, form = _call_recording(request), await request.post()
    status = form.get("Status")
    if recording.status == "completed":
        raise ApiError(400, 21220, "The recording has already completed")
    if status == "stopped":
        recording.complete()
    elif status == "paused":
        recording.pause()
    elif status == "in-progress":
        recording.resume()
    else:
        raise ApiError(400, 21218, f"Invalid Status: {status}")
    return web.json_response(recording_json(recording))


@routes.get(API_PREFIX + "/Recordings/{recording}.json")
async def fetch_recording(request: web.Request) -> web.Response:
    recording = exchange_of(request).recordings.get(request.match_info["recording"])
    if recording is None:
        raise not_found(request.path)
    return web.json_response(recording_json(recording))


@routes.get(
    API_PREFIX + r"/Recordings/{recording:RE[0-9a-f]{32}}{ext:(\.wav)?}", name=PUBLIC_MEDIA_ROUTE
)
async def recording_media(request: web.Request) -> web.Response:
    recording = exchange_of(request).recordings.get(request.match_info["recording"])
    if recording is None or recording.status != "completed":
        raise not_found(request.path)
    body = recordings.silent_wav(recording.duration or 1)
    return web.Response(body=body, content_type="audio/x-wav")
