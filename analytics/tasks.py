"""Analytics' periodic tasks (declared in callcenter/celery.py)."""

from celery import shared_task

from .services import daily_summaries_generate, rollup_run


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def analytics_rollup_task() -> dict:
    return rollup_run()


@shared_task(time_limit=300, soft_time_limit=280, ignore_result=True)
def analytics_daily_summaries_task() -> int:
    return daily_summaries_generate()
