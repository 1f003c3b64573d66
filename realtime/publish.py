"""The one API services use to tell people and dashboards what changed (DESIGN.md §3.5).

- `publish_to_user(s)`: logged. Appended to each user's event log in the caller's transaction
  with the user's next `seq`, pushed to the group `user.<id>` after commit.
- `broadcast`: not logged. Pushed after commit to a dashboard group (`dashboard`, `queue.<id>`);
  a dashboard resyncs from its REST snapshot on (re)connect.

Nothing is pushed for a transaction that rolls back; a push that fails never fails the caller.
"""

import json
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from . import transport
from .models import UserEvent

MAX_TYPE_LENGTH = 64


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _next_seq(user_id: int) -> int:
    # One statement: creates the cursor on first use, else bumps it and keeps its row locked
    # until commit, so this user's events become visible in seq order.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO realtime_eventcursor (user_id, last_seq, acked_seq) VALUES (%s, 1, 0) "
            "ON CONFLICT (user_id) DO UPDATE SET last_seq = realtime_eventcursor.last_seq + 1 "
            "RETURNING last_seq",
            [user_id],
        )
        return cursor.fetchone()[0]


def _check_type(type_: str) -> None:
    if not type_ or len(type_) > MAX_TYPE_LENGTH:
        raise ValueError(f"An event type is 1..{MAX_TYPE_LENGTH} characters: {type_!r}")


def _plain(data: dict) -> dict:
    # Dates, decimals and UUIDs become strings once, so the log and the push carry the same
    # JSON (the Redis layer's msgpack knows no datetimes).
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def publish_to_users(user_ids: Iterable[int], type_: str, data: dict) -> dict[int, int]:
    """Log `type_`/`data` for each user and push it after commit; returns {user_id: seq}."""
    _check_type(type_)
    data = _plain(data)
    now = timezone.now()
    seqs: dict[int, int] = {}
    with transaction.atomic():
        # Sorted: two transactions bumping the same cursors take the row locks in one order.
        for user_id in sorted(set(user_ids)):
            seqs[user_id] = _next_seq(user_id)
        UserEvent.objects.bulk_create(
            UserEvent(user_id=uid, seq=seq, type=type_, data=data, created_at=now)
            for uid, seq in seqs.items()
        )
        messages = [
            (user_group(uid), {"type": type_, "seq": seq, "data": data})
            for uid, seq in seqs.items()
        ]
        transaction.on_commit(lambda: transport.push(messages), robust=True)
    return seqs


def publish_to_user(user_id: int, type_: str, data: dict) -> int:
    return publish_to_users([user_id], type_, data)[user_id]


def broadcast(groups: Iterable[str], type_: str, data: dict) -> None:
    """Push an unlogged frame to dashboard groups after commit."""
    _check_type(type_)
    frame = {"type": type_, "data": _plain(data)}
    messages = [(group, frame) for group in dict.fromkeys(groups)]
    transaction.on_commit(lambda: transport.push(messages), robust=True)
