"""GET /api/v1/dashboard/: every figure checked by hand on a pinned clock, and who sees what.

The clock: 2026-03-10 15:10 UTC. Tokyo (UTC+9) is ten minutes into 11 March, so its "today"
began at 15:00 UTC and its last 30 minutes reach back before its midnight; New York (EDT since
8 March, UTC-4) is at 11:10, its day began at 04:00 UTC.
"""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from rest_framework.renderers import JSONRenderer

from callcenter.choices import CallDirection, CallOutcome, CallStage, CallStatus
from callcenter.models import Agent, CallbackRequest, Voicemail
from dashboards.apis import DashboardOutput
from dashboards.expressions import _sqlite_local_midnight
from dashboards.selectors import dashboard_snapshot, local_midnight
from tests.conftest import as_user
from tests.factories import AgentFactory, CallFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 15, 10, tzinfo=UTC)
URL = "/api/v1/dashboard/"


def at(hh_mm_ss: str) -> datetime:
    """An instant on 10 March 2026, UTC."""
    h, m, s = (int(part) for part in hh_mm_ss.split(":"))
    return NOW.replace(hour=h, minute=m, second=s)


def call(queue, created, enqueued, *, answered=None, ended=None, outcome="", stage=None, **kw):
    stage = stage or (CallStage.ENDED if ended else CallStage.WAITING)
    status = CallStatus.COMPLETED if ended else CallStatus.IN_PROGRESS
    return CallFactory(
        queue=queue, created_at=at(created), enqueued_at=at(enqueued),
        answered_at=answered and at(answered), ended_at=ended and at(ended), outcome=outcome,
        stage=stage, status=status, **kw,
    )  # fmt: skip


def work(model, from_call, **fields):
    """A voicemail or callback request `from_call` left in its queue (waiting by default)."""
    return model.objects.create(
        call=from_call, queue=from_call.queue, enqueued_at=from_call.enqueued_at, **fields
    )


def set_agent(agent, **fields):
    Agent.objects.filter(pk=agent.pk).update(**fields)


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    tokyo = QueueFactory(
        name="Tokyo", time_zone="Asia/Tokyo", service_level_seconds=20, short_abandon_seconds=5
    )
    york = QueueFactory(
        name="New York", time_zone="America/New_York", service_level_seconds=30,
        short_abandon_seconds=10,
    )  # fmt: skip
    other = QueueFactory(name="Other")
    a = AgentFactory(queues=[tokyo], user__first_name="Ann", user__last_name="Abe")
    b = AgentFactory(queues=[york])
    c = AgentFactory(queues=[other])
    d = AgentFactory(queues=[tokyo, york])
    e = AgentFactory(queues=[tokyo])
    set_agent(a, status="available", status_changed_at=NOW - timedelta(hours=1),
              activity="on_call", activity_changed_at=at("15:02:45"), active_calls=1,
              calls_answered_today=3, counters_date=date(2026, 3, 10))  # fmt: skip
    set_agent(b, status="available", activity="offered", active_calls=1,
              calls_answered_today=5, counters_date=date(2026, 3, 9))  # fmt: skip
    set_agent(d, status="away", away_reason="lunch", status_changed_at=NOW - timedelta(minutes=10))

    # Tokyo. Arrived 23:50 local, answered after local midnight: last 30 minutes, not today.
    call(tokyo, "14:50:00", "14:50:05", answered="15:00:30", ended="15:05:00",
         outcome=CallOutcome.ANSWERED)  # fmt: skip
    # Waited 15 s: within the 20 s service level.
    call(tokyo, "15:01:00", "15:01:10", answered="15:01:25", ended="15:04:00",
         outcome=CallOutcome.ANSWERED)  # fmt: skip
    # Waited 40 s: not within; still talking to A, whose own leg serves the same call.
    c3 = call(tokyo, "15:02:00", "15:02:05", answered="15:02:45", stage=CallStage.CONNECTED,
              agent=a)  # fmt: skip
    CallFactory(parent=c3, agent=a, direction=CallDirection.OUTBOUND_API,
                created_at=at("15:02:30"), to_number="client:a")  # fmt: skip
    call(tokyo, "15:03:00", "15:03:02", ended="15:04:02", outcome=CallOutcome.ABANDONED,
         wait_seconds=60)  # fmt: skip
    call(tokyo, "15:05:00", "15:05:01", ended="15:05:04", outcome=CallOutcome.SHORT_ABANDONED,
         wait_seconds=3)  # fmt: skip
    c6 = call(tokyo, "15:06:00", "15:06:03")
    c7 = call(tokyo, "14:58:00", "14:58:10", priority=2)  # waiting since before midnight
    # Yesterday in Tokyo: in neither window.
    call(tokyo, "10:00:00", "10:00:05", answered="10:00:10", ended="10:05:00",
         outcome=CallOutcome.ANSWERED)  # fmt: skip
    message = call(tokyo, "15:07:00", "15:07:02", ended="15:08:00", outcome=CallOutcome.VOICEMAIL)
    # Work callers left: one message and one callback wait, the others are handled (the older
    # calls are yesterday's in Tokyo: in neither window).
    work(Voicemail, message, recording_sid="RE1")
    work(Voicemail, call(tokyo, "10:01:00", "10:01:01", ended="10:02:00"), status="done",
         recording_sid="RE2")  # fmt: skip
    work(CallbackRequest, call(tokyo, "10:03:00", "10:03:01", ended="10:03:30"))
    work(CallbackRequest, call(tokyo, "10:04:00", "10:04:01", ended="10:04:30"), status="offered")

    # New York. Arrived 23:59 local, abandoned after midnight: in neither window.
    call(york, "03:59:00", "03:59:05", ended="04:01:00", outcome=CallOutcome.ABANDONED)
    # Waited 30 s: within the 30 s service level (the bound is included).
    call(york, "12:00:00", "12:00:10", answered="12:00:40", ended="12:05:00",
         outcome=CallOutcome.ANSWERED)  # fmt: skip
    n3 = call(york, "15:00:00", "15:00:05", priority=1)
    # Being offered to B: B's leg is ringing.
    n4 = call(york, "15:08:00", "15:08:05", stage=CallStage.OFFERED)
    CallFactory(parent=n4, agent=b, direction=CallDirection.OUTBOUND_API,
                created_at=at("15:08:06"), to_number="client:b")  # fmt: skip

    call(other, "15:00:00", "15:00:01")  # another queue's caller
    supervisor = UserFactory(roles=["supervisor"])
    tokyo.supervisors.add(supervisor)
    york.supervisors.add(supervisor)
    return {"tokyo": tokyo, "york": york, "other": other, "a": a, "b": b, "c": c, "d": d,
            "e": e, "c3": c3, "c6": c6, "c7": c7, "n3": n3, "n4": n4,
            "supervisor": supervisor}  # fmt: skip


