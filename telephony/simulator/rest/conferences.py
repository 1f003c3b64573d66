"""Conferences and their Participants: list, end, dial in, hold/mute/coach, kick."""

from __future__ import annotations

from aiohttp import web

from telephony.simulator.conferences import (
    DEFAULT_EVENTS,
    ConferenceRoom,
    JoinOptions,
    Participant,
    ParticipantChanges,
)
from telephony.simulator.legs import API_VERSION, StatusSubscription
from telephony.simulator.rest.calls import status_subscription
from telephony.simulator.rest.common import (
    API_PREFIX,
    ApiError,
    account_path,
    check_from,
    check_to,
    exchange_of,
    form_bool,
    form_events,
    form_int,
    form_method,
    not_found,
    page,
    stamp,
)

routes = web.RouteTableDef()


def conference_json(room: ConferenceRoom) -> dict:
    uri = account_path(room.exchange, f"Conferences/{room.sid}")
    return {
        "account_sid": room.exchange.account_sid,
        "date_created": stamp(room.date_created),
        "date_updated": stamp(room.date_updated),
        "api_version": API_VERSION,
        "friendly_name": room.friendly_name,
        "region": "us1",
        "sid": room.sid,
        "status": room.status,
        "uri": f"{uri}.json",
        "subresource_uris": {"participants": f"{uri}/Participants.json"},
        "reason_conference_ended": room.reason_ended,
        "call_sid_ending_conference": room.call_sid_ending,
    }


def participant_json(participant: Participant) -> dict:
    room, options = participant.room, participant.options
    return {
        "account_sid": room.exchange.account_sid,
        "call_sid": participant.call.sid,
        "label": options.label,
        "call_sid_to_coach": options.call_sid_to_coach,
        "coaching": options.coaching,
        "conference_sid": room.sid,
        "date_created": stamp(participant.date_created),
        "date_updated": stamp(participant.date_updated),
        "end_conference_on_exit": options.end_on_exit,
        "muted": options.muted,
        "hold": options.hold,
        "start_conference_on_enter": options.start_on_enter,
        "status": participant.status,
        "queue_time": "0",
        "uri": account_path(
            room.exchange, f"Conferences/{room.sid}/Participants/{participant.call.sid}.json"
        ),
    }


def _room(request: web.Request) -> ConferenceRoom:
    room = exchange_of(request).conferences.get(request.match_info["sid"])
    if room is None:
        raise not_found(request.path)
    return room


def _participant(request: web.Request) -> Participant:
    participant = _room(request).find(request.match_info["participant"])
    if participant is None:
        raise not_found(request.path)
    return participant


@routes.get(API_PREFIX + "/Conferences.json")
async def list_conferences(request: web.Request) -> web.Response:
    query = request.query
    rooms = [
        room
        for room in exchange_of(request).conferences.by_sid.values()
        if query.get("FriendlyName", room.friendly_name) == room.friendly_name
        and query.get("Status", room.status) == room.status
    ]
    rooms.sort(key=lambda room: room.date_created, reverse=True)
    return web.json_response(page(request, "conferences", [conference_json(r) for r in rooms]))


@routes.get(API_PREFIX + "/Conferences/{sid}.json")
async def fetch_conference(request: web.Request) -> web.Response:
    return web.json_response(conference_json(_room(request)))


@routes.post(API_PREFIX + "/Conferences/{sid}.json")
async def update_conference(request: web.Request) -> web.Response:
    room, form = _room(request), await request.post()
    status = form.get("Status")
    if status == "completed":
        room.end("conference-ended-via-api")
    elif status:
        raise ApiError(400, 21218, f"Invalid Status: {status}")
    if form.get("AnnounceUrl") and room.status != "completed":
        room.announce(form["AnnounceUrl"], form_method(form, "AnnounceMethod"))
    return web.json_response(conference_json(room))


