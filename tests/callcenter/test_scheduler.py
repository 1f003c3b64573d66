"""The embedded run drives the one Celery beat schedule in process."""

import logging
from datetime import timedelta

import pytest
from celery import Celery

from callcenter.celery import app as project_app
from callcenter.models import Agent
from callcenter.scheduler import EmbeddedScheduler
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_beat_schedule_tasks_exist():
    scheduler = EmbeddedScheduler(project_app)
    for entry in project_app.conf.beat_schedule.values():
        assert entry["task"] in scheduler.app.tasks


def test_due_entries_run_once_per_interval():
    app = Celery("scheduler-test", set_as_current=False)
    app.conf.task_always_eager = True
    runs: list[int] = []

    @app.task(name="count")
    def count():
        runs.append(1)

    app.conf.beat_schedule = {"count": {"task": "count", "schedule": timedelta(hours=1)}}
    scheduler = EmbeddedScheduler(app)
    scheduler.tick()  # first tick runs everything, like `celery beat` on start
    wait = scheduler.tick()  # not due again for an hour
    assert runs == [1]
    assert 0 < wait <= scheduler.max_sleep


def test_project_schedule_resets_daily_counters_in_process():
    agent = AgentFactory()
    Agent.objects.filter(pk=agent.pk).update(calls_answered_today=7, talk_seconds_today=900)
    EmbeddedScheduler(project_app).tick()
    agent.refresh_from_db()
    assert (agent.calls_answered_today, agent.talk_seconds_today) == (0, 0)
    assert agent.counters_date is not None


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_a_failing_entry_is_logged_and_the_others_still_run():
    app = Celery("scheduler-failure-test", set_as_current=False)
    app.conf.task_always_eager = True
    runs: list[int] = []

    @app.task(name="broken")
    def broken():
        raise ValueError("boom")

    @app.task(name="fine")
    def fine():
        runs.append(1)

    app.conf.beat_schedule = {
        "broken": {"task": "broken", "schedule": timedelta(hours=1)},
        "fine": {"task": "fine", "schedule": timedelta(hours=1)},
    }
    collect, logger = Collect(), logging.getLogger("callcenter.scheduler")
    logger.addHandler(collect)
    try:
        EmbeddedScheduler(app).tick()
    finally:
        logger.removeHandler(collect)
    assert runs == [1]
    assert any("periodic task broken failed" in m and "boom" in m for m in collect.messages)
