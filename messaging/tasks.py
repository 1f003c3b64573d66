"""Celery tasks of messaging: thin wrappers that call services."""

from datetime import date

from celery import shared_task
from django.conf import settings

from .services import invitations_cleanup, invitations_expire
from .services.analytics import ping_stats_refresh


@shared_task(time_limit=120, soft_time_limit=100)
def ping_stats_refresh_task(day: str, user_ids: list[int] | None = None) -> int:
    return ping_stats_refresh(date.fromisoformat(day), user_ids)


@shared_task(time_limit=60, soft_time_limit=50)
def invitations_expire_task() -> int:
    return len(invitations_expire())


@shared_task(time_limit=300, soft_time_limit=280)
def invitations_cleanup_task() -> int:
    return invitations_cleanup(days=settings.MESSAGING_INVITATION_RETENTION_DAYS)
