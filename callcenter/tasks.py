"""Celery tasks of the core domain: thin wrappers that call services."""

from celery import shared_task

from .services import agents_presence_sweep, agents_reset_daily_counters


@shared_task(time_limit=60, soft_time_limit=50)
def agents_reset_daily_counters_task() -> int:
    return agents_reset_daily_counters()


@shared_task(time_limit=60, soft_time_limit=50)
def agents_presence_sweep_task() -> int:
    return agents_presence_sweep()
