"""Serve the whole system from one process: HTTP and WebSockets (ASGI, uvicorn) and, in the
embedded run, the periodic Celery schedule in process."""

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from callcenter.celery import app as celery_app
from callcenter.scheduler import EmbeddedScheduler


class Command(BaseCommand):
    help = "Run the ASGI server (and the in-process scheduler when tasks run in process)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        scheduler = None
        if settings.CELERY_TASK_ALWAYS_EAGER:
            scheduler = EmbeddedScheduler(celery_app)
            scheduler.start()
        shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host  # noqa: S104
        self.stdout.write(f"Switchboard is running at http://{shown}:{port}/  (Ctrl+C stops it)")
        try:
            uvicorn.run(
                "callcenter.asgi:application",
                host=host,
                port=port,
                log_config=None,
                lifespan="off",
                ws="auto",
            )
        finally:
            if scheduler:
                scheduler.stop()
