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


def _log_in_one_statement(users: list[int], type_: str, data: dict, now) -> dict[int, int]:
    # PostgreSQL: every recipient's cursor bumped and event appended by one statement, so a
    # message to a group of 50 costs what a message to one person costs.
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH bumped AS ("
            " INSERT INTO realtime_eventcursor (user_id, last_seq, acked_seq)"
            " SELECT u, 1, 0 FROM unnest(%s::bigint[]) AS u ORDER BY u"
            " ON CONFLICT (user_id) DO UPDATE SET last_seq = realtime_eventcursor.last_seq + 1"
            " RETURNING user_id, last_seq)"
            " INSERT INTO realtime_userevent (user_id, seq, type, data, created_at)"
            " SELECT user_id, last_seq, %s, %s::jsonb, %s FROM bumped"
            " RETURNING user_id, seq",
            [users, type_, json.dumps(data), now],
        )
        return dict(cursor.fetchall())


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
    # Joins the caller's transaction (no savepoint): the events stand or fall with the change.
    with transaction.atomic(savepoint=False):
        # Sorted: two transactions bumping the same cursors take the row locks in one order.
        users = sorted(set(user_ids))
        if connection.vendor == "postgresql":
            seqs = _log_in_one_statement(users, type_, data, now)
        else:
            seqs = {user_id: _next_seq(user_id) for user_id in users}
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
