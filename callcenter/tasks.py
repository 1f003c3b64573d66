"""Celery tasks of the core domain: thin wrappers that call services."""

from celery import shared_task
from django.db import OperationalError

from .services import agents_reset_daily_counters, call_event_apply


@shared_task(time_limit=60, soft_time_limit=50)
def agents_reset_daily_counters_task() -> int:
    return agents_reset_daily_counters()


@shared_task(
    time_limit=30,
    soft_time_limit=20,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def call_event_apply_task(event_id: int) -> None:
    """Apply a stored Twilio callback to its call (idempotent: the merge is order-free)."""
    call_event_apply(event_id=event_id)