def _join_options(form) -> JoinOptions:
    url = form.get("ConferenceStatusCallback")
    callback = None
    if url:
        events = form_events(form, "ConferenceStatusCallbackEvent", DEFAULT_EVENTS)
        method = form_method(form, "ConferenceStatusCallbackMethod")
        callback = StatusSubscription(url, method, events)
    return JoinOptions(
        start_on_enter=bool(form_bool(form, "StartConferenceOnEnter", True)),
        end_on_exit=bool(form_bool(form, "EndConferenceOnExit", False)),
        muted=bool(form_bool(form, "Muted", False)),
        hold=bool(form_bool(form, "Hold", False)),
        hold_url=form.get("HoldUrl") or None,
        hold_method=form_method(form, "HoldMethod", "GET"),
        coaching=bool(form_bool(form, "Coaching", False)),
        call_sid_to_coach=form.get("CallSidToCoach") or None,
        label=form.get("Label") or None,
        wait_url=form.get("WaitUrl") or None,
        wait_method=form_method(form, "WaitMethod"),
        callback=callback,
    )


@routes.post(API_PREFIX + "/Conferences/{sid}/Participants.json")
async def create_participant(request: web.Request) -> web.Response:
    exchange, form = exchange_of(request), await request.post()
    sid = request.match_info["sid"]
    # Twilio creates the conference when a friendly name is given instead of a sid.
    room = exchange.conferences.get(sid)
    if room is None and not sid.startswith("CF"):
        room = exchange.conferences.active_named(sid)
    if room is None or room.status == "completed":
        raise not_found(request.path)
    to, from_ = check_to(form.get("To")), check_from(form.get("From"))
    options = _join_options(form)
    if options.coaching and not options.call_sid_to_coach:
        raise ApiError(400, 21218, "CallSidToCoach is required when Coaching is true")
    leg = exchange.new_leg(
        direction="outbound-api", from_=from_, to=to, subscription=status_subscription(form)
    )
    participant = room.add(leg, options)
    exchange.start_participant(participant, form_int(form, "Timeout", 60, 5, 600))
    return web.json_response(participant_json(participant), status=201)


@routes.get(API_PREFIX + "/Conferences/{sid}/Participants.json")
async def list_participants(request: web.Request) -> web.Response:
    room = _room(request)
    items = [participant_json(p) for p in room.participants.values() if not p.gone]
    return web.json_response(page(request, "participants", items))


@routes.get(API_PREFIX + "/Conferences/{sid}/Participants/{participant}.json")
async def fetch_participant(request: web.Request) -> web.Response:
    return web.json_response(participant_json(_participant(request)))


@routes.post(API_PREFIX + "/Conferences/{sid}/Participants/{participant}.json")
async def update_participant(request: web.Request) -> web.Response:
    participant, form = _participant(request), await request.post()
    if participant.status != "connected":
        raise ApiError(400, 21220, f"The participant is {participant.status}, not connected")
    changes = ParticipantChanges(
        hold=form_bool(form, "Hold"),
        hold_url=form.get("HoldUrl") or None,
        hold_method=form.get("HoldMethod") or None,
        muted=form_bool(form, "Muted"),
        coaching=form_bool(form, "Coaching"),
        call_sid_to_coach=form.get("CallSidToCoach") or None,
        end_on_exit=form_bool(form, "EndConferenceOnExit"),
    )
    participant.room.update(participant, changes)
    if form.get("AnnounceUrl"):
        participant.room.announce(
            form["AnnounceUrl"], form_method(form, "AnnounceMethod"), participant
        )
    return web.json_response(participant_json(participant))


@routes.delete(API_PREFIX + "/Conferences/{sid}/Participants/{participant}.json")
async def remove_participant(request: web.Request) -> web.Response:
    participant = _participant(request)
    if participant.status == "connected":
        participant.room.leave(participant, "kicked")
    elif not participant.gone:  # still ringing: the dial-out is cancelled
        participant.status = "failed"
        participant.call.hang_up(by="api")
    return web.Response(status=204)
