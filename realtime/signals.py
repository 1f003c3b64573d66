"""Signals other apps listen to without the realtime layer knowing them."""

from django.dispatch import Signal

# A user's client showed it is alive (WebSocket ping or long-poll); kwargs: user_id.
# callcenter keeps agent presence with it.
client_heartbeat = Signal()
