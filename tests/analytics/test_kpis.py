"""KPIs over hand-built event sequences, each number worked out by hand from the formulas."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import kpis, selectors
from analytics.models import AgentInterval, EntryOutcome, QueueDay, QueueEntryFact
from analytics.services import rollup_run
from callcenter.choices import CallOutcome
from routing.models import Reservation, ReservationStatus
from tests.analytics.builders import (
    agent_event,
    agent_timeline,
    conference,
    ended_call,
    queue_exit,
    transfer,
)
from tests.analytics.oracle import assert_stored_facts_match
from tests.factories import AgentFactory, QueueFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # a Monday
S = timedelta(seconds=1)
LATER = T0 + timedelta(days=2)


@pytest.fixture(autouse=True)
def facts_match_the_python_replay(db):
    """Every scenario here also checks the SQL derivation against tests/analytics/oracle.py."""
    yield
    assert_stored_facts_match(set(QueueEntryFact.objects.values_list("call_id", flat=True)))


def report(queue, day=date(2026, 1, 5)):
    return selectors.queue_report([queue], day, day)[0]


@pytest.fixture
def q(db):
    return QueueFactory(service_level_seconds=20, short_abandon_seconds=5)


def abandoned(queue, at, waited):
    call = ended_call(queue, created=at, enqueued=at, ended=at + waited * S,
                      outcome=CallOutcome.ABANDONED)  # fmt: skip
    queue_exit(call, queue, at + waited * S, "hangup", waited)
    return call


def test_short_abandons_and_an_abandon_right_at_the_threshold(q):
    abandoned(q, T0, 3)  # short: 3 < 5
    abandoned(q, T0 + 60 * S, 4)  # short: 4 < 5
    abandoned(q, T0 + 120 * S, 5)  # at the threshold: abandoned (wait ≥ threshold)
    abandoned(q, T0 + 180 * S, 41)
    rollup_run(now=LATER)
    r = report(q)
    assert r["offered"] == 4
    assert r["short_abandoned"] == 2
    assert r["abandoned"] == 2
    assert r["answered"] == 0
    assert r["avg_abandon_seconds"] == (5 + 41) / 2  # 23.0: short abandons left out
    assert r["service_level"] == 0.0  # 0 within ÷ (0 answered + 2 abandoned)
    assert r["longest_wait_seconds"] == 41
    assert r["wait_p50_seconds"] is None  # percentiles are over answered entries


def test_answered_service_level_asa_aht_and_percentiles(q):
    alice, bob = AgentFactory(queues=[q]), AgentFactory(queues=[q])
    # Answered after 10 s, talked 60 s, then 30 s of wrap-up: handle 90.
    ended_call(q, created=T0, enqueued=T0, answered=T0 + 10 * S, ended=T0 + 70 * S, agent=alice)
    agent_timeline(alice, [(T0 - 60 * S, "available", "idle"), (T0 + 5 * S, "available", "offered"),
                           (T0 + 10 * S, "available", "on_call"),
                           (T0 + 70 * S, "available", "wrap_up"),
                           (T0 + 100 * S, "available", "idle"),
                           (T0 + 300 * S, "offline", "idle")])  # fmt: skip
    # Answered after 30 s (over the 20 s target), 150 s connected of which 15 on hold:
    # talk 135, hold 15, no wrap-up: handle 150.
    ended_call(q, created=T0 + 5 * S, enqueued=T0 + 5 * S, answered=T0 + 35 * S,
               ended=T0 + 185 * S, agent=bob, hold=15)  # fmt: skip
    abandoned(q, T0 + 200 * S, 12)
    rollup_run(now=LATER)
    r = report(q)
    assert (r["offered"], r["answered"], r["abandoned"]) == (3, 2, 1)
    assert r["answered_within_service_level"] == 1
    assert r["service_level"] == round(1 / (2 + 1), 4)  # 0.3333
    assert r["asa_seconds"] == (10 + 30) / 2  # 20.0
    assert r["aht_seconds"] == (90 + 150) / 2  # 120.0
    assert r["avg_talk_seconds"] == (60 + 135) / 2
    assert r["avg_hold_seconds"] == 15 / 2
    assert r["avg_wrap_up_seconds"] == 30 / 2
    assert r["longest_wait_seconds"] == 30
    # Nearest rank over [10, 30]: p50 → rank 1 → 10; p90 → rank ⌈1.8⌉ = 2 → 30.
    assert (r["wait_p50_seconds"], r["wait_p90_seconds"], r["wait_p95_seconds"]) == (10, 30, 30)
    assert (r["handle_p50_seconds"], r["handle_p95_seconds"]) == (90, 150)
    # The day report reads the same percentiles from the buckets its day row stores.
    (by_day,) = selectors.interval_report([q], date(2026, 1, 5), date(2026, 1, 5), "day")
    timed = [k for k in by_day if k.endswith("_seconds")]  # averages and percentiles
    assert {k: by_day[k] for k in timed} == {k: r[k] for k in timed}

    agents = {row["agent"]: row for row in selectors.agent_report(None, date(2026, 1, 5),
                                                                  date(2026, 1, 5))}  # fmt: skip
    a = agents[alice.pk]
    # Logged in 360 s; available idle 65 + 200 = 265; handle = on call 60 + wrap-up 30 = 90.
    assert a["logged_in_seconds"] == 360
    assert a["available_idle_seconds"] == 265
    assert a["handle_seconds"] == 90
    assert a["occupancy"] == round(90 / (90 + 265), 4)
    assert a["utilization"] == round((90 + 265) / 360, 4)
    assert (a["answered"], a["aht_seconds"]) == (1, 90.0)
    assert agents[bob.pk]["answered"] == 1
    assert agents[bob.pk]["logged_in_seconds"] == 0  # no status events: never logged in


def test_transfer_between_queues_counts_an_entry_in_each(q):
    sales = QueueFactory(service_level_seconds=20, short_abandon_seconds=5)
    alice, bob = AgentFactory(queues=[q]), AgentFactory(queues=[sales])
    call = ended_call(sales, created=T0, enqueued=T0 + 69 * S, answered=T0 + 9 * S,
                      ended=T0 + 201 * S, agent=alice)  # fmt: skip
    label_a, label_b = f"agent:{alice.softphone_identity}", f"agent:{bob.softphone_identity}"
    conference(call, T0 + 8 * S, "participant-join", sid="CA-leg-a", label=label_a)
    queue_exit(call, q, T0 + 8 * S, "redirected", 8)
    conference(call, T0 + 9 * S, "participant-join", sid=call.call_sid)
    transfer(call, sales, T0 + 69 * S)  # alice transfers the caller to sales
    conference(call, T0 + 69 * S, "participant-leave", sid=call.call_sid)
    conference(call, T0 + 69 * S, "participant-leave", sid="CA-leg-a", label=label_a)
    conference(call, T0 + 79 * S, "participant-join", sid="CA-leg-b", label=label_b)
    queue_exit(call, sales, T0 + 80 * S, "redirected", 11)
    conference(call, T0 + 81 * S, "participant-join", sid=call.call_sid)
    conference(call, T0 + 100 * S, "participant-hold", sid=call.call_sid)
    conference(call, T0 + 110 * S, "participant-unhold", sid=call.call_sid)
    rollup_run(now=LATER)

    first, second = QueueEntryFact.objects.filter(call=call).order_by("seq")
    assert (first.queue_id, first.agent_id, first.outcome) == (q.pk, alice.pk, "answered")
    assert first.transferred_out and first.wait_seconds == 9 and first.talk_seconds == 60
    assert (second.queue_id, second.agent_id, second.outcome) == (sales.pk, bob.pk, "answered")
    # Entered sales at the transfer (69 s), answered at 81 s: wait 12; 201 - 81 = 120 s
    # connected, 10 s of it on hold: talk 110.
    assert (second.wait_seconds, second.hold_seconds, second.talk_seconds) == (12, 10, 110)
    assert not second.transferred_out
    r1, r2 = report(q), report(sales)
    assert (r1["offered"], r1["answered"], r1["transfers"], r1["asa_seconds"]) == (1, 1, 1, 9.0)
    assert (r2["offered"], r2["answered"], r2["transfers"], r2["asa_seconds"]) == (1, 1, 0, 12.0)
    assert r2["aht_seconds"] == 120.0  # talk 110 + hold 10 + wrap-up 0


def test_a_move_before_an_answer_is_not_an_abandon(q):
    other = QueueFactory()
    call = ended_call(other, created=T0, enqueued=T0 + 40 * S, ended=T0 + 70 * S,
                      outcome=CallOutcome.ABANDONED)  # fmt: skip
    queue_exit(call, q, T0 + 40 * S, "redirected", 40)  # escalation: moved after 40 s
    transfer(call, other, T0 + 40 * S)
    queue_exit(call, other, T0 + 70 * S, "hangup", 30)
    rollup_run(now=LATER)
    r = report(q)
    assert (r["offered"], r["moved"], r["abandoned"], r["answered"]) == (1, 1, 0, 0)
    assert report(other)["abandoned"] == 1


def test_overflow_then_abandon_in_the_overflow_queue(q):
    overflow = QueueFactory(short_abandon_seconds=5)
    call = ended_call(overflow, created=T0, enqueued=T0 + 60 * S, ended=T0 + 100 * S,
                      outcome=CallOutcome.ABANDONED)  # fmt: skip
    queue_exit(call, q, T0 + 60 * S, "leave", 60)  # max wait reached: overflow
    queue_exit(call, overflow, T0 + 100 * S, "hangup", 40)
    rollup_run(now=LATER)
    r, o = report(q), report(overflow)
    assert (r["offered"], r["overflows"], r["abandoned"], r["longest_wait_seconds"]) == (
        1,
        1,
        0,
        60,
    )
    assert r["service_level"] is None  # neither answered nor abandoned
    assert (o["offered"], o["abandoned"], o["avg_abandon_seconds"]) == (1, 1, 40.0)


def test_callbacks_and_voicemails_are_neither_answered_nor_abandoned(q):
    call = ended_call(q, created=T0, enqueued=T0, ended=T0 + 45 * S, outcome=CallOutcome.CALLBACK)
    queue_exit(call, q, T0 + 45 * S, "leave", 45)
    ended_call(q, created=T0, enqueued=T0, ended=T0 + 90 * S, outcome=CallOutcome.VOICEMAIL)
    rollup_run(now=LATER)
    r = report(q)
    assert (r["offered"], r["callbacks"], r["voicemails"]) == (2, 1, 1)
    assert (r["answered"], r["abandoned"], r["short_abandoned"]) == (0, 0, 0)


def test_a_call_crossing_midnight_counts_on_the_local_day_it_entered():
    ny = QueueFactory(time_zone="America/New_York", service_level_seconds=20)
    # 23:59:50 on Friday 9 January in New York is 04:59:50 UTC on the 10th.
    entered = datetime(2026, 1, 10, 4, 59, 50, tzinfo=UTC)
    ended_call(ny, created=entered, enqueued=entered, answered=entered + 20 * S,
               ended=entered + 120 * S)  # fmt: skip
    rollup_run(now=LATER + timedelta(days=5))
    assert QueueEntryFact.objects.get().local_date == date(2026, 1, 9)
    assert report(ny, date(2026, 1, 9))["offered"] == 1
    assert report(ny, date(2026, 1, 10))["offered"] == 0
    rows = selectors.interval_report([ny], date(2026, 1, 9), date(2026, 1, 10), "day")
    assert [(r["start"], r["answered"]) for r in rows] == [("2026-01-09T00:00:00-05:00", 1)]
    hours = selectors.interval_report([ny], date(2026, 1, 9), date(2026, 1, 9), "hour")
    assert [(h["start"], h["offered"]) for h in hours] == [("2026-01-09T23:00:00-05:00", 1)]


def test_missed_offers_per_agent(q):
    alice = AgentFactory(queues=[q])
    call = ended_call(q, created=T0, enqueued=T0, ended=T0 + 50 * S, outcome=CallOutcome.ABANDONED)
    queue_exit(call, q, T0 + 50 * S, "hangup", 50)
    for status, offset in ((ReservationStatus.TIMED_OUT, 1), (ReservationStatus.REJECTED, 25)):
        Reservation.objects.create(call=call, agent=alice, queue=q, status=status,
                                   offered_at=T0 + offset * S, expires_at=T0 + (offset + 20) * S,
                                   ended_at=T0 + (offset + 20) * S)  # fmt: skip
    rollup_run(now=LATER)
    row = selectors.agent_report([alice.pk], date(2026, 1, 5), date(2026, 1, 5))[0]
    assert row["missed_offers"] == 2
    assert QueueEntryFact.objects.get().outcome == EntryOutcome.ABANDONED


def test_an_agent_interval_pairs_time_answers_and_missed_offers_once_each(q):
    """An agent's 15-minute row joins its three sources: time from status events, answered
    entries and missed offers; a source absent from an interval counts zero there."""
    alice = AgentFactory(queues=[q])
    agent_timeline(alice, [(T0, "available", "idle"), (T0 + 10 * S, "available", "on_call"),
                           (T0 + 70 * S, "available", "idle"),
                           (T0 + 20 * 60 * S, "offline", "idle")])  # fmt: skip
    ended_call(q, created=T0, enqueued=T0, answered=T0 + 10 * S, ended=T0 + 70 * S, agent=alice)
    # Missed offers: one in the first interval (with time and an answer), one in the second
    # (time only), one at 10:45, after she logged off (no time, no answer).
    lost = abandoned(q, T0 + 100 * S, 3000)
    for offset in (200, 16 * 60, 45 * 60):
        Reservation.objects.create(call=lost, agent=alice, queue=q,
                                   status=ReservationStatus.TIMED_OUT, offered_at=T0 + offset * S,
                                   expires_at=T0 + (offset + 20) * S,
                                   ended_at=T0 + (offset + 20) * S)  # fmt: skip
    rollup_run(now=LATER)
    rows = AgentInterval.objects.filter(agent=alice).order_by("interval_start")
    got = [(r.interval_start - T0, r.logged_in_seconds, r.on_call_seconds, r.answered,
            r.talk_sum, r.missed_offers) for r in rows]  # fmt: skip
    minutes = lambda n: timedelta(minutes=n)  # noqa: E731
    assert got == [(minutes(0), 900, 60, 1, 60, 1), (minutes(15), 300, 0, 0, 0, 1),
                   (minutes(45), 0, 0, 0, 0, 1)]  # fmt: skip


def test_percentiles_are_nearest_rank_over_histogram_buckets():
    hist = kpis.histogram([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert kpis.percentile(hist, 50) == 5
    assert kpis.percentile(hist, 90) == 9
    assert kpis.percentile(hist, 95) == 10
    # Past 30 s the resolution is the bucket's: 37 s lies in [35, 40).
    assert kpis.percentile(kpis.histogram([37]), 50) == 35
    assert kpis.percentile({}, 50) is None


def test_days_are_dense_between_a_queues_first_and_last_day_of_traffic(q):
    abandoned(q, T0, 30)
    abandoned(q, T0 + timedelta(days=3), 30)
    rollup_run(now=LATER + timedelta(days=3))
    days = list(QueueDay.objects.filter(queue=q).values_list("local_date", "offered"))
    assert days == [(date(2026, 1, 5), 1), (date(2026, 1, 6), 0), (date(2026, 1, 7), 0),
                    (date(2026, 1, 8), 1)]  # fmt: skip
    quiet = selectors.queue_report([q], date(2026, 1, 6), date(2026, 1, 7))[0]
    assert (quiet["offered"], quiet["service_level"], quiet["wait_p50_seconds"]) == (0, None, None)


def test_a_wrap_up_ending_after_the_rollup_reopens_its_interval(q):
    alice = AgentFactory(queues=[q])
    ended_call(q, created=T0, enqueued=T0, answered=T0 + 10 * S, ended=T0 + 70 * S, agent=alice)
    agent_timeline(alice, [(T0, "available", "idle"), (T0 + 10 * S, "available", "on_call"),
                           (T0 + 71 * S, "available", "wrap_up")])  # fmt: skip
    rollup_run(now=T0 + 90 * S)
    assert report(q)["aht_seconds"] == 60.0  # talk only: the wrap-up has not ended yet
    rollup_run(now=T0 + 90 * S)  # nothing new: nothing changes
    assert report(q)["aht_seconds"] == 60.0
    # Ready again 40 s into the wrap-up: the entry's handle becomes 60 + 40.
    agent_event(alice, T0 + 111 * S, "available", "idle", ("available", "wrap_up"))
    rollup_run(now=T0 + 150 * S)
    r = report(q)
    assert (r["aht_seconds"], r["avg_wrap_up_seconds"]) == (100.0, 40.0)
    agent = selectors.agent_report([alice.pk], date(2026, 1, 5), date(2026, 1, 5))[0]
    assert agent["aht_seconds"] == 100.0


def test_a_bucket_list_is_the_histogram_of_its_entries():
    waits = [0, 3, 3, 37, 3599, 9999]
    listed = bytes(sorted(kpis.bucket(w) for w in waits))
    assert kpis.from_bucket_list(listed) == kpis.histogram(waits)
    assert kpis.from_bucket_list(b"") == kpis.empty_histogram()
    assert kpis.from_bucket_list(None) == kpis.empty_histogram()


def test_packed_histograms_stored_one_after_the_other_sum_bucket_by_bucket():
    days = [kpis.histogram([1, 2, 2]), kpis.histogram([2, 600]), kpis.empty_histogram()]
    joined = b"".join(kpis.to_bytes(h) for h in days)
    assert kpis.sum_packed(joined) == kpis.histogram([1, 2, 2, 2, 600])
    assert kpis.sum_packed(kpis.to_bytes(days[0])) == days[0]
    assert kpis.sum_packed(b"") == kpis.empty_histogram()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**24), min_size=len(kpis.EDGES),
                         max_size=len(kpis.EDGES)), min_size=1, max_size=400))  # fmt: skip
def test_packed_sums_are_bucket_sums_whatever_the_counts(histograms):
    """Large counts too (a busy queue's day): no bucket's total runs into the next one."""
    joined = b"".join(kpis.to_bytes(h) for h in histograms)
    expected = [sum(column) for column in zip(*histograms, strict=True)]
    assert list(kpis.sum_packed(joined)) == expected
