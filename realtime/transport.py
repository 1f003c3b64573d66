"""Hands frames to the channel layer after commit without ever blocking or failing the caller.

Frames go to the event loop of this process's ASGI server when there is one (consumers live
there, and the in-memory layer of the embedded run only works inside it), else to a sender
thread with its own loop (WSGI workers, Celery workers, commands). One long-lived loop per
process also keeps channels-redis' per-loop connection pools from piling up, the problem a
fresh `async_to_sync` loop per send has in Celery. A failed send is logged: the logged event is
still in the log and reaches the client on its next replay.
"""

import asyncio
import atexit
import concurrent.futures
import os
import threading

import structlog
from channels.layers import get_channel_layer
from django.conf import settings

log = structlog.get_logger(__name__)

_home_loop: asyncio.AbstractEventLoop | None = None
_sender: tuple[int, asyncio.AbstractEventLoop] | None = None
_sender_lock = threading.Lock()
_in_flight: set[concurrent.futures.Future] = set()


def bind_home_loop() -> None:
    """Called from the ASGI server's loop (a consumer connecting, a long-poll): frames of this
    process are delivered on it from now on."""
    global _home_loop
    _home_loop = asyncio.get_running_loop()


def _sender_loop() -> asyncio.AbstractEventLoop:
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():  # a forked child needs its own
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="realtime-sender", daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]


def _target_loop() -> asyncio.AbstractEventLoop:
    home = _home_loop
    if home is not None and home.is_running():
        return home
    return _sender_loop()


async def _send(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    timeout = settings.REALTIME_SEND_TIMEOUT_SECONDS
    for group, frame in messages:
        await asyncio.wait_for(
            layer.group_send(group, {"type": "realtime.frame", "frame": frame}), timeout
        )


def _done(future: concurrent.futures.Future) -> None:
    _in_flight.discard(future)
    if not future.cancelled() and future.exception() is not None:
        log.warning("realtime.push_failed", error=repr(future.exception()))


def push(messages: list[tuple[str, dict]]) -> None:
    """Send (group, frame) pairs in order, in the background."""
    if not messages:
        return
    loop = _target_loop()
    future = asyncio.run_coroutine_threadsafe(_send(messages), loop)
    _in_flight.add(future)
    future.add_done_callback(_done)


def wait_idle(timeout: float = 5.0) -> bool:
    """Wait until every frame handed over so far has been sent or has failed (tests, exit)."""
    pending = list(_in_flight)
    if not pending:
        return True
    _done_set, not_done = concurrent.futures.wait(pending, timeout=timeout)
    return not not_done


atexit.register(wait_idle, 2.0)
