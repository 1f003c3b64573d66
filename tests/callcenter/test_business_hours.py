"""Business hours are read in the queue's time zone; bad shapes are refused."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from callcenter.business_hours import is_open, validate_business_hours, validate_time_zone
from callcenter.models import Queue

WEEKDAYS_9_TO_5 = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def test_open_and_closed_in_the_queue_time_zone():
    queue = Queue(time_zone="America/New_York", business_hours=WEEKDAYS_9_TO_5)
    # Monday 2026-11-23 13:59 UTC is 08:59 in New York; 14:00 UTC is 09:00.
    assert not queue.is_open(datetime(2026, 11, 23, 13, 59, tzinfo=UTC))
    assert queue.is_open(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    assert not queue.is_open(datetime(2026, 11, 23, 22, 0, tzinfo=UTC))  # 17:00 NY: closed
    assert not queue.is_open(datetime(2026, 11, 22, 15, 0, tzinfo=UTC))  # Sunday


def test_empty_hours_mean_always_open_and_24_00_ends_the_day():
    assert Queue(business_hours={}).is_open(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    late = {"mon": [["20:00", "24:00"]]}
    assert is_open(late, datetime(2026, 11, 23, 23, 59))
    assert not is_open(late, datetime(2026, 11, 24, 0, 0))


@pytest.mark.parametrize(
    "hours",
    [
        [],
        {"monday": []},
        {"mon": "9-5"},
        {"mon": [["09:00"]]},
        {"mon": [["17:00", "09:00"]]},
        {"mon": [["9am", "5pm"]]},
        {"mon": [["24:00", "24:00"]]},
    ],
)
def test_bad_shapes_are_refused(hours):
    with pytest.raises(ValidationError):
        validate_business_hours(hours)


def test_unknown_time_zone_is_refused():
    validate_time_zone("Europe/London")
    with pytest.raises(ValidationError):
        validate_time_zone("Mars/Olympus_Mons")


times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(start=times, end=times, at=st.datetimes(min_value=datetime(2000, 1, 1)))
def test_open_exactly_inside_a_single_range(start, end, at):
    if end <= start:
        return
    hours = {
        day: [[start.strftime("%H:%M"), end.strftime("%H:%M")]]
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    validate_business_hours(hours)
    assert is_open(hours, at) == (start <= at.time() < end)
