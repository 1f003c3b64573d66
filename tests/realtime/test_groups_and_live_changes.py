"""Broadcast groups: who may subscribe, membership refresh, and the frames call-center changes
send to dashboards (no callers' numbers in them)."""

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings
from django.utils import timezone

from callcenter.choices import AgentStatus, CallStage
from callcenter.services import agent_set_status
from callcenter.services.call_facts import save_fields
from tests.factories import AgentFactory, CallFactory, QueueFactory, UserFactory

from .conftest import logged_in, open_socket, run

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _subscribed_reply(frames):
    return [f for f in frames if f["type"] in ("subscribed", "error")]


def test_subscriptions_are_limited_by_role():
    queue, other = QueueFactory(), QueueFactory()
    agent = AgentFactory(queues=[queue])
    agent_user = logged_in(agent.user)
    supervisor = logged_in(UserFactory(roles=["supervisor"]))
    queue.supervisors.add(supervisor)
    admin = logged_in(UserFactory(roles=["admin"]))
    plain = logged_in(UserFactory())

    cases = [
        (agent_user, f"queue.{queue.pk}", True),
        (agent_user, f"queue.{other.pk}", False),
        (agent_user, "dashboard", False),
        (supervisor, "dashboard", True),
        (supervisor, f"queue.{queue.pk}", True),
        (supervisor, f"queue.{other.pk}", False),
        (admin, f"queue.{other.pk}", True),
        (plain, "dashboard", False),
        (admin, f"user.{plain.pk}", False),  # nobody joins another person's log
        (admin, "nonsense", False),
        (admin, "queue.abc", False),
    ]

    async def body():
        for user, group, allowed in cases:
            ws, _ = await open_socket(user)
            await ws.send_json_to({"type": "subscribe", "groups": [group]})
            replies = [await ws.receive_json_from(timeout=5)]
            if replies[0]["type"] == "error":
                replies.append(await ws.receive_json_from(timeout=5))
            joined = replies[-1]["data"]["groups"]
            assert (group in joined) is allowed, (user, group)
            assert (replies[0]["type"] == "error") is not allowed
            await ws.disconnect()

    run(body)


def test_subscribe_in_the_query_string_and_bad_subscribe_frames():
    supervisor = logged_in(UserFactory(roles=["supervisor"]))

    async def body():
        ws, frames = await open_socket(supervisor, "?after=0&subscribe=dashboard,queue.999")
        assert frames[0]["type"] == "error" and frames[0]["data"]["groups"] == ["queue.999"]
        assert frames[-1]["data"]["groups"] == ["dashboard", f"user.{supervisor.pk}"]
        await ws.send_json_to({"type": "subscribe", "groups": "dashboard"})
        assert (await ws.receive_json_from(timeout=5))["data"]["code"] == "bad_groups"
        await ws.send_json_to(
            {"type": "unsubscribe", "groups": ["dashboard", f"user.{supervisor.pk}"]}
        )
        reply = await ws.receive_json_from(timeout=5)
        assert reply["data"]["groups"] == [f"user.{supervisor.pk}"]  # own log stays
        await ws.disconnect()

    run(body)


def test_agent_changes_reach_the_dashboard_group_without_numbers():
    queue = QueueFactory()
    agent = AgentFactory(queues=[queue])
    supervisor = logged_in(UserFactory(roles=["supervisor"]))
    queue.supervisors.add(supervisor)
    me = logged_in(agent.user)

    async def body():
        ws_sup, _ = await open_socket(supervisor, f"?after=0&subscribe=dashboard,queue.{queue.pk}")
        ws_me, _ = await open_socket(me)
        await database_sync_to_async(agent_set_status)(
            agent_id=agent.pk, status=AgentStatus.AVAILABLE
        )
        for ws in (ws_sup, ws_me):
            frame = await ws.receive_json_from(timeout=5)
            assert frame["type"] == "agent.updated" and "seq" not in frame
            assert frame["data"]["id"] == agent.pk
            assert frame["data"]["status"] == AgentStatus.AVAILABLE

        call = await database_sync_to_async(CallFactory)(
            queue=queue, from_number="+15551230000", stage=CallStage.NEW
        )
        call.stage, call.enqueued_at = CallStage.WAITING, timezone.now()
        await database_sync_to_async(save_fields)(call, "stage", "enqueued_at")
        frame = await ws_sup.receive_json_from(timeout=5)
        assert frame["type"] == "call.updated"
        assert frame["data"]["id"] == call.pk and frame["data"]["stage"] == CallStage.WAITING
        assert "+15551230000" not in str(frame)
        assert await ws_me.receive_nothing(timeout=0.3)  # not the agent's call
        await ws_sup.disconnect()
        await ws_me.disconnect()

    run(body)


@override_settings(REALTIME_GROUP_REFRESH_SECONDS=0)
def test_ping_rejoins_groups_before_the_layer_expires_them(monkeypatch):
    supervisor = logged_in(UserFactory(roles=["supervisor"]))

    async def body():
        ws, _ = await open_socket(supervisor, "?after=0&subscribe=dashboard")
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        added = []
        real_add = layer.group_add

        async def spy(group, channel):
            added.append(group)
            await real_add(group, channel)

        monkeypatch.setattr(layer, "group_add", spy)
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from(timeout=5))["type"] == "pong"
        assert sorted(added) == ["dashboard", f"user.{supervisor.pk}"]
        await ws.disconnect()

    run(body)
