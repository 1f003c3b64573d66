"""The SQL derivation of queue-entry facts gives exactly what the Python replay of the rules
(tests/analytics/oracle.py) gives, on random calls with random callbacks: markers in any
order and queue (unknown ones too), odd QueueTime values, conference legs and holds, and
wrap-ups; both for a set of call ids (the one-minute run) and for a range (a recompute), and
both with the common shape derived in one pass and with every call through the general
steps (analytics.facts.common_shape)."""

from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analytics.facts import derivation, rebuild_call_facts, store
from analytics.models import QueueEntryFact
from analytics.services import recompute_facts
from callcenter.choices import CallOutcome
from tests.analytics.builders import agent_event, conference, ended_call, stored_event
from tests.analytics.oracle import assert_stored_facts_match
from tests.factories import AgentFactory, QueueFactory

pytestmark = pytest.mark.django_db
BASE = datetime(2026, 3, 1, 23, 50, tzinfo=UTC)  # near midnight in the queues' zones
S = timedelta(seconds=1)
MISSING_QUEUE = 10**9

instants = st.integers(0, 900).map(lambda s: s * S) | st.integers(0, 900_000_000).map(
    lambda us: timedelta(microseconds=us)
)
marker = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["transfer", "enqueue-action"]),
        "queue": st.sampled_from([0, 1, 2, "missing", "text", "zero"]),
        "at": instants,
        "result": st.sampled_from(["redirected", "hangup", "leave", "error", "system-error"]),
        "waited": st.sampled_from([None, 0, 7, 30, 600, "12", "x", -3, 2.5]),
    }
)
moves = st.lists(
    st.tuples(
        st.sampled_from(
            ["participant-join", "participant-leave", "participant-hold", "participant-unhold"]
        ),
        st.sampled_from(["customer", "agent0", "agent1", "stranger"]),
        instants,
    ),
    max_size=8,
)
# The common shape (nearly every production call): at most one <Enqueue> action; the
# customer's and one agent leg's join and leave, each maybe missing, in any order; no hold.
common_markers = st.lists(marker.map(lambda m: {**m, "kind": "enqueue-action"}), max_size=1)
_leg = st.tuples(st.booleans(), st.booleans(), instants, instants)
common_moves = st.tuples(_leg, _leg, st.sampled_from(["agent0", "agent1", "stranger"])).map(
    lambda legs: [
        (what, who, at)
        for (joins, leaves, joined, left), who in ((legs[0], "customer"), (legs[1], legs[2]))
        for what, at, present in (("participant-join", joined, joins),
                                  ("participant-leave", left, leaves))
        if present
    ]
)  # fmt: skip


def _calls(markers, moves):
    return st.lists(
        st.fixed_dictionaries(
            {
                "queue": st.sampled_from([0, 1, 2, None]),
                "start": instants,
                "enqueued": st.none() | instants,
                "answered": st.none() | instants,
                "length": instants,
                "agent": st.sampled_from([0, 1, None]),
                "hold": st.integers(0, 60),
                "outcome": st.sampled_from(CallOutcome.values),
                "markers": markers,
                "moves": moves,
                # A wrap-up of an agent beginning near the call's end (-6 s to +125 s).
                "wrap_up": st.none()
                | st.tuples(st.integers(0, 1), st.integers(-6, 125), st.integers(1, 400)),
            }
        ),
        min_size=1,
        max_size=4,
    )


def _common(**spec):
    """An answered call of the common shape: the <Enqueue> action of its queue, 8 s in."""
    exit_ = {"kind": "enqueue-action", "queue": 0, "at": 8 * S, "result": "bridged",
             "waited": 8}  # fmt: skip
    return {"queue": 0, "start": 0 * S, "enqueued": 0 * S, "answered": 8 * S, "length": 60 * S,
            "agent": 0, "hold": 0, "outcome": "answered", "markers": [exit_], "moves": [],
            "wrap_up": None, **spec}  # fmt: skip


def _interleaving(*moves):
    """An example of one common-shape call with these conference moves (what, who, second)."""
    moves = [(f"participant-{what}", who, second * S) for what, who, second in moves]
    return example(specs=[_common(moves=moves)], steps=[])


calls = _calls(st.lists(marker, max_size=5), moves)
common_calls = _calls(common_markers, common_moves)
status_changes = st.lists(
    st.tuples(
        st.integers(0, 1),
        instants,
        st.sampled_from(["idle", "on_call", "wrap_up"]),
        st.sampled_from(["idle", "on_call", "wrap_up"]),
    ),
    max_size=8,
)


