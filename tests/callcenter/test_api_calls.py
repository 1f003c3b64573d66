"""Calls API: filters, bad input, who sees what, callers' numbers only where allowed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import as_user, queries_for
from tests.factories import AgentFactory, QueueFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db


def sids(api, user, query="") -> set[str]:
    response = as_user(api, user).get(f"/api/v1/calls/{query}")
    assert response.status_code == 200, response.json()
    return {row["call_sid"] for row in response.json()["results"]}


def test_fields(api, admin_user, queue, agent):
    call = ended_call(queue, agent)
    row = as_user(api, admin_user).get(f"/api/v1/calls/{call.pk}/").json()
    for field in (
        "id",
        "call_sid",
        "direction",
        "from_number",
        "to_number",
        "status",
        "queue",
        "agent",
        "created_at",
        "enqueued_at",
        "answered_at",
        "ended_at",
        "wait_seconds",
        "talk_seconds",
    ):
        assert field in row
    assert row["status"] == "completed" and row["queue"] == queue.pk and row["agent"] == agent.pk
    assert row["from_number"] == call.from_number


def test_filters(api, admin_user, queue, agent):
    old = ended_call(queue, agent)
    type(old).objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    live = waiting_call(queue)
    elsewhere = waiting_call(QueueFactory())
    assert sids(api, admin_user, f"?call_sid={live.call_sid}") == {live.call_sid}
    assert sids(api, admin_user, "?status=completed") == {old.call_sid}
    assert sids(api, admin_user, f"?queue={queue.pk}") == {old.call_sid, live.call_sid}
    assert sids(api, admin_user, f"?agent={agent.pk}") == {old.call_sid}
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert sids(api, admin_user, f"?created_after={since}") == {live.call_sid, elsewhere.call_sid}
    assert sids(api, admin_user, f"?created_before={since}") == {old.call_sid}
    leg = ended_call(None, agent, parent=old, call_sid="CA" + "9" * 32)
    assert sids(api, admin_user, f"?agent={agent.pk}") == {old.call_sid, leg.call_sid}
    assert sids(api, admin_user, f"?agent={agent.pk}&legs=false") == {old.call_sid}
    assert sids(api, admin_user, f"?agent={agent.pk}&legs=true") == {old.call_sid, leg.call_sid}


@pytest.mark.parametrize(
    "query",
    [
        "?status=talking",
        "?created_after=yesterday",
        "?queue=abc",
        "?agent=-1",
        "?page=9",
        "?legs=maybe",
    ],
)
def test_bad_filters_are_400_or_404_in_the_error_shape(api, admin_user, query):
    response = as_user(api, admin_user).get(f"/api/v1/calls/{query}")
    assert response.status_code in (400, 404)
    assert set(response.json()["error"]) >= {"status", "code", "message"}


def test_visibility_and_number_masking(api, queue):
    me = AgentFactory(queues=[queue])
    colleague = AgentFactory(queues=[queue])
    mine = ended_call(queue, me)
    theirs = ended_call(queue, colleague)
    foreign = ended_call(QueueFactory(), AgentFactory())

    rows = {r["call_sid"]: r for r in as_user(api, me.user).get("/api/v1/calls/").json()["results"]}
    assert set(rows) == {mine.call_sid, theirs.call_sid}
    assert rows[mine.call_sid]["from_number"] == mine.from_number
    assert rows[theirs.call_sid]["from_number"] is None  # a colleague's caller
    assert rows[theirs.call_sid]["to_number"] == theirs.to_number  # our own number
    assert as_user(api, me.user).get(f"/api/v1/calls/{foreign.pk}/").status_code == 404


def test_supervisor_sees_numbers_on_their_queues(api, supervisor, queue):
    call = ended_call(queue, AgentFactory(queues=[queue]))
    foreign = ended_call(QueueFactory())
    rows = {
        r["call_sid"]: r for r in as_user(api, supervisor).get("/api/v1/calls/").json()["results"]
    }
    assert set(rows) == {call.call_sid}
    assert rows[call.call_sid]["from_number"] == call.from_number
    assert foreign.call_sid not in rows


def test_list_query_count_is_constant(api, supervisor, queue):
    agents = AgentFactory.create_batch(2, queues=[queue])
    for a in agents:
        ended_call(queue, a)
    small = queries_for(api, supervisor, "/api/v1/calls/")
    for _ in range(30):
        ended_call(queue, agents[0])
    assert queries_for(api, supervisor, "/api/v1/calls/") == small
    # roles, count, the page, the viewer's supervised queues (numbers are visible there)
    assert small == 4