def test_supervisor_sees_every_figure_of_their_queues(api, world):
    body = as_user(api, world["supervisor"]).get(URL).json()
    tokyo, york = world["tokyo"], world["york"]
    assert body["now"] == "2026-03-10T15:10:00Z"
    assert [q["name"] for q in body["queues"]] == ["New York", "Tokyo"]
    york_row, tokyo_row = body["queues"]
    assert tokyo_row == {
        "id": tokyo.pk, "name": "Tokyo", "is_active": True, "time_zone": "Asia/Tokyo",
        "service_level_seconds": 20, "short_abandon_seconds": 5,
        "today_started_at": "2026-03-10T15:00:00Z",
        "waiting": 2, "voicemails_waiting": 1, "callbacks_waiting": 1,
        "longest_wait_seconds": 710, "oldest_enqueued_at": "2026-03-10T14:58:10Z",
        "agents": {"available": 0, "offered": 0, "on_call": 1, "wrap_up": 0, "away": 1,
                   "offline": 1},
        "today": {"offered": 6, "answered": 2, "answered_within_service_level": 1,
                  "abandoned": 1, "short_abandoned": 1, "service_level": 0.3333,
                  "avg_wait_seconds": 27.5},  # (15 + 40) / 2
        "last_30_minutes": {"offered": 8, "answered": 3, "answered_within_service_level": 1,
                            "abandoned": 1, "short_abandoned": 1, "service_level": 0.25,
                            "avg_wait_seconds": 226.7},  # (625 + 15 + 40) / 3
    }  # fmt: skip
    assert york_row == {
        "id": york.pk, "name": "New York", "is_active": True, "time_zone": "America/New_York",
        "service_level_seconds": 30, "short_abandon_seconds": 10,
        "today_started_at": "2026-03-10T04:00:00Z",
        "waiting": 1, "voicemails_waiting": 0, "callbacks_waiting": 0,
        "longest_wait_seconds": 595, "oldest_enqueued_at": "2026-03-10T15:00:05Z",
        "agents": {"available": 0, "offered": 1, "on_call": 0, "wrap_up": 0, "away": 1,
                   "offline": 0},
        "today": {"offered": 3, "answered": 1, "answered_within_service_level": 1,
                  "abandoned": 0, "short_abandoned": 0, "service_level": 1.0,
                  "avg_wait_seconds": 30.0},
        "last_30_minutes": {"offered": 2, "answered": 0, "answered_within_service_level": 0,
                            "abandoned": 0, "short_abandoned": 0, "service_level": None,
                            "avg_wait_seconds": None},
    }  # fmt: skip
    assert body["waiting_calls"] == [
        {"id": world["c7"].pk, "queue": tokyo.pk, "priority": 2,
         "enqueued_at": "2026-03-10T14:58:10Z", "position": 1, "wait_seconds": 710},
        {"id": world["n3"].pk, "queue": york.pk, "priority": 1,
         "enqueued_at": "2026-03-10T15:00:05Z", "position": 1, "wait_seconds": 595},
        {"id": world["c6"].pk, "queue": tokyo.pk, "priority": 0,
         "enqueued_at": "2026-03-10T15:06:03Z", "position": 2, "wait_seconds": 237},
    ]  # fmt: skip
    agents = {row["id"]: row for row in body["agents"]}
    assert set(agents) == {world[k].pk for k in "abde"}  # C is only in another queue
    assert agents[world["a"].pk] == {
        "id": world["a"].pk, "name": "Ann Abe", "username": world["a"].user.username,
        "status": "available", "away_reason": "",
        "status_changed_at": "2026-03-10T14:10:00Z", "status_seconds": 3600,
        "activity": "on_call",
        "activity_changed_at": "2026-03-10T15:02:45Z", "activity_seconds": 435,
        "active_calls": 1, "max_concurrent_calls": 1, "calls_answered_today": 3,
        "current_call": {"id": world["c3"].pk, "queue": tokyo.pk, "stage": "connected",
                         "answered_at": "2026-03-10T15:02:45Z"},
    }  # fmt: skip
    b = agents[world["b"].pk]
    assert (b["activity"], b["calls_answered_today"]) == ("offered", 0)  # yesterday's counter
    assert b["current_call"] == {
        "id": world["n4"].pk,
        "queue": york.pk,
        "stage": "offered",
        "answered_at": None,
    }
    d = agents[world["d"].pk]
    assert (d["status"], d["away_reason"], d["status_seconds"]) == ("away", "lunch", 600)
    assert d["current_call"] is None
    e = agents[world["e"].pk]
    assert (e["status"], e["status_changed_at"], e["status_seconds"]) == ("offline", None, None)


