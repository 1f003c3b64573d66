"""Business hours of a queue: {"mon": [["09:00", "17:00"], ...], ...} in the queue's time zone.

An empty mapping means always open; a day missing from a non-empty mapping is closed. A
range may end at "24:00"; ranges crossing midnight are written as two ranges.
"""

from datetime import datetime, time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@cache
def zone(name: str) -> ZoneInfo:
    """The time zone `name`, one instance per name for the process. ZoneInfo keeps only its
    8 latest zones alive, so a center with more reloaded their files over and over (a
    90-day report of 200 queues in 9 zones read 2,000 zone files)."""
    return ZoneInfo(name)


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"Unknown time zone {value!r}.") from exc


def _parse(value: str) -> time | None:
    """ "HH:MM" → time; "24:00" → None (end of day)."""
    if value == "24:00":
        return None
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a time of day (HH:MM).") from exc


def validate_business_hours(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Business hours must be an object keyed by day (mon … sun).")
    for day, ranges in value.items():
        if day not in DAYS:
            raise ValidationError(f"Unknown day {day!r}; use {', '.join(DAYS)}.")
        if not isinstance(ranges, list):
            raise ValidationError(f"{day}: a list of [start, end] pairs is expected.")
        for pair in ranges:
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise ValidationError(f"{day}: each range is a [start, end] pair.")
            start, end = _parse(pair[0]), _parse(pair[1])
            if start is None or (end is not None and end <= start):
                raise ValidationError(f"{day}: {pair[0]}-{pair[1]} ends before it starts.")


def is_open(hours: dict, local: datetime) -> bool:
    """Whether the local wall-clock time `local` falls in `hours`."""
    if not hours:
        return True
    now = local.time().replace(tzinfo=None)
    for start, end in hours.get(DAYS[local.weekday()], []):
        start_t, end_t = _parse(start), _parse(end)
        if start_t <= now and (end_t is None or now < end_t):
            return True
    return False
