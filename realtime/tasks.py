"""Celery tasks of the realtime layer."""

from celery import shared_task

from .log import events_purge


@shared_task(time_limit=300, soft_time_limit=280)
def realtime_events_purge_task() -> int:
    return events_purge()