def test_admin_sees_every_queue_and_agent(api, world):
    admin = UserFactory(roles=["admin"])
    body = as_user(api, admin).get(URL).json()
    # The view skips the output serializer; the documented schema still matches the body.
    documented = DashboardOutput(dashboard_snapshot(admin)).data
    assert json.loads(JSONRenderer().render(documented)) == body
    assert {q["name"] for q in body["queues"]} == {"Tokyo", "New York", "Other"}
    assert {a["id"] for a in body["agents"]} == {world[k].pk for k in "abcde"}
    assert len(body["waiting_calls"]) == 4


def test_agent_reads_a_reduced_snapshot(api, world):
    body = as_user(api, world["a"].user).get(URL).json()
    assert [q["name"] for q in body["queues"]] == ["Tokyo"]
    assert body["queues"][0]["today"]["offered"] == 6
    assert [a["id"] for a in body["agents"]] == [world["a"].pk]
    assert body["waiting_calls"] is None


def test_supervisor_sees_no_other_queue_and_no_number(api, world):
    body = as_user(api, world["supervisor"]).get(URL).content.decode()
    assert "Other" not in body
    assert "+1415555" not in body  # callers' numbers are never in the snapshot


def test_anonymous_gets_401_in_the_error_shape(api, world):
    response = api.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_user_without_a_role_gets_403(api, world):
    response = as_user(api, UserFactory()).get(URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_waiting_list_is_capped_in_service_order(api, monkeypatch):
    from dashboards import selectors

    monkeypatch.setattr(selectors, "WAITING_LIST_LIMIT", 3)
    queue = QueueFactory()
    start = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    calls = [
        CallFactory(queue=queue, stage=CallStage.WAITING, created_at=start,
                    enqueued_at=start + timedelta(seconds=i))
        for i in range(5)
    ]  # fmt: skip
    body = as_user(api, UserFactory(roles=["admin"])).get(URL).json()
    assert [(c["id"], c["position"]) for c in body["waiting_calls"]] == [
        (calls[0].pk, 1), (calls[1].pk, 2), (calls[2].pk, 3)
    ]  # fmt: skip
    assert body["queues"][0]["waiting"] == 5


def test_local_midnight_in_python_and_for_sqlite_agree():
    for tz, expected in (("Asia/Tokyo", "2026-03-10 15:00:00"),
                         ("America/New_York", "2026-03-10 04:00:00"),
                         ("UTC", "2026-03-10 00:00:00")):  # fmt: skip
        assert _sqlite_local_midnight("2026-03-10 15:10:00", tz) == expected
        assert local_midnight(NOW, tz).strftime("%Y-%m-%d %H:%M:%S") == expected
