"""Pings: one transaction from the limit check to the first message, 429 with when the next
ping is allowed, batches with a result per receiver, responses and their analytics."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callcenter.models import QueueMembership
from messaging.models import Conversation, Message, Ping, PingQuota, PingStat
from messaging.services import ping_send
from messaging.services.analytics import ping_stats_refresh
from realtime.models import UserEvent
from tests.conftest import as_user
from tests.factories import QueueFactory, UserFactory

from .conftest import connected_call

pytestmark = pytest.mark.django_db


def test_a_ping_opens_the_direct_conversation_with_its_message(api, ana, ben):
    call = connected_call(ana)
    response = as_user(api, ana).post(
        "/api/v1/pings/", {"receiver": ben.pk, "note": "Can you help?", "call": call.pk}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    ping = Ping.objects.get()
    assert (ping.sender_id, ping.receiver_id, ping.call_id) == (ana.pk, ben.pk, call.pk)
    assert body["ping"] == ping.pk and body["conversation"] == ping.conversation_id
    message = Message.objects.get()
    assert (message.kind, message.body, message.pk) == ("ping", "Can you help?", ping.message_id)
    assert Conversation.objects.get().participants.count() == 2
    frame = UserEvent.objects.get(user=ben, type="message.created").data
    assert frame["ping"]["id"] == ping.pk and frame["ping"]["call"] == call.pk
    assert PingQuota.objects.get(user=ana).sent == 1
    # The receiver's conversation list shows it unread.
    [row] = as_user(api, ben).get("/api/v1/conversations/").json()["results"]
    assert (row["unread"], row["last_message"]["kind"]) == (1, "ping")


def test_the_daily_limit_answers_429_with_the_next_allowed_time(api, ana, settings):
    settings.MESSAGING_PING_DAILY_LIMIT = 2
    others = [UserFactory() for _ in range(3)]
    as_user(api, ana)
    assert [api.post("/api/v1/pings/", {"receiver": u.pk}).status_code for u in others[:2]] == [
        201,
        201,
    ]
    refused = api.post("/api/v1/pings/", {"receiver": others[2].pk})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "daily_limit"
    tomorrow = timezone.now().date() + timedelta(days=1)
    assert error["details"]["next_allowed_at"].startswith(tomorrow.isoformat())
    assert int(refused["Retry-After"]) > 0
    assert Ping.objects.count() == 2 and PingQuota.objects.get(user=ana).sent == 2


def test_the_quota_starts_again_on_a_new_day(ana, ben, settings):
    settings.MESSAGING_PING_DAILY_LIMIT = 1
    PingQuota.objects.create(user=ana, day=date(2020, 1, 1), sent=1)
    ping_send(sender=ana, receiver_id=ben.pk)
    quota = PingQuota.objects.get(user=ana)
    assert (quota.day, quota.sent) == (timezone.now().date(), 1)


@override_settings(MESSAGING_PING_COOLDOWN_SECONDS=600)
def test_the_cooldown_is_per_receiver(api, ana, ben, cleo):
    as_user(api, ana)
    assert api.post("/api/v1/pings/", {"receiver": ben.pk}).status_code == 201
    again = api.post("/api/v1/pings/", {"receiver": ben.pk})
    assert again.status_code == 429
    assert again.json()["error"]["code"] == "cooldown"
    first = Ping.objects.get()
    allowed = (first.created_at + timedelta(seconds=600)).isoformat()
    assert again.json()["error"]["details"]["next_allowed_at"] == allowed
    assert api.post("/api/v1/pings/", {"receiver": cleo.pk}).status_code == 201
    assert PingQuota.objects.get(user=ana).sent == 2  # the refused one was not counted


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"receiver": "x"}, "invalid"),
        ({"receiver": 987654}, "unknown_user"),
        ({"receiver": "self"}, "self"),
        ({"receiver": "ben", "call": 987654}, "unknown_call"),
        ({"receiver": "ben", "queue": 987654}, "unknown_queue"),
        ({"receiver": "ben", "note": "x" * 501}, "invalid"),
    ],
)
def test_bad_pings_get_400_and_change_nothing(api, ana, ben, payload, code):
    payload = {
        **payload,
        "receiver": {"self": ana.pk, "ben": ben.pk}.get(payload["receiver"], payload["receiver"]),
    }
    response = as_user(api, ana).post("/api/v1/pings/", payload)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not Ping.objects.exists() and not Conversation.objects.exists()
    assert not PingQuota.objects.filter(sent__gt=0).exists()


def test_a_batch_gives_one_result_per_receiver(api, ana, ben, cleo, settings):
    settings.MESSAGING_PING_DAILY_LIMIT = 2
    as_user(api, ana)
    response = api.post(
        "/api/v1/pings/batch/",
        {"receivers": [ben.pk, 987654, cleo.pk, ana.pk, UserFactory().pk], "note": "Standup"},
        format="json",
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["sent", "refused", "sent", "refused", "refused"]
    assert [r.get("error", {}).get("code") for r in results] == [
        None,
        "unknown_user",
        None,
        "self",
        "daily_limit",
    ]
    assert "next_allowed_at" in results[4]["error"]
    assert sorted(Ping.objects.values_list("receiver_id", flat=True)) == sorted([ben.pk, cleo.pk])
    assert api.post("/api/v1/pings/batch/", {"receivers": []}, format="json").status_code == 400


def test_a_reply_is_the_response_and_analytics_count_it(api, ana, ben, queue):
    QueueMembership.objects.create(agent=ana.agent, queue=queue)
    QueueMembership.objects.create(agent=ben.agent, queue=queue)
    outcome = ping_send(sender=ana, receiver_id=ben.pk, note="?")
    Ping.objects.filter(pk=outcome.ping_id).update(
        created_at=timezone.now() - timedelta(seconds=30)
    )
    url = f"/api/v1/conversations/{outcome.conversation_id}/messages/"
    as_user(api, ana).post(url, {"body": "still there?"})  # the sender's words are no answer
    assert Ping.objects.get().responded_at is None
    as_user(api, ben).post(url, {"body": "on it"})
    ping = Ping.objects.get()
    assert ping.responded_at is not None and 29 <= ping.response_seconds <= 60

    assert ping_stats_refresh(timezone.now().date(), [ben.pk]) == 2  # ben, and their team
    mine = PingStat.objects.get(scope="user", user=ben)
    assert (mine.received, mine.responded) == (1, 1)
    assert mine.response_avg_seconds == mine.response_p50_seconds == ping.response_seconds
    team = PingStat.objects.get(scope="team", queue=queue)
    assert (team.sent, team.received, team.responded) == (1, 1, 1)
    listed = as_user(api, ana).get("/api/v1/pings/?direction=sent").json()["results"]
    assert listed[0]["response_seconds"] == ping.response_seconds

    # Readable by ben (his row and his team's), not by a stranger; one query.
    as_user(api, ben)
    with CaptureQueriesContext(connection) as captured:
        stats = api.get("/api/v1/pings/stats/?days=1").json()["results"]
    assert len(captured.captured_queries) == 1
    assert sorted((s["scope"], s["responded"]) for s in stats) == [("team", 1), ("user", 1)]
    assert as_user(api, UserFactory()).get("/api/v1/pings/stats/").json()["results"] == []
    assert api.get("/api/v1/pings/stats/?days=0").status_code == 400


def test_the_refresh_is_idempotent_and_covers_unanswered_pings(ana, ben, cleo):
    ping_send(sender=ana, receiver_id=cleo.pk)
    ping_send(sender=ben, receiver_id=cleo.pk)
    today = timezone.now().date()
    ping_stats_refresh(today)
    ping_stats_refresh(today)
    stat = PingStat.objects.get(scope="user", user=cleo)
    assert (stat.received, stat.responded, stat.response_avg_seconds) == (2, 0, None)
    assert PingStat.objects.filter(scope="user").count() == 3
    QueueFactory()  # a queue without members gets no row
    assert not PingStat.objects.filter(scope="team").exists()
