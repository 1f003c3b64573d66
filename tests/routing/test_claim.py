"""Claiming: strategies, tiers, global fairness, capacity, no second offer to a missing agent."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callcenter.choices import AgentActivity, CallStage, RoutingStrategy
from callcenter.models import Agent, AgentStatusEvent, Call, QueueMembership
from routing.models import Reservation, ReservationStatus
from routing.services import routing_claim_next, routing_run
from telephony.models import Operation, OperationKind
from tests.factories import AgentFactory, QueueFactory, waiting_call

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def available(queue, *, idle_minutes=0, **fields) -> Agent:
    agent = AgentFactory(queues=[queue])
    Agent.objects.filter(pk=agent.pk).update(
        status="available", idle_since=NOW - timedelta(minutes=idle_minutes), **fields
    )
    return Agent.objects.get(pk=agent.pk)


def claimed_agent(django_capture_on_commit_callbacks) -> Agent:
    with django_capture_on_commit_callbacks(execute=False):
        reservation = routing_claim_next()
    assert reservation is not None
    return reservation.agent


@pytest.mark.parametrize(
    ("strategy", "fields", "winner"),
    [
        (RoutingStrategy.LONGEST_IDLE, [{"idle_minutes": 5}, {"idle_minutes": 30}], 1),
        (
            RoutingStrategy.ROUND_ROBIN,
            [{"last_offered_at": NOW}, {"last_offered_at": NOW - timedelta(hours=1)}],
            1,
        ),
        (RoutingStrategy.ROUND_ROBIN, [{"last_offered_at": NOW}, {}], 1),  # never offered: first
        (
            RoutingStrategy.FEWEST_CALLS,
            [{"calls_answered_today": 3}, {"calls_answered_today": 9}],
            0,
        ),
        (
            RoutingStrategy.LEAST_TALK_TIME,
            [{"talk_seconds_today": 900}, {"talk_seconds_today": 60}],
            1,
        ),
    ],
)
def test_strategies(strategy, fields, winner, django_capture_on_commit_callbacks):
    queue = QueueFactory(strategy=strategy)
    agents = [available(queue, **f) for f in fields]
    waiting_call(queue)
    assert claimed_agent(django_capture_on_commit_callbacks) == agents[winner]


def test_random_picks_an_eligible_member(django_capture_on_commit_callbacks):
    queue = QueueFactory(strategy=RoutingStrategy.RANDOM)
    agents = [available(queue) for _ in range(3)]
    AgentFactory(queues=[queue])  # offline
    waiting_call(queue)
    assert claimed_agent(django_capture_on_commit_callbacks) in agents


def test_tiers_come_before_the_strategy(django_capture_on_commit_callbacks):
    queue = QueueFactory(use_tiers=True)
    backup = available(queue, idle_minutes=60)
    first_line = available(queue, idle_minutes=1)
    QueueMembership.objects.filter(agent=backup).update(level=2)
    waiting_call(queue)
    assert claimed_agent(django_capture_on_commit_callbacks) == first_line


def test_callers_by_priority_then_true_wait_across_queues(django_capture_on_commit_callbacks):
    sales, support = QueueFactory(), QueueFactory()
    agent = AgentFactory(queues=[sales, support])
    Agent.objects.filter(pk=agent.pk).update(status="available")
    newer = waiting_call(sales, waited=timedelta(seconds=30))
    older = waiting_call(support, waited=timedelta(seconds=90))
    vip = waiting_call(sales, waited=timedelta(seconds=5), priority=5)
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next().call == vip
    Agent.objects.filter(pk=agent.pk).update(activity="idle", active_calls=0)
    Reservation.objects.update(status="completed", ended_at=NOW)
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next().call == older
    assert Call.objects.get(pk=newer.pk).stage == CallStage.WAITING


def test_an_offer_reserves_the_agent_and_rings_after_commit(django_capture_on_commit_callbacks):
    queue = QueueFactory(ring_timeout_seconds=15)
    agent = available(queue)
    call = waiting_call(queue)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reservation = routing_claim_next()
    assert reservation.status == ReservationStatus.OFFERED
    assert (reservation.expires_at - reservation.offered_at) == timedelta(seconds=15)
    agent.refresh_from_db()
    assert (agent.activity, agent.active_calls) == (AgentActivity.OFFERED, 1)
    assert agent.last_offered_at == reservation.offered_at
    event = AgentStatusEvent.objects.get(agent=agent)
    assert (event.source, event.to_activity) == ("system", "offered")
    assert Call.objects.get(pk=call.pk).stage == CallStage.OFFERED
    dial = Operation.objects.get(kind=OperationKind.DIAL_AGENT)
    assert dial.params["identity"] == agent.softphone_identity and dial.params["ring_timeout"] == 15
    # The ring is queued for after commit (beside the realtime pushes).
    assert [cb.__qualname__ for cb in callbacks].count("offer_made.<locals>.<lambda>") == 1


@pytest.mark.postgres
def test_a_claim_is_one_statement_and_the_offer_event(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    available(queue), available(queue)
    waiting_call(queue), waiting_call(queue)
    claimed_agent(django_capture_on_commit_callbacks)  # the connection prepares the claim
    with (
        django_capture_on_commit_callbacks(execute=False),
        CaptureQueriesContext(connection) as queries,
    ):
        assert routing_claim_next() is not None
    # The claim statement, then the offer in the agent's event log (realtime).
    statements = [q["sql"] for q in queries.captured_queries]
    assert [sql.split()[0] for sql in statements] == ["EXECUTE", "WITH"], statements


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded run's claim")
def test_an_embedded_claim_is_the_pick_the_reservation_and_the_offer_steps(
    django_capture_on_commit_callbacks,
):
    queue = QueueFactory()
    available(queue), available(queue)
    waiting_call(queue), waiting_call(queue)
    claimed_agent(django_capture_on_commit_callbacks)
    with (
        django_capture_on_commit_callbacks(execute=False),
        CaptureQueriesContext(connection) as queries,
    ):
        assert routing_claim_next() is not None
    # The pick, the reservation, the offer's six steps, then the offer in the agent's event log
    # (its cursor and its row: realtime.publish on SQLite).
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["WITH", "INSERT", *["WITH"] * 6, "INSERT", "INSERT"], statements


def test_a_race_the_constraints_catch_is_lost_and_writes_nothing(
    django_capture_on_commit_callbacks,
):
    """As when another router's offer of the call committed in between: the partial unique
    constraint (one open reservation per call) refuses the reservation, nothing is written."""
    queue = QueueFactory()
    agent, other = available(queue, idle_minutes=5), available(queue)
    call = waiting_call(queue)
    Reservation.objects.create(
        call=call, agent=other, queue=queue, offered_at=NOW, expires_at=NOW + timedelta(seconds=20)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert routing_claim_next() is None
    assert callbacks == []
    assert Reservation.objects.count() == 1
    assert Agent.objects.get(pk=agent.pk).activity == AgentActivity.IDLE
    assert not AgentStatusEvent.objects.exists() and not Operation.objects.exists()
    assert Call.objects.get(pk=call.pk).stage == CallStage.WAITING


def test_busy_offline_and_full_agents_are_skipped(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    AgentFactory(queues=[queue])  # offline
    busy = available(queue, activity="on_call", active_calls=1)
    roomy = available(
        queue, idle_minutes=0, activity="on_call", active_calls=1, max_concurrent_calls=2
    )
    waiting_call(queue)
    assert claimed_agent(django_capture_on_commit_callbacks) == roomy
    assert Agent.objects.get(pk=busy.pk).active_calls == 1


def test_an_agent_who_missed_the_call_is_not_offered_it_again(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    missed = available(queue, idle_minutes=30)
    other = available(queue, idle_minutes=1)
    call = waiting_call(queue)
    Reservation.objects.create(
        call=call,
        agent=missed,
        queue=queue,
        status="timed_out",
        offered_at=NOW,
        expires_at=NOW + timedelta(seconds=20),
        ended_at=NOW,
    )
    assert claimed_agent(django_capture_on_commit_callbacks) == other


def test_nothing_to_claim(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    waiting_call(queue)  # nobody available
    available(QueueFactory())  # available, other queue
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next() is None
        assert routing_run() == 0


def test_the_next_tier_serves_when_the_first_has_nobody(django_capture_on_commit_callbacks):
    queue = QueueFactory(use_tiers=True)
    AgentFactory(queues=[queue])  # tier 1, offline
    backup = available(queue, idle_minutes=1)
    QueueMembership.objects.filter(agent=backup).update(level=2)
    waiting_call(queue)
    assert claimed_agent(django_capture_on_commit_callbacks) == backup
