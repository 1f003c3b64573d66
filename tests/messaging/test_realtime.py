"""Messaging over the realtime layer, through the real ASGI application and channels-redis:
a message sent by A reaches B's WebSocket and B's long-poll; B reconnecting after 50 missed
events gets all 50 in order; typing is an unlogged frame with its expiry."""

import threading
import time

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from messaging.services import (
    conversation_typing,
    invitation_create,
    message_send,
    ping_send,
)
from realtime.models import UserEvent
from tests.factories import AgentFactory
from tests.realtime.conftest import logged_in, open_socket, run

from .conftest import connected_call, make_conversation

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _pair():
    return logged_in(AgentFactory().user), logged_in(AgentFactory().user)


def test_a_message_sent_by_a_reaches_bs_websocket():
    ana, ben = _pair()
    chat = make_conversation(ana, ben)
    api = APIClient()
    api.force_authenticate(ana)

    async def body():
        ws, _ = await open_socket(ben)
        response = await database_sync_to_async(api.post)(
            f"/api/v1/conversations/{chat.pk}/messages/", {"body": "over the socket"}
        )
        assert response.status_code == 201
        frame = await ws.receive_json_from(timeout=5)
        assert frame["type"] == "message.created" and frame["seq"] == 1
        assert frame["data"]["body"] == "over the socket"
        assert frame["data"]["sender"]["id"] == ana.pk
        await ws.disconnect()

    run(body)


def test_a_message_sent_by_a_wakes_bs_long_poll():
    ana, ben = _pair()
    chat = make_conversation(ana, ben)
    client = Client()
    client.force_login(ben)

    def later():
        time.sleep(0.5)
        try:
            message_send(conversation_id=chat.pk, sender=ana, body="over the long-poll")
        finally:
            connection.close()

    thread = threading.Thread(target=later)
    started = time.monotonic()
    thread.start()
    body = client.get("/api/v1/events/?after=0&timeout=20").json()
    thread.join()
    assert time.monotonic() - started < 10
    [event] = body["events"]
    assert (event["type"], event["seq"]) == ("message.created", 1)
    assert event["data"]["body"] == "over the long-poll"


def test_reconnecting_after_50_missed_events_replays_them_in_order():
    ana, ben = _pair()
    chat = make_conversation(ana, ben)
    message_send(conversation_id=chat.pk, sender=ana, body="seen")

    async def body():
        ws, frames = await open_socket(ben)
        seen = frames[0]["seq"]
        await ws.disconnect()
        send = database_sync_to_async(message_send)
        for n in range(25):
            await send(conversation_id=chat.pk, sender=ana, body=f"missed {n}")
        # Pings and invitations go through the same log.
        await database_sync_to_async(ping_send)(sender=ana, receiver_id=ben.pk, note="ping")
        for n in range(24):
            await send(conversation_id=chat.pk, sender=ana, body=f"missed {25 + n}")
        ws, frames = await open_socket(ben, f"?after={seen}")
        ready = frames.pop()
        assert ready["data"]["last_seq"] == seen + 50
        assert [f["seq"] for f in frames] == list(range(seen + 1, seen + 51))
        bodies = [f["data"]["body"] for f in frames]
        assert bodies == [f"missed {n}" for n in range(25)] + ["ping"] + [
            f"missed {n}" for n in range(25, 49)
        ]
        await ws.disconnect()

    run(body)


def test_typing_is_pushed_unlogged_with_its_expiry_and_invitations_arrive_live():
    ana, ben = _pair()
    chat = make_conversation(ana, ben)
    call = connected_call(ana)

    async def body():
        ws, _ = await open_socket(ben)
        await database_sync_to_async(conversation_typing)(
            conversation_id=chat.pk, user=ana, typing=True
        )
        frame = await ws.receive_json_from(timeout=5)
        assert frame["type"] == "typing" and "seq" not in frame
        assert frame["data"]["typing"] is True and frame["data"]["ttl"] == 6
        assert frame["data"]["user"]["id"] == ana.pk
        await database_sync_to_async(invitation_create)(
            caller=ana, receiver_id=ben.pk, call_id=call.pk
        )
        frame = await ws.receive_json_from(timeout=5)
        assert frame["type"] == "invitation.created" and frame["data"]["call"] == call.pk
        await ws.disconnect()

    run(body)
    assert not UserEvent.objects.filter(type="typing").exists()


def test_unacknowledged_messages_are_delivered_again_on_reconnect():
    ana, ben = _pair()
    chat = make_conversation(ana, ben)
    send = database_sync_to_async(message_send)

    async def body():
        ws, _ = await open_socket(ben, "")  # from the acknowledged pointer (none yet)
        for n in range(3):
            await send(conversation_id=chat.pk, sender=ana, body=f"m{n}")
        frames = [await ws.receive_json_from(timeout=5) for _ in range(3)]
        assert [f["data"]["body"] for f in frames] == ["m0", "m1", "m2"]
        await ws.send_json_to({"type": "ack", "seq": frames[1]["seq"]})  # m2 never acked
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        ws, frames = await open_socket(ben, "")
        assert [f["data"]["body"] for f in frames[:-1]] == ["m2"]
        await ws.disconnect()

    run(body)
