"""Applying stored callbacks: the outbox (PendingCallEvent) and the drainer that empties it.

The webhook stores a callback and queues it in the outbox in one statement, then wakes the
drainer (`wake`): a background thread of the web process sends at most one Celery message per
`WAKE_INTERVAL`, and none while another already waits in the broker, however many callbacks
arrive. The drainer (`apply_pending`) claims a few calls' pending events at a time
(`call_events_claim`) and merges each call's in id order (`call_event_apply`) in the
transaction that deletes them from the outbox, so each is applied exactly once; after
commit, routing reacts to each (`routing_after_call_change`). The beat entry
`call-events-sweep` drains whatever a lost wake-up (a web process killed in between) left
behind.
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from callcenter.services import call_event_apply, call_events_claim, call_events_defer
from routing.lifecycle import routing_after_call_change

logger = logging.getLogger(__name__)

WAKE_INTERVAL = 0.05  # seconds: the most a wake-up waits for the previous one, per process
# Calls whose callbacks one transaction claims and applies: one claim statement and one
# commit serve them all (each cost about as much as applying a callback). Few, so the calls'
# locks are held briefly and a failure only delays a few, which are then retried one by one.
BATCH_CALLS = 16


def apply_pending(*, max_seconds: float = 1.0) -> tuple[int, bool]:
    """Apply pending callbacks, `BATCH_CALLS` calls per transaction, for about `max_seconds`;
    (events applied, whether the outbox looked empty at the end)."""
    deadline, applied, batch = time.monotonic() + max_seconds, 0, BATCH_CALLS
    while time.monotonic() < deadline:
        event_ids, calls = [], []
        try:
            with transaction.atomic():
                events = call_events_claim(calls=batch)
                event_ids = [event.pk for event in events]
                calls = [call_event_apply(stored=event) for event in events]
        except Exception:
            if not event_ids:
                raise  # the claim itself failed: the task fails, a later one retries
            if batch > 1:
                # Rolled back: the batch's events are pending again. Take its calls one at a
                # time from now on, so only the one that fails is put off.
                logger.warning("applying callbacks %s failed; retrying call by call", event_ids)
                batch = 1
                continue
            # Rolled back: the events are pending again, claimable after a backoff (2 s,
            # doubling): a deadlock or a lost connection is retried, a bug does not spin.
            logger.exception("applying callbacks %s failed", event_ids)
            call_events_defer(event_ids=event_ids)
            continue
        if not event_ids:
            return applied, True
        applied += len(event_ids)
        for call in calls:  # as each apply left the call, like one task per callback did
            try:
                routing_after_call_change(call)
            except Exception:  # the events stay applied; the routing sweep settles the rest
                logger.exception("routing after call %s failed", call and call.call_sid)
    return applied, False


class _Waker:
    """Wakes the drainer at most once per `interval` from this process, never missing one.

    A call (on commit of a stored callback) only flags a wake-up and notifies a daemon
    thread; the thread sends one per flag it sees, then sleeps `interval`. Each flag is seen
    after it was raised, so every stored callback is followed, after its commit, by a drain
    message sent then, or by one already queued or running, whose drainer looks at the outbox
    after that (`drain`): either finds it."""

    def __init__(self, interval: float, send):
        self.interval = interval
        self.send = send
        self.wanted = threading.Condition()
        self.flagged = False
        self.pid = 0  # the thread belongs to the process that started it (gunicorn forks)

    def __call__(self) -> None:
        with self.wanted:
            if self.pid != os.getpid():
                self.pid = os.getpid()
                threading.Thread(target=self._run, name="drainer-waker", daemon=True).start()
            self.flagged = True
            self.wanted.notify()

    def _run(self) -> None:
        while True:
            with self.wanted:
                self.wanted.wait_for(lambda: self.flagged)
                self.flagged = False
            self.send()
            time.sleep(self.interval)


# Set while a drain message waits in the broker or its drainer runs, so the web processes
# queue one message at a time however many of them wake the drainer, and none while it runs:
# it applies what they store meanwhile (`drain`). Expires in case the message or its worker
# is lost; a drainer that keeps finding work renews it.
QUEUED_KEY, QUEUED_SECONDS = "webhooks:call-events-drain-queued", 2


def _shared_cache() -> bool:
    return settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


def _send() -> None:
    from .tasks import call_events_drain_task

    call_events_drain_task.apply_async(ignore_result=True)


def request_drain() -> None:
    """Queue a drain message unless one is already queued or its drainer is running."""
    try:
        if not _shared_cache() or cache.add(QUEUED_KEY, 1, timeout=QUEUED_SECONDS):
            _send()
    except Exception:  # the broker is down: the beat sweep drains once it is back
        logger.exception("could not wake the callbacks drainer")


def drain(*, max_seconds: float = 1.0) -> int:
    """What a drain message runs: apply pending callbacks for about `max_seconds`; the number
    applied. Work left over is queued as another message, the key kept, so the worker is
    handed back between rounds.

    Once the outbox is empty the key is cleared, then the outbox is looked at once more: a
    callback stored before that had its wake-up skipped (the key was set), so it is this
    drainer's to apply; one stored after wakes another drainer. Under a stream of callbacks
    the web processes thus queue a message only when no drainer is at work, not one per
    wake-up (each cost the web process and the worker about a millisecond)."""
    applied, empty = apply_pending(max_seconds=max_seconds)
    if empty and _shared_cache():
        cache.delete(QUEUED_KEY)
        more, empty = apply_pending(max_seconds=max_seconds)
        applied += more
    if not empty:
        try:
            if _shared_cache():
                cache.set(QUEUED_KEY, 1, timeout=QUEUED_SECONDS)
            _send()
        except Exception:  # the beat sweep drains once the broker is back
            logger.exception("could not queue the rest of the callbacks")
    return applied


_waker = _Waker(WAKE_INTERVAL, request_drain)


def wake() -> None:
    """Have the drainer run soon (on commit of a stored callback). In the embedded run
    (eager tasks) it runs here and now."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            apply_pending(max_seconds=5.0)
        except Exception:  # the callback is stored: the next drain or the sweep applies it
            logger.exception("draining callbacks failed")
    else:
        _waker()
