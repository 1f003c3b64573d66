"""Applying Twilio's callbacks after the webhook answered: the call's state, then routing."""

from celery import shared_task
from django.db import OperationalError

from callcenter.services import call_event_apply
from routing.lifecycle import routing_after_call_change

from . import outbox


@shared_task(time_limit=30, soft_time_limit=20, ignore_result=True)
def call_events_drain_task() -> int:
    """Apply the callbacks pending in the outbox (webhooks.outbox). Woken by the webhooks
    and run by beat as a sweep; any number may run at once. Hands the worker back after a
    second of work, queueing itself again when callbacks are left."""
    return outbox.drain(max_seconds=1.0)


@shared_task(
    time_limit=30,
    soft_time_limit=20,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def callback_apply_task(event_id: int) -> None:
    """Merge a stored callback into its call (order-free), then let routing react. Only for
    messages queued before the outbox (migration 0010): webhooks no longer send it."""
    routing_after_call_change(call_event_apply(event_id=event_id))
