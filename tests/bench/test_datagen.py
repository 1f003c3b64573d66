"""bench.datagen on the real PostgreSQL: the counts it reports are the rows it wrote, the rows
keep every invariant of the models (and the foreign keys whose checks it skips), they look like
a call center, and the same seed and clock give the same rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import CheckConstraint, Count, UniqueConstraint

from bench import datagen
from callcenter.choices import AgentStatus, CallOutcome, CallStage
from callcenter.models import Agent, Call, Queue, QueueMembership
from tests.factories import QueueFactory

# Not transactional on purpose: the generator's transaction becomes a savepoint, its
# `SET LOCAL session_replication_role` ends with the test's transaction, and the rollback
# leaves the database as it was. A transactional test would flush every table afterwards,
# the role groups of migration 0002 included, and break later transactional tests.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

NOW = datetime(2025, 3, 12, 15, 30, 7, tzinfo=UTC)  # pinned clock: a Wednesday afternoon
SIZES = {"agents": 300, "queues": 5, "calls": 3_000}
WAITING, DAYS, SEED = 25, 30, 7

User = get_user_model()
MODELS = (User, Agent, Queue, QueueMembership, Call)


def _generate(**overrides) -> dict:
    options = {**SIZES, "seed": SEED, "days": DAYS, "waiting": WAITING, "now": NOW}
    return datagen.generate(connection, **{**options, **overrides})


def _rows(sql: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _failing(checks: dict[str, str], params: dict | None = None) -> dict[str, list]:
    """Name → the first ids each query returns; every query selects the offending rows."""
    return {name: ids[:5] for name, sql in checks.items() if (ids := _rows(sql, params))}


def _empty() -> None:
    """Empty the generated tables and restart their ids (rolled back with the test)."""
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in MODELS)
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture
def made() -> dict:
    _empty()
    return _generate()


def test_reported_counts_are_the_rows_written(made):
    ended = Call.objects.filter(stage=CallStage.ENDED)
    assert made["queues"] == Queue.objects.count() == SIZES["queues"]
    assert made["users"] == User.objects.count() == SIZES["agents"]
    assert made["agents"] == Agent.objects.count() == SIZES["agents"]
    assert made["memberships"] == QueueMembership.objects.count()
    assert made["calls"] == ended.count() == SIZES["calls"]
    assert made["live_calls"] == Call.objects.exclude(stage=CallStage.ENDED).count()
    assert made["calls_waiting"] == Call.objects.waiting().count() == WAITING
    assert made["rows"] == sum(model.objects.count() for model in MODELS)
    assert made["foreign_key_triggers_skipped"] is True  # the test role is a superuser
    # Ids run 1..n with history first, and the sequences were reset past them.
    assert Call.objects.order_by("-id").values_list("id", flat=True)[0] == Call.objects.count()
    assert ended.order_by("-id").values_list("id", flat=True)[0] == SIZES["calls"]
    assert QueueFactory().pk == SIZES["queues"] + 1


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_check_and_unique_constraint_of_the_model_holds(made, model):
    """The models' own constraints, re-run as queries (constraints added later included)."""
    unique = [(f.name,) for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    for constraint in model._meta.constraints:
        if isinstance(constraint, CheckConstraint):
            broken = model.objects.exclude(constraint.condition).values_list("pk", flat=True)
            assert not broken.exists(), (constraint.name, list(broken[:5]))
        elif isinstance(constraint, UniqueConstraint) and constraint.condition is None:
            unique.append(tuple(constraint.fields))
    for fields in filter(None, unique):
        dupes = model.objects.values(*fields).annotate(n=Count("pk")).filter(n__gt=1)
        assert not dupes.exists(), (fields, list(dupes[:5]))


def test_domain_invariants_hold(made):
    """What routing and the dashboards rely on, spelled out in SQL (each query selects the
    rows that break the rule)."""
    checks = {
        "agent over capacity": "SELECT id FROM callcenter_agent "
        "WHERE active_calls > max_concurrent_calls OR active_calls < 0",
        "away reason iff away": "SELECT id FROM callcenter_agent "
        "WHERE (status = 'away') = (away_reason = '')",
        "wrap-up without a deadline": "SELECT id FROM callcenter_agent "
        "WHERE activity = 'wrap_up' AND wrap_up_until IS NULL",
        "busy while not available": "SELECT id FROM callcenter_agent "
        "WHERE status <> 'available' AND (activity <> 'idle' OR active_calls <> 0)",
        "on a call without calls": "SELECT id FROM callcenter_agent "
        "WHERE activity = 'on_call' AND active_calls < 1",
        "live calls do not match the agent's state": "SELECT a.id FROM callcenter_agent a "
        "LEFT JOIN callcenter_call c ON c.agent_id = a.id AND c.ended_at IS NULL "
        "GROUP BY a.id HAVING count(c.id) <> CASE a.activity WHEN 'on_call' THEN "
        "a.active_calls WHEN 'offered' THEN 1 ELSE 0 END",
        "ended before answered": "SELECT id FROM callcenter_call WHERE ended_at < answered_at",
        "before created": "SELECT id FROM callcenter_call WHERE enqueued_at < created_at "
        "OR answered_at < created_at OR ended_at < created_at",
        "in the future": "SELECT id FROM callcenter_call WHERE created_at > %(now)s "
        "OR enqueued_at > %(now)s OR answered_at > %(now)s OR ended_at > %(now)s",
        "before the history window": "SELECT id FROM callcenter_call "
        "WHERE created_at < %(now)s - make_interval(days => %(days)s + 1)",
        "stage ended iff ended_at": "SELECT id FROM callcenter_call "
        "WHERE (stage = 'ended') <> (ended_at IS NOT NULL)",
        "waiting without queue or enqueued_at": "SELECT id FROM callcenter_call "
        "WHERE stage = 'waiting' AND (queue_id IS NULL OR enqueued_at IS NULL "
        "OR agent_id IS NOT NULL OR answered_at IS NOT NULL)",
        "connected or offered without agent": "SELECT id FROM callcenter_call "
        "WHERE stage IN ('connected', 'offered') AND agent_id IS NULL",
        "answered without agent or times": "SELECT id FROM callcenter_call "
        "WHERE outcome = 'answered' AND (agent_id IS NULL OR answered_at IS NULL "
        "OR talk_seconds IS NULL)",
        "unanswered with an agent": "SELECT id FROM callcenter_call WHERE stage = 'ended' "
        "AND outcome <> 'answered' AND (agent_id IS NOT NULL OR answered_at IS NOT NULL)",
        "wait is not enqueued to answered": "SELECT id FROM callcenter_call "
        "WHERE stage = 'ended' AND answered_at IS NOT NULL "
        "AND answered_at - enqueued_at <> make_interval(secs => wait_seconds)",
        "negative durations": "SELECT id FROM callcenter_call "
        "WHERE wait_seconds < 0 OR talk_seconds < 0 OR hold_seconds < 0",
        "agent not a member of the call's queue": "SELECT c.id FROM callcenter_call c "
        "LEFT JOIN callcenter_queuemembership m ON m.agent_id = c.agent_id "
        "AND m.queue_id = c.queue_id WHERE c.agent_id IS NOT NULL AND m.id IS NULL",
        "call without queue": "SELECT id FROM callcenter_call WHERE queue_id IS NULL",
        "overflow to nowhere or to itself": "SELECT id FROM callcenter_queue "
        "WHERE (max_wait_action = 'overflow') <> (overflow_queue_id IS NOT NULL) "
        "OR overflow_queue_id = id",
        "membership tier outside 1-3": "SELECT id FROM callcenter_queuemembership "
        "WHERE level NOT BETWEEN 1 AND 3",
    }
    assert not _failing(checks, {"now": NOW, "days": DAYS})
    for queue in Queue.objects.all():  # the field validators too: names, time zones, hours
        queue.full_clean()


def test_foreign_keys_resolve(made):
    """session_replication_role = replica skipped the foreign-key triggers: check by hand."""
    user_table = connection.ops.quote_name(User._meta.db_table)
    orphans = {
        "agent.user": f"SELECT a.id FROM callcenter_agent a LEFT JOIN {user_table} u "  # noqa: S608
        "ON u.id = a.user_id WHERE u.id IS NULL",
        "membership.agent": "SELECT m.id FROM callcenter_queuemembership m "
        "LEFT JOIN callcenter_agent a ON a.id = m.agent_id WHERE a.id IS NULL",
        "membership.queue": "SELECT m.id FROM callcenter_queuemembership m "
        "LEFT JOIN callcenter_queue q ON q.id = m.queue_id WHERE q.id IS NULL",
        "call.queue": "SELECT c.id FROM callcenter_call c "
        "LEFT JOIN callcenter_queue q ON q.id = c.queue_id "
        "WHERE c.queue_id IS NOT NULL AND q.id IS NULL",
        "call.agent": "SELECT c.id FROM callcenter_call c "
        "LEFT JOIN callcenter_agent a ON a.id = c.agent_id "
        "WHERE c.agent_id IS NOT NULL AND a.id IS NULL",
        "call.parent": "SELECT c.id FROM callcenter_call c "
        "LEFT JOIN callcenter_call p ON p.id = c.parent_id "
        "WHERE c.parent_id IS NOT NULL AND p.id IS NULL",
        "queue.overflow_queue": "SELECT q.id FROM callcenter_queue q "
        "LEFT JOIN callcenter_queue o ON o.id = q.overflow_queue_id "
        "WHERE q.overflow_queue_id IS NOT NULL AND o.id IS NULL",
    }
    assert not _failing(orphans)


def test_distributions_are_plausible(made):
    ended = Call.objects.filter(stage=CallStage.ENDED)
    answered = ended.filter(outcome=CallOutcome.ANSWERED)
    assert 0.75 <= answered.count() / ended.count() <= 0.95
    outcomes = set(ended.values_list("outcome", flat=True).distinct())
    assert {CallOutcome.ABANDONED, CallOutcome.SHORT_ABANDONED} <= outcomes
    # The live tail: callers waiting and busy agents' calls.
    assert Call.objects.waiting().count() == WAITING
    assert Call.objects.filter(stage=CallStage.CONNECTED).exists()
    # Every agent in 1-3 distinct queues, some in more than one.
    per_agent = list(Agent.objects.annotate(n=Count("memberships")).values_list("n", flat=True))
    assert min(per_agent) >= 1 and max(per_agent) <= 3 and per_agent.count(1) < len(per_agent)
    # Zipf-like popularity: every queue gets calls, the busiest far more than the quietest.
    per_queue = sorted(Call.objects.values_list("queue").annotate(n=Count("id")).values_list("n"))
    assert len(per_queue) == SIZES["queues"] and per_queue[-1][0] > 2 * per_queue[0][0]
    # Agents in a mix of states.
    statuses = dict(Agent.objects.values_list("status").annotate(n=Count("id")))
    assert set(statuses) == set(AgentStatus.values)
    assert 0.2 <= statuses[AgentStatus.AVAILABLE] / SIZES["agents"] <= 0.5
    # Waits around 40 s on average, talk times around 180 s in the median.
    waits = list(answered.values_list("wait_seconds", flat=True))
    talks = sorted(answered.values_list("talk_seconds", flat=True))
    assert 20 <= sum(waits) / len(waits) <= 70
    assert 120 <= talks[len(talks) // 2] <= 260
    # Arrivals follow the working day in each queue's time zone: 9-17 local is busy, 0-6 quiet.
    day, night = _rows(
        "SELECT count(*) FILTER (WHERE h BETWEEN 9 AND 16), count(*) FILTER (WHERE h < 6) "
        "FROM (SELECT extract(hour FROM c.created_at AT TIME ZONE q.time_zone) AS h "
        "FROM callcenter_call c JOIN callcenter_queue q ON q.id = c.queue_id "
        "WHERE c.stage = 'ended') AS local"
    )[0]
    assert day > 10 * night


def _digest() -> dict[str, str]:
    """Per table, an md5 of every row in id order (all columns, as PostgreSQL prints them)."""
    digests = {}
    for model in MODELS:
        table = connection.ops.quote_name(model._meta.db_table)  # identifiers, not input
        sql = f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t"  # noqa: S608
        digests[model.__name__] = _rows(sql)[0][0]
    return digests


def test_the_same_seed_and_clock_give_the_same_rows():
    sizes = {"agents": 120, "queues": 4, "calls": 1_500, "waiting": None}
    _empty()
    first = _generate(**sizes)
    digest = _digest()
    _empty()
    again = _generate(**sizes)
    assert _digest() == digest
    timings = ("copy_seconds", "analyze_seconds", "seconds", "rows_per_second")
    assert {k: v for k, v in again.items() if k not in timings} == {
        k: v for k, v in first.items() if k not in timings
    }
    assert first["calls_waiting"] == 1  # the default: calls // 2000, at least one
    _empty()
    _generate(**sizes, seed=SEED + 1)
    other = _digest()
    assert all(other[name] != digest[name] for name in ("Agent", "Queue", "Call"))