def _write(spec, queues, agents, steps):
    created = BASE + spec["start"]
    enqueued = None if spec["enqueued"] is None else created + spec["enqueued"]
    answered = None if spec["answered"] is None else created + spec["answered"]
    ended = max(created, enqueued or created, answered or created) + spec["length"]
    queue = None if spec["queue"] is None else queues[spec["queue"]]
    agent = None if spec["agent"] is None else agents[spec["agent"]]
    call = ended_call(queue, created=created, enqueued=enqueued, answered=answered, ended=ended,
                      agent=agent, hold=spec["hold"], outcome=spec["outcome"])  # fmt: skip
    for m in spec["markers"]:
        odd = {"missing": MISSING_QUEUE, "text": str(queues[1].pk), "zero": 0}
        queue_id = odd[m["queue"]] if m["queue"] in odd else queues[m["queue"]].pk
        payload = {"CallSid": call.call_sid, "QueueResult": m["result"]}
        if m["waited"] is not None:
            payload["QueueTime"] = m["waited"]
        stored_event(call, m["kind"], created + m["at"], payload, {"queue": queue_id})
    if spec["wrap_up"] is not None:
        who, delay, length = spec["wrap_up"]
        steps.append((who, ended + delay * S, "on_call", "wrap_up"))
        steps.append((who, ended + (delay + length) * S, "wrap_up", "idle"))
    for what, who, at in spec["moves"]:
        if who == "customer":
            conference(call, created + at, what, sid=call.call_sid)
        elif who == "stranger":
            conference(call, created + at, what, sid="CA-stranger", label="agent:nobody")
        else:
            i = int(who[-1])
            conference(call, created + at, what, sid=f"CA-leg-{i}",
                       label=f"agent:{agents[i].softphone_identity}")  # fmt: skip
    return call


def _replay_settings(examples: int):
    """Hypothesis settings of a replay test (each example writes rows in the test database)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


_LATE_TRANSFER = {"kind": "transfer", "queue": 0, "at": 1 * S, "result": "redirected",
                  "waited": None}  # fmt: skip


@_replay_settings(100)
@given(specs=calls, steps=status_changes)
# Found by hypothesis: a transfer stamped after its call's end, the wrap-up 120 s after it.
@example(
    specs=[{"queue": 0, "start": 0 * S, "enqueued": None, "answered": 0 * S, "length": 0 * S,
            "agent": 0, "hold": 0, "outcome": "answered", "moves": [], "wrap_up": (0, 121, 1),
            "markers": [{**_LATE_TRANSFER, "at": 0 * S}, _LATE_TRANSFER]}],
    steps=[],
)  # fmt: skip
def test_sql_facts_equal_the_python_replay(db, specs, steps):
    _check_against_the_replay(specs, steps)


@_replay_settings(60)
@given(specs=common_calls, steps=status_changes)
# The interleavings that matter, each once for sure: the agent gone before the customer came,
# a customer's leave stamped before their join, a leg that never joined, a stranger's leg,
# another agent's leg leaving (two agent legs: the general steps), no callback at all.
@_interleaving(
    ("join", "agent0", 10),
    ("leave", "agent0", 20),
    ("join", "customer", 30),
    ("leave", "customer", 90),
)
@_interleaving(("leave", "customer", 5), ("join", "customer", 30), ("join", "agent1", 40))
@_interleaving(("join", "agent0", 40), ("leave", "agent0", 60))
@_interleaving(("join", "customer", 30), ("join", "stranger", 40))
@_interleaving(("join", "agent0", 10), ("leave", "agent1", 20), ("join", "customer", 30))
@example(specs=[_common(markers=[], moves=[])], steps=[])
def test_common_shape_facts_equal_the_python_replay(db, specs, steps):
    _check_against_the_replay(specs, steps)


def _check_against_the_replay(specs, steps):
    savepoint = transaction.savepoint()
    try:
        queues = [
            QueueFactory(time_zone="America/New_York", short_abandon_seconds=5),
            QueueFactory(time_zone="Asia/Kolkata", short_abandon_seconds=10,
                         service_level_seconds=30),
            QueueFactory(time_zone="UTC", short_abandon_seconds=0),
        ]  # fmt: skip
        agents = [AgentFactory(queues=queues), AgentFactory(queues=queues)]
        steps = [(who, BASE + at, before, after) for who, at, before, after in steps]
        call_ids = [_write(spec, queues, agents, steps).pk for spec in specs]
        current: dict[int, str] = {}  # each change starts where the agent's last one ended,
        for who, at, before, after in sorted(steps, key=lambda s: s[1]):  # as in production
            before = current.get(who, before)
            agent_event(agents[who], at, "available", after, ("available", before))
            current[who] = after
        rebuild_call_facts(call_ids)
        assert_stored_facts_match(call_ids)
        QueueEntryFact.objects.all().delete()
        recompute_facts(None, None, now=BASE + timedelta(days=1))
        assert_stored_facts_match(call_ids)
        QueueEntryFact.objects.all().delete()
        with patch.object(store, "BULK_CALLS", 0):  # a backlog: derived by hash joins
            rebuild_call_facts(call_ids)
        assert_stored_facts_match(call_ids)
        QueueEntryFact.objects.all().delete()
        with patch.object(derivation, "ONE_PASS", False):  # every call by the general steps
            rebuild_call_facts(call_ids)
        assert_stored_facts_match(call_ids)
    finally:
        transaction.savepoint_rollback(savepoint)
