"""Routing's tasks: claim waiting calls now, and the periodic safety net."""

from celery import shared_task
from django.db import connection

from .lifecycle import routing_sweep
from .services import routing_run

# One sweep at a time across every beat and worker (PostgreSQL advisory lock).
SWEEP_LOCK = 0x5357_5052  # "SWPR"


@shared_task(time_limit=30, soft_time_limit=25, ignore_result=True)
def routing_run_task() -> int:
    return routing_run()


@shared_task(time_limit=60, soft_time_limit=50, ignore_result=True)
def routing_sweep_task() -> dict:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [SWEEP_LOCK])
            if not cursor.fetchone()[0]:
                return {"skipped": "another sweep is running"}
        try:
            return {**routing_sweep(), "offered": routing_run()}
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK])
    return {**routing_sweep(), "offered": routing_run()}
