"""Readiness probe of the channel layer: a message round-trips through it."""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


async def _round_trip() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("readyz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "readyz.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


def channel_layer_ping() -> None:
    """Raise when the channel layer cannot carry a message."""
    async_to_sync(_round_trip)()
