"""`/ws/`: one socket per browser tab, for logged events and dashboard broadcasts.

Connect with `?after=<seq>` (omit it to start after the last acknowledged event) and optionally
`&subscribe=dashboard,queue.3`. The server replays what was missed, in order (or sends
`resync`), says `ready` with the `last_seq` and groups, then streams;
frames arriving from the layer are deduplicated by `seq`, and a gap (a push that failed or
overtook another) is filled from the log, so the client sees every logged event exactly once.

Client frames: `{"type": "ping", "last_seq": N}` (every ~25 s; answered with `pong`, keeps
presence, refreshes group membership), `{"type": "ack", "seq": N}`,
`{"type": "subscribe" | "unsubscribe", "groups": [...]}`.
"""

import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import groups as group_rules
from .log import acknowledge, last_seq_of, replay_after
from .publish import user_group
from .signals import client_heartbeat
from .transport import bind_home_loop

CLOSE_UNAUTHENTICATED = 4401


def _error(code: str, message: str, **extra) -> dict:
    return {"type": "error", "data": {"code": code, "message": message, **extra}}


def _int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        bind_home_loop()
        self.user = user
        self.joined: set[str] = set()
        self.last_seq = 0
        await self.accept()
        await self._heartbeat()
        await self._join(user_group(user.pk))
        query = parse_qs(self.scope.get("query_string", b"").decode())
        wanted = [g for value in query.get("subscribe", []) for g in value.split(",") if g]
        if wanted:
            await self._subscribe(wanted)
        # No (or an unreadable) `after`: start after the last event this user acknowledged.
        await self._replay(_int_or_none(query.get("after", [None])[0]))
        self.refreshed_at = time.monotonic()
        # Caught up: what follows is live.
        await self.send_json(
            {"type": "ready", "data": {"last_seq": self.last_seq, "groups": sorted(self.joined)}}
        )

    async def disconnect(self, code):
        for group in getattr(self, "joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    # -- from the client -------------------------------------------------------------------

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        handler = {
            "ping": self._on_ping,
            "ack": self._on_ack,
            "subscribe": self._on_subscribe,
            "unsubscribe": self._on_unsubscribe,
        }.get(kind)
        if handler is None:
            await self.send_json(_error("unknown_type", f"Unknown frame type {kind!r}."))
            return
        await handler(content)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON
            await self.send_json(_error("bad_frame", "Frames are JSON objects."))

    async def _on_ping(self, content):
        await self._heartbeat()
        if time.monotonic() - self.refreshed_at > settings.REALTIME_GROUP_REFRESH_SECONDS:
            # Re-adding resets channels-redis' group expiry: a tab open for days keeps receiving.
            for group in self.joined:
                await self.channel_layer.group_add(group, self.channel_name)
            self.refreshed_at = time.monotonic()
        # A push that never arrived (the layer was down) is found here and replayed.
        if await database_sync_to_async(last_seq_of)(self.user.pk) > self.last_seq:
            await self._replay(self.last_seq)
        await self.send_json({"type": "pong", "data": {"last_seq": self.last_seq}})

    async def _on_ack(self, content):
        seq = _int_or_none(content.get("seq"))
        if seq is None:
            await self.send_json(_error("bad_ack", "ack needs a non-negative integer seq."))
            return
        await database_sync_to_async(acknowledge)(self.user.pk, seq)

    async def _on_subscribe(self, content):
        await self._subscribe(content.get("groups"))

    async def _on_unsubscribe(self, content):
        names = content.get("groups")
        for group in names if isinstance(names, list) else []:
            if group in self.joined and group != user_group(self.user.pk):
                await self.channel_layer.group_discard(group, self.channel_name)
                self.joined.discard(group)
        await self.send_json({"type": "subscribed", "data": {"groups": sorted(self.joined)}})

    # -- from the layer --------------------------------------------------------------------

    async def realtime_frame(self, message):
        frame = message["frame"]
        seq = frame.get("seq")
        if seq is None:
            await self.send_json(frame)
        elif seq == self.last_seq + 1:
            self.last_seq = seq
            await self.send_json(frame)
        elif seq > self.last_seq:
            await self._replay(self.last_seq)
        # else: already delivered (by a replay): drop the duplicate.

    # -- helpers ---------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        await database_sync_to_async(client_heartbeat.send)(
            sender=self.__class__, user_id=self.user.pk
        )

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def _subscribe(self, names) -> None:
        if not isinstance(names, list) or len(names) > group_rules.MAX_GROUPS:
            await self.send_json(_error("bad_groups", "groups is a list of group names."))
            return
        refused = []
        for group in names:
            allowed = await database_sync_to_async(group_rules.may_join)(self.user, group)
            if allowed and group not in self.joined:
                await self._join(group)
            elif not allowed:
                refused.append(group)
        if refused:
            await self.send_json(
                _error("forbidden", "Not allowed to subscribe to these groups.", groups=refused)
            )
        await self.send_json({"type": "subscribed", "data": {"groups": sorted(self.joined)}})

    async def _replay(self, after: int | None) -> None:
        replay = await database_sync_to_async(replay_after)(self.user.pk, after)
        if replay.resync:
            await self.send_json(replay.resync_frame())
        for frame in replay.frames:
            await self.send_json(frame)
        self.last_seq = replay.last_seq if replay.resync else max(self.last_seq, replay.last_seq)
