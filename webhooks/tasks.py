"""Applying Twilio's callbacks after the webhook answered: the call's state, then routing."""

from celery import shared_task
from django.db import OperationalError

from callcenter.services import call_event_apply
from routing.lifecycle import routing_after_call_change


@shared_task(
    time_limit=30,
    soft_time_limit=20,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def callback_apply_task(event_id: int) -> None:
    """Merge a stored callback into its call (order-free), then let routing react: an offer
    accepted or missed, a call over, an agent free again."""
    routing_after_call_change(call_event_apply(event_id=event_id))
