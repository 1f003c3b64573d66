"""The snapshot's queries reach calls through indexes, never a sequential scan of the history
(PostgreSQL plans, planner left to its own choices on a table with 30 days of calls).

bench/bench_dashboard_snapshot.py shows the same plans at 1,000,000 calls.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callcenter.choices import CallDirection, CallOutcome, CallStage, CallStatus
from callcenter.models import Agent, Call
from dashboards.selectors import dashboard_snapshot
from tests.factories import AgentFactory, QueueFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

HISTORY, DAYS = 6000, 30


def history(queues, agents) -> None:
    """HISTORY ended calls spread over DAYS days, a few waiting and a few connected now."""
    now = timezone.now()
    step = timedelta(days=DAYS) / HISTORY
    rows = []
    for i in range(HISTORY):
        created = now - timedelta(days=DAYS) + i * step
        rows.append(Call(
            call_sid=f"CAhist{i:026d}", direction=CallDirection.INBOUND, from_number="+14155550100",
            to_number="+15005550006", status=CallStatus.COMPLETED, stage=CallStage.ENDED,
            outcome=CallOutcome.ANSWERED if i % 10 else CallOutcome.ABANDONED,
            queue=queues[i % len(queues)], agent=agents[i % len(agents)] if i % 10 else None,
            created_at=created, enqueued_at=created + timedelta(seconds=5),
            answered_at=created + timedelta(seconds=25) if i % 10 else None,
            ended_at=created + timedelta(seconds=200), wait_seconds=20,
        ))  # fmt: skip
    for i in range(40):
        created = now - timedelta(seconds=30 + i)
        rows.append(Call(
            call_sid=f"CAlive{i:026d}", direction=CallDirection.INBOUND, from_number="+14155550101",
            queue=queues[i % len(queues)], stage=CallStage.WAITING, created_at=created,
            enqueued_at=created, agent=None,
        ))  # fmt: skip
    Call.objects.bulk_create(rows)
    for agent in agents[:5]:
        created = now - timedelta(minutes=3)
        Call.objects.create(
            call_sid=f"CAtalk{agent.pk:026d}",
            direction=CallDirection.INBOUND,
            queue=queues[0],
            agent=agent,
            stage=CallStage.CONNECTED,
            created_at=created,
            enqueued_at=created,
            answered_at=created + timedelta(seconds=10),
        )
        Agent.objects.filter(pk=agent.pk).update(
            status="available", activity="on_call", active_calls=1
        )
    with connection.cursor() as cursor:
        for table in ("callcenter_call", "callcenter_agent", "callcenter_queuemembership"):
            cursor.execute(f"ANALYZE {table}")


def nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def plan_of(sql: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        raw = cursor.fetchone()[0]
    return list(nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]))


def scans_of_calls(plan: list[dict]) -> list[tuple[str, str]]:
    """(node type, index) of every read of callcenter_call; a bitmap heap scan is named after
    the bitmap index scans under it."""
    scans = []
    for node in plan:
        if node.get("Relation Name") != "callcenter_call":
            continue
        under = [n["Index Name"] for n in nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
        for name in under or [node.get("Index Name", "")]:
            scans.append((node["Node Type"], name))
    return scans


@pytest.fixture
def snapshot_sql():
    queues = [QueueFactory(time_zone=tz) for tz in ("Asia/Tokyo", "America/New_York", "UTC")]
    agents = [AgentFactory(queues=[queues[i % 3]]) for i in range(30)]
    history(queues, agents)
    user = UserFactory(roles=["admin"])
    dashboard_snapshot(user)  # roles cached on the user: only the snapshot's queries follow
    with CaptureQueriesContext(connection) as ctx:
        dashboard_snapshot(user)
    assert len(ctx.captured_queries) == 2
    return [query["sql"] for query in ctx.captured_queries]


def test_queue_figures_read_a_time_range_of_the_queue_created_index(snapshot_sql):
    plan = plan_of(snapshot_sql[0])
    scans = scans_of_calls(plan)
    assert scans and all(kind != "Seq Scan" for kind, _ in scans), scans
    # The figures: queue = q AND created_at >= the window's start, as an index condition.
    ranged = [
        node for node in plan
        if node.get("Index Name") == "call_queue_created_idx"
        and "created_at >=" in node.get("Index Cond", "")
    ]  # fmt: skip
    assert ranged, scans
    # The waiting counts and the waiting list read only the WAITING partial indexes.
    waiting = {name for _, name in scans if name.startswith("call_waiting_")}
    assert "call_waiting_queue_order_idx" in waiting, scans


def test_agents_current_calls_read_live_calls_only(snapshot_sql):
    scans = scans_of_calls(plan_of(snapshot_sql[1]))
    assert scans and all(kind != "Seq Scan" for kind, _ in scans), scans
    # Not-ended calls through their partial index, not each agent's history; legs' parents
    # by primary key.
    assert {name for _, name in scans} <= {"call_active_created_idx", "callcenter_call_pkey"}
    assert "call_active_created_idx" in {name for _, name in scans}
