"""`/ws/`: authentication, origin, subscriptions by role, live frames, replay and resync."""

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from realtime import publish, transport
from realtime.log import replay_after
from realtime.models import EventCursor
from tests.factories import UserFactory

from .conftest import communicator, logged_in, open_socket, run

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

publish_to_user = database_sync_to_async(publish.publish_to_user)


async def _receive_all(ws, count: int) -> list[dict]:
    return [await ws.receive_json_from(timeout=5) for _ in range(count)]


def test_anonymous_connection_is_refused():
    async def body():
        ws = communicator(user=None)
        connected, code = await ws.connect()
        assert not connected
        assert code == 4401

    run(body)


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
def test_cross_origin_or_originless_connection_is_refused(origin):
    user = logged_in(UserFactory())

    async def body():
        ws = communicator(user, origin=origin)
        connected, _ = await ws.connect()
        assert not connected

    run(body)


def test_logged_event_is_pushed_after_commit_with_its_seq():
    user = logged_in(UserFactory())

    async def body():
        ws, _ = await open_socket(user)
        assert await ws.receive_nothing(timeout=0.2)
        seq = await publish_to_user(user.pk, "ping.received", {"from": "ana"})
        frame = await ws.receive_json_from(timeout=5)
        assert frame == {"type": "ping.received", "seq": seq, "data": {"from": "ana"}}
        assert seq == 1
        await ws.disconnect()

    run(body)


def test_nothing_is_pushed_or_logged_when_the_transaction_rolls_back():
    user = logged_in(UserFactory())

    def failing_change():
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            publish.publish_to_user(user.pk, "offer.created", {"call": 1})
            raise RuntimeError("the change failed")

    async def body():
        ws, _ = await open_socket(user)
        await database_sync_to_async(failing_change)()
        assert await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()

    run(body)
    assert replay_after(user.pk, 0).frames == []


def test_resume_after_100_missed_events_delivers_exactly_those_in_order():
    user = logged_in(UserFactory())
    publish.publish_to_user(user.pk, "chat.message", {"n": 0})  # seen before the disconnect

    async def body():
        ws, frames = await open_socket(user)
        first = frames[0]
        assert first["seq"] == 1
        assert frames[-1] == {
            "type": "ready",
            "data": {"last_seq": 1, "groups": [f"user.{user.pk}"]},
        }
        await ws.disconnect()

        for n in range(1, 101):
            await publish_to_user(user.pk, "chat.message", {"n": n})

        ws, frames = await open_socket(user, f"?after={first['seq']}")
        assert frames.pop()["data"]["last_seq"] == 101
        assert [f["seq"] for f in frames] == list(range(2, 102))
        assert [f["data"]["n"] for f in frames] == list(range(1, 101))
        # Then live, without duplicates of what the replay sent.
        await publish_to_user(user.pk, "chat.message", {"n": 101})
        assert (await ws.receive_json_from(timeout=5))["seq"] == 102
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(body)


@override_settings(REALTIME_REPLAY_LIMIT=10)
def test_resync_when_more_than_the_bound_was_missed():
    user = logged_in(UserFactory())
    for n in range(11):
        publish.publish_to_user(user.pk, "chat.message", {"n": n})

    async def body():
        ws, frames = await open_socket(user)
        assert frames[0] == {"type": "resync", "data": {"last_seq": 11}}
        assert len(frames) == 2
        await publish_to_user(user.pk, "chat.message", {"n": 11})
        assert (await ws.receive_json_from(timeout=5))["seq"] == 12
        await ws.disconnect()

    run(body)


def test_resync_when_the_client_is_ahead_of_the_log():
    user = logged_in(UserFactory())
    publish.publish_to_user(user.pk, "chat.message", {})
    assert replay_after(user.pk, 5).resync


def test_a_lost_push_is_filled_from_the_log_before_the_next_frame(monkeypatch):
    user = logged_in(UserFactory())
    real_push = transport.push

    async def body():
        ws, _ = await open_socket(user)
        monkeypatch.setattr(transport, "push", lambda messages: None)  # the layer lost it
        await publish_to_user(user.pk, "chat.message", {"n": 1})
        monkeypatch.setattr(transport, "push", real_push)
        await publish_to_user(user.pk, "chat.message", {"n": 2})
        frames = await _receive_all(ws, 2)
        assert [f["seq"] for f in frames] == [1, 2]
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(body)


def test_ping_answers_pong_and_replays_what_no_push_delivered(monkeypatch):
    user = logged_in(UserFactory())

    async def body():
        ws, _ = await open_socket(user)
        monkeypatch.setattr(transport, "push", lambda messages: None)
        await publish_to_user(user.pk, "ping.received", {})
        assert await ws.receive_nothing(timeout=0.3)
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from(timeout=5))["seq"] == 1
        assert await ws.receive_json_from(timeout=5) == {"type": "pong", "data": {"last_seq": 1}}
        await ws.disconnect()

    run(body)


def test_ack_moves_the_pointer_and_a_client_without_after_resumes_from_it():
    user = logged_in(UserFactory())
    for n in range(3):
        publish.publish_to_user(user.pk, "invitation.created", {"n": n})

    async def body():
        ws, frames = await open_socket(user)
        assert [f.get("seq") for f in frames] == [1, 2, 3, None]
        await ws.send_json_to({"type": "ack", "seq": 2})
        await ws.send_json_to({"type": "ack", "seq": 99})  # past the log: ignored
        await ws.send_json_to({"type": "ack", "seq": "x"})
        assert (await ws.receive_json_from(timeout=5))["data"]["code"] == "bad_ack"
        await ws.disconnect()

        ws, frames = await open_socket(user, "")  # no after: unacknowledged events only
        assert [f.get("seq") for f in frames] == [3, None]
        await ws.disconnect()

    run(body)
    assert EventCursor.objects.get(user=user).acked_seq == 2


def test_unknown_and_malformed_client_frames_get_an_error_frame():
    user = logged_in(UserFactory())

    async def body():
        ws, _ = await open_socket(user)
        await ws.send_json_to({"type": "shout"})
        assert (await ws.receive_json_from(timeout=5))["data"]["code"] == "unknown_type"
        await ws.send_to(text_data="not json")
        assert (await ws.receive_json_from(timeout=5))["data"]["code"] == "bad_frame"
        await ws.disconnect()

    run(body)


def test_each_user_receives_only_their_own_events():
    ana, bob = logged_in(UserFactory()), logged_in(UserFactory())

    async def body():
        (ws_ana, _), (ws_bob, _) = await open_socket(ana), await open_socket(bob)
        await publish_to_user(ana.pk, "ping.received", {"secret": "for ana"})
        assert (await ws_ana.receive_json_from(timeout=5))["data"] == {"secret": "for ana"}
        assert await ws_bob.receive_nothing(timeout=0.3)
        await ws_ana.disconnect()
        await ws_bob.disconnect()

    run(body)


def test_an_idle_socket_outlives_the_layers_blocking_pop():
    # channels-redis blocks 5 s per pop; a socket read timeout as short would kill the consumer.
    user = logged_in(UserFactory())

    async def body():
        import asyncio

        ws, _ = await open_socket(user)
        await asyncio.sleep(11)
        await publish_to_user(user.pk, "ping.received", {})
        assert (await ws.receive_json_from(timeout=5))["seq"] == 1
        await ws.disconnect()

    run(body)
