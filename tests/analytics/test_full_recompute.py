"""A full recompute rewrites the derived tables whole (TRUNCATE, plain INSERTs, indexes built
after): it must leave every index and constraint as the migrations made them, and the
15-minute rows' histograms as bucket lists."""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import UniqueConstraint

from analytics import kpis
from analytics.models import AgentInterval, QueueDay, QueueEntryFact, QueueInterval
from analytics.services import rollup_recompute, rollup_run
from tests.analytics.builders import ended_call, queue_exit
from tests.factories import AgentFactory, QueueFactory

pytestmark = pytest.mark.django_db
BASE = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MODELS = (QueueEntryFact, QueueInterval, QueueDay, AgentInterval)


def _index_names() -> dict[str, set[str]]:
    tables = [m._meta.db_table for m in MODELS]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY(%s)", [tables]
        )
        rows = cursor.fetchall()
    out: dict[str, set[str]] = {t: set() for t in tables}
    for table, name in rows:
        out[table].add(name)
    return out


def _answered(queue, agent, start, wait, talk):
    answered = start + timedelta(seconds=wait)
    call = ended_call(queue, created=start, enqueued=start, answered=answered,
                      ended=answered + timedelta(seconds=talk), agent=agent)  # fmt: skip
    queue_exit(call, queue, answered, "redirected", wait, received=answered)


@pytest.mark.postgres  # reads pg_indexes; SQLite drops and builds no index
def test_a_full_recompute_keeps_every_index_and_writes_bucket_lists():
    queue = QueueFactory(time_zone="Europe/Paris")
    agent = AgentFactory(queues=[queue])
    before = _index_names()
    for table in before.values():  # the models' own names are there to start with
        assert table
    _answered(queue, agent, BASE, wait=37, talk=100)
    _answered(queue, agent, BASE + timedelta(minutes=2), wait=3, talk=200)
    rollup_run(now=BASE + timedelta(hours=1))  # the first run recomputes everything

    assert _index_names() == before
    for model in MODELS:
        expected = {i.name for i in model._meta.indexes} | {
            c.name for c in model._meta.constraints if isinstance(c, UniqueConstraint)
        }
        assert expected <= before[model._meta.db_table]
    row = QueueInterval.objects.get()
    assert row.offered == row.answered == 2
    assert bytes(row.wait_histogram) == bytes([kpis.bucket(3), kpis.bucket(37)])
    assert bytes(row.handle_histogram) == bytes([kpis.bucket(100), kpis.bucket(200)])
    day = QueueDay.objects.get()
    assert kpis.from_bytes(day.wait_histogram) == kpis.from_bucket_list(row.wait_histogram)

    # A ranged recompute (DELETE and INSERT of its window) writes the same rows.
    fields = [f.attname for f in QueueInterval._meta.concrete_fields if f.name != "id"]
    rows = list(QueueInterval.objects.values_list(*fields))
    rollup_recompute(begin=BASE.date(), end=BASE.date(), now=BASE + timedelta(hours=1))
    assert list(QueueInterval.objects.values_list(*fields)) == rows


def test_the_migration_turns_packed_interval_histograms_into_bucket_lists():
    migration = importlib.import_module(
        "analytics.migrations.0003_queue_interval_histograms_as_bucket_lists"
    )
    packed = kpis.to_bytes(kpis.histogram([37, 3, 3]))
    assert migration._bucket_list(packed) == bytes(sorted(kpis.bucket(w) for w in (3, 3, 37)))
    assert migration._bucket_list(b"") == b""


def test_the_migration_gives_days_written_before_their_percentile_buckets():
    migration = importlib.import_module("analytics.migrations.0004_queue_day_percentile_buckets")
    waits = [3, 3, 37, 200]  # ranks: p50 → 2nd (3), p90 and p95 → 4th (200)
    buckets = migration._buckets(kpis.to_bytes(kpis.histogram(waits)))
    assert buckets == [kpis.bucket(3), kpis.bucket(200), kpis.bucket(200)]
    edges = [kpis.EDGES[i] for i in buckets]
    assert edges == list(kpis.percentiles(kpis.histogram(waits)).values())
    assert migration._buckets(kpis.to_bytes(kpis.empty_histogram())) == [None, None, None]
    assert migration._buckets(b"") == [None, None, None]
