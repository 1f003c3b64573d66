"""Agents' per-day counters reset once per call-center day, idempotently."""

from datetime import UTC, date, datetime

import pytest
from django.test import override_settings

from callcenter.models import Agent
from callcenter.services import agents_reset_daily_counters, callcenter_today
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_reset_touches_only_earlier_days_and_is_idempotent():
    stale, fresh = AgentFactory.create_batch(2)
    Agent.objects.filter(pk=stale.pk).update(
        calls_answered_today=4, talk_seconds_today=600, counters_date=date(2026, 11, 22)
    )
    Agent.objects.filter(pk=fresh.pk).update(
        calls_answered_today=2, talk_seconds_today=100, counters_date=date(2026, 11, 23)
    )
    assert agents_reset_daily_counters(today=date(2026, 11, 23)) == 1
    assert agents_reset_daily_counters(today=date(2026, 11, 23)) == 0
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.calls_answered_today, stale.counters_date) == (0, date(2026, 11, 23))
    assert fresh.calls_answered_today == 2


@override_settings(CALLCENTER_TIME_ZONE="America/Los_Angeles")
def test_today_is_cut_in_the_call_center_time_zone():
    assert callcenter_today(datetime(2026, 11, 23, 5, 0, tzinfo=UTC)) == date(2026, 11, 22)
    assert callcenter_today(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) == date(2026, 11, 23)
