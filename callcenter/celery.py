"""The Celery app. The periodic schedule is declared here and nowhere else.

Services mode: Redis broker, one `celery beat`. Embedded run: tasks execute in process
(CELERY_TASK_ALWAYS_EAGER) and callcenter.scheduler drives this same schedule.
"""

import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "routing-sweep": {
        "task": "routing.tasks.routing_sweep_task",
        "schedule": timedelta(seconds=5),
    },
    # Callbacks stored but not applied (a web process died before waking the drainer).
    "call-events-sweep": {
        "task": "webhooks.tasks.call_events_drain_task",
        "schedule": timedelta(seconds=5),
    },
    "agents-presence-sweep": {
        "task": "callcenter.tasks.agents_presence_sweep_task",
        "schedule": timedelta(seconds=15),
    },
    "realtime-events-purge": {
        "task": "realtime.tasks.realtime_events_purge_task",
        "schedule": timedelta(hours=1),
    },
    "messaging-invitations-expire": {
        "task": "messaging.tasks.invitations_expire_task",
        "schedule": timedelta(seconds=10),
    },
    "messaging-invitations-cleanup": {
        "task": "messaging.tasks.invitations_cleanup_task",
        "schedule": timedelta(days=1),
    },
    # Analytics: facts and 15-minute rollups since the watermark; yesterday's summaries.
    "analytics-rollup": {
        "task": "analytics.tasks.analytics_rollup_task",
        "schedule": timedelta(minutes=1),
    },
    "analytics-daily-summaries": {
        "task": "analytics.tasks.analytics_daily_summaries_task",
        "schedule": timedelta(hours=1),
    },
    "agents-reset-daily-counters": {
        "task": "callcenter.tasks.agents_reset_daily_counters_task",
        "schedule": timedelta(minutes=5),
    },
}
