"""Property: the incremental rollup, run at random batch boundaries over a random stream of
calls (some stored late) and agent status changes, ends with the same rows as one full
recompute; running it again at the same instant changes nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import kpis
from analytics.models import (
    DAY_PERCENTILE_COLUMNS,
    AgentInterval,
    MissedOfferFact,
    QueueDay,
    QueueEntryFact,
    QueueInterval,
    RollupState,
)
from analytics.services import rollup_run
from callcenter.choices import CallOutcome
from tests.analytics.builders import agent_event, ended_call, queue_exit, transfer
from tests.factories import AgentFactory, QueueFactory

pytestmark = pytest.mark.django_db
BASE = datetime(2026, 3, 1, 23, 10, tzinfo=UTC)  # crosses midnight in both queues' zones
S = timedelta(seconds=1)
TABLES = (QueueEntryFact, MissedOfferFact, QueueInterval, QueueDay, AgentInterval)

calls = st.lists(
    st.fixed_dictionaries(
        {
            "start": st.integers(0, 3 * 3600),
            "shape": st.sampled_from(["answered", "abandoned", "overflow", "moved", "callback"]),
            "queue": st.integers(0, 1),
            "agent": st.integers(0, 1),
            "wait": st.integers(0, 90),
            "talk": st.integers(0, 900),
            "lag": st.integers(0, 1800),  # stored this long after the call ended (late)
        }
    ),
    max_size=8,
)
agent_steps = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.integers(1, 1800),
        st.sampled_from(["offline", "available", "away"]),
        st.sampled_from(["idle", "offered", "on_call", "wrap_up"]),
    ),
    max_size=12,
)
boundaries = st.lists(st.integers(0, 4 * 3600), max_size=5)


def _snapshot(with_ids: bool):
    out = {}
    for model in TABLES:
        fields = [f.attname for f in model._meta.concrete_fields if with_ids or f.name != "id"]
        out[model.__name__] = sorted(map(repr, model.objects.values_list(*fields)))
    return out


def _assert_day_percentiles_are_their_histograms():
    """A day's stored percentile buckets are those kpis.percentiles finds in its histogram."""
    for day in QueueDay.objects.all():
        for name, columns in DAY_PERCENTILE_COLUMNS.items():
            stored = [getattr(day, column) for column in columns]
            edges = [None if index is None else kpis.EDGES[index] for index in stored]
            histogram = bytes(getattr(day, f"{name}_histogram"))
            assert edges == list(kpis.percentiles(histogram).values()), (day, name)


def _call_writer(spec, queues, agents):
    """(when it is stored, a function storing the call and its callbacks at that instant)."""
    q, other = queues[spec["queue"]], queues[1 - spec["queue"]]
    agent = agents[spec["agent"]]
    enter = BASE + spec["start"] * S
    wait, talk, shape = spec["wait"], spec["talk"], spec["shape"]
    second = enter + wait * S  # when the first queue was left
    end = second + (talk if shape == "answered" else wait) * S
    stored = end + spec["lag"] * S

    def write():
        if shape == "answered":
            call = ended_call(q, created=enter, enqueued=enter, answered=second, ended=end,
                              agent=agent)  # fmt: skip
            queue_exit(call, q, second, "redirected", wait, received=stored)
        elif shape == "abandoned":
            call = ended_call(q, created=enter, enqueued=enter, ended=second,
                              outcome=CallOutcome.ABANDONED)  # fmt: skip
            queue_exit(call, q, second, "hangup", wait, received=stored)
        elif shape == "callback":
            call = ended_call(q, created=enter, enqueued=enter, ended=second,
                              outcome=CallOutcome.CALLBACK)  # fmt: skip
            queue_exit(call, q, second, "leave", wait, received=stored)
        else:  # overflow or moved: a second entry in the other queue, abandoned there
            call = ended_call(other, created=enter, enqueued=second, ended=end,
                              outcome=CallOutcome.ABANDONED)  # fmt: skip
            queue_exit(call, q, second, "leave" if shape == "overflow" else "redirected", wait,
                       received=stored)  # fmt: skip
            if shape == "moved":
                transfer(call, other, second, received=stored)
            queue_exit(call, other, end, "hangup", wait, received=stored)

    return stored, write


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calls=calls, steps=agent_steps, cuts=boundaries)
def test_incremental_rollups_equal_a_full_recompute(db, calls, steps, cuts):
    savepoint = transaction.savepoint()
    try:
        queues = [
            QueueFactory(time_zone="Asia/Kolkata", short_abandon_seconds=5),
            QueueFactory(time_zone="America/New_York", short_abandon_seconds=10),
        ]
        agents = [AgentFactory(queues=queues), AgentFactory(queues=queues)]
        writes = [_call_writer(spec, queues, agents) for spec in calls]
        clock = {0: BASE, 1: BASE}
        state = {0: ("offline", "idle"), 1: ("offline", "idle")}
        for who, gap, status, activity in steps:
            clock[who] += gap * S
            at, previous = clock[who], state[who]

            def write(who=who, at=at, previous=previous, status=status, activity=activity):
                agent_event(agents[who], at, status, activity, previous)

            writes.append((at, write))
            state[who] = (status, activity)
        writes.sort(key=lambda w: w[0])
        times = sorted(BASE + c * S for c in cuts)
        end = max([w[0] for w in writes] + times + [BASE]) + S
        pending = list(writes)
        for cut in [*times, end]:
            while pending and pending[0][0] <= cut:
                pending.pop(0)[1]()
            rollup_run(now=cut)
        incremental, content = _snapshot(with_ids=True), _snapshot(with_ids=False)
        assert any(content.values()) or not calls
        _assert_day_percentiles_are_their_histograms()
        rollup_run(now=end)
        assert _snapshot(with_ids=True) == incremental, "a second run changed rows"

        for model in (*TABLES, RollupState):
            model.objects.all().delete()
        rollup_run(now=end)
        assert _snapshot(with_ids=False) == content
    finally:
        transaction.savepoint_rollback(savepoint)
