"""In-process runner of the Celery beat schedule for the embedded run (no broker, no beat).

It reads `app.conf.beat_schedule`, asks each entry's own Celery schedule object whether it is
due, and runs due tasks in this process, so the embedded run and `celery beat` share one
declaration of the periodic work.
"""

import logging
import threading
from datetime import UTC, datetime

from celery import Celery
from celery.schedules import schedule as celery_schedule

logger = logging.getLogger(__name__)


class EmbeddedScheduler:
    def __init__(self, app: Celery, *, max_sleep: float = 1.0):
        self.app = app
        self.max_sleep = max_sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_run: dict[str, datetime] = {}
        # A web process has not imported the tasks modules a worker would (autodiscovery).
        app.loader.import_default_modules()

    def _entries(self):
        for name, entry in self.app.conf.beat_schedule.items():
            sched = entry["schedule"]
            if not isinstance(sched, celery_schedule):
                sched = celery_schedule(sched, app=self.app)
            yield name, entry, sched

    def tick(self) -> float:
        """Run every due entry once; return the seconds until the next one is due."""
        now = datetime.now(UTC)
        wait = self.max_sleep
        for name, entry, sched in self._entries():
            # A first tick runs everything, as `celery beat` does on start.
            last = self._last_run.get(name, datetime.min.replace(tzinfo=UTC))
            due, next_in = sched.is_due(last)
            if due:
                self._last_run[name] = now
                # An eager result is read, not waited on (.get() refuses once tasks run here).
                result = self.app.tasks[entry["task"]].apply(
                    args=entry.get("args", ()), kwargs=entry.get("kwargs", {})
                )
                if result.failed():
                    logger.error("periodic task %s failed:\n%s", name, result.traceback)
            wait = min(wait, next_in)
        return max(wait, 0.05)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.tick())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="embedded-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
