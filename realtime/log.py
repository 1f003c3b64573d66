"""Reading the per-user event log: replay after a `seq`, acknowledgements, retention."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import EventCursor, UserEvent


@dataclass(frozen=True)
class Replay:
    frames: list[dict]
    last_seq: int  # where the client stands once it has applied `frames`
    resync: bool  # too far behind (or ahead): reload snapshots, then go on from last_seq

    def resync_frame(self) -> dict:
        return {"type": "resync", "data": {"last_seq": self.last_seq}}


def replay_after(user_id: int, after: int | None, *, limit: int | None = None) -> Replay:
    """The user's events with seq > `after`, in order, or a resync when more than `limit`
    were missed or the missed ones were purged. `after=None` means "after the last one my
    client acknowledged". Two queries, both on the (user, seq) index."""
    limit = settings.REALTIME_REPLAY_LIMIT if limit is None else limit
    last, acked = EventCursor.objects.filter(user_id=user_id).values_list(
        "last_seq", "acked_seq"
    ).first() or (0, 0)
    after = acked if after is None else after
    if after == last:
        return Replay([], last, False)
    if after > last or last - after > limit:
        return Replay([], last, True)
    events = list(
        UserEvent.objects.filter(user_id=user_id, seq__gt=after, seq__lte=last).order_by("seq")
    )
    if len(events) != last - after:  # some were purged by retention
        return Replay([], last, True)
    return Replay([event.frame() for event in events], last, False)


def last_seq_of(user_id: int) -> int:
    return (
        EventCursor.objects.filter(user_id=user_id).values_list("last_seq", flat=True).first() or 0
    )


def acknowledge(user_id: int, seq: int) -> bool:
    """Move the user's acknowledged pointer forward to `seq` (never back, never past the log)."""
    return bool(
        EventCursor.objects.filter(user_id=user_id, acked_seq__lt=seq, last_seq__gte=seq).update(
            acked_seq=seq
        )
    )


def events_purge(*, now=None) -> int:
    """Delete events older than REALTIME_RETENTION_HOURS; a client that far behind resyncs."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.REALTIME_RETENTION_HOURS)
    deleted, _ = UserEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
