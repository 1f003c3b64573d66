"""`GET /api/v1/events/?after=<seq>&timeout=<s>`: the fallback when WebSockets fail.

Answers at once when the user has events after `after`; otherwise waits on the user's group
until one is pushed (or `timeout` passes), then reads the log again. An async view: it is
served by the ASGI server (the proxy sends this path there with /ws/), where a waiting request
costs a coroutine, not a thread. Session or token authentication.
"""

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .log import replay_after
from .publish import user_group
from .signals import client_heartbeat
from .transport import bind_home_loop


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"status": status, "code": code, "message": message}}, status=status
    )


@database_sync_to_async
def _token_user(header: str):
    from rest_framework.authtoken.models import Token

    keyword, _, key = header.partition(" ")
    if keyword != "Token" or not key.strip():
        return None
    token = Token.objects.select_related("user").filter(key=key.strip()).first()
    return token.user if token and token.user.is_active else None


async def _user(request):
    user = await request.auser()
    if user.is_authenticated:
        return user
    header = request.headers.get("Authorization", "")
    return await _token_user(header) if header else None


def _parse(request) -> tuple[int | None, float] | str:
    raw_after, raw_timeout = request.GET.get("after"), request.GET.get("timeout", "0")
    try:
        after = None if raw_after in (None, "") else int(raw_after)
        timeout = float(raw_timeout)
    except ValueError:
        return "after is a seq (integer) and timeout a number of seconds."
    if (
        after is not None and after < 0
    ) or not 0 <= timeout <= settings.REALTIME_LONGPOLL_MAX_SECONDS:
        return (
            f"after must be >= 0 and timeout between 0 and "
            f"{settings.REALTIME_LONGPOLL_MAX_SECONDS} seconds."
        )
    return after, timeout


def _body(replay) -> dict:
    frames = [replay.resync_frame()] if replay.resync else replay.frames
    return {"events": frames, "last_seq": replay.last_seq, "resync": replay.resync}


@require_GET
async def events(request):
    user = await _user(request)
    if user is None:
        return _error(401, "not_authenticated", "Authentication credentials were not provided.")
    parsed = _parse(request)
    if isinstance(parsed, str):
        return _error(400, "invalid", parsed)
    after, timeout = parsed
    await database_sync_to_async(client_heartbeat.send)(sender=events, user_id=user.pk)
    read = database_sync_to_async(replay_after)
    replay = await read(user.pk, after)
    if replay.frames or replay.resync or timeout == 0:
        return JsonResponse(_body(replay))

    bind_home_loop()
    layer = get_channel_layer()
    channel, group = await layer.new_channel("longpoll."), user_group(user.pk)
    await layer.group_add(group, channel)
    try:
        # Read again now that we listen: an event committed in between is not lost.
        replay = await read(user.pk, replay.last_seq)
        if not replay.frames and not replay.resync:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(layer.receive(channel), timeout)
            replay = await read(user.pk, replay.last_seq)
    finally:
        await layer.group_discard(group, channel)
    return JsonResponse(_body(replay))
