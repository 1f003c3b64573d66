"""Messaging, each measure side by side with the "before" shape the seeds describe, on the
same data in the same run:

- chat send: server time p50/p99 of `message_send` (one transaction each, committed) in a
  group of five, vs the naive send (access check in Python, ORM create, a save per seat, a
  seq bump and an event row per participant, a serializer reading the sender again);
- conversation list: the API page for a user with 10 and with 1,000 conversations (same query
  count, time ratio target <= 1.3), vs the N+1 list (every conversation loaded and sorted in
  Python, then per conversation its participants, last message and unread count);
- pending-invitation check: cached (warm) and uncached (cold), vs fetching every pending
  invitation of the user and filtering the expired ones in Python, N+1 on the caller.

Samples of compared shapes are interleaved, so drift of a shared machine hits both alike.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import CallStage
from callcenter.models import Agent, Call
from messaging.models import (
    CallInvitation,
    Conversation,
    ConversationKind,
    Message,
    Participant,
)
from messaging.selectors import pending_invitations
from messaging.services import message_send
from messaging.services.invitations import pending_cache_key
from realtime.models import EventCursor, UserEvent

NAME = "messaging"
# The same page for both inboxes (the 10-conversation one has no more), so only the size of
# what lies behind the page differs.
URL = "/api/v1/conversations/?page_size=10"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _row(metric: str, value, unit: str, note: str = "", **extra) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"benchmark": NAME, "metric": metric, "value": value, "unit": unit, "note": note,
            **extra}  # fmt: skip


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _queries(fn) -> int:
    """Statements run by `fn`, without transaction control (BEGIN, COMMIT, savepoints)."""
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return sum(not q["sql"].lstrip().startswith(CONTROL) for q in ctx.captured_queries)


def run(ctx) -> list[dict]:
    call_command("flush", interactive=False, verbosity=0)
    scale = ctx.scale
    users = _users(max(60, round(200 * scale)))
    rows = []
    rows += _bench_send(ctx, users, repeat=max(200, round(1000 * scale)))
    rows += _bench_list(ctx, users, repeat=max(100, round(300 * scale)))
    rows += _bench_pending(ctx, users, repeat=max(50, round(300 * scale)),
                           history=max(500, round(20_000 * scale)))  # fmt: skip
    return rows


# --- data -----------------------------------------------------------------------------------


def _users(count: int) -> list:
    User = get_user_model()
    made = User.objects.bulk_create(
        User(username=f"bench{i:05d}", first_name="Bench", last_name=str(i), password="!")
        for i in range(count)
    )
    Agent.objects.bulk_create(Agent(user=u) for u in made)
    return made


def _conversations(owner, others: list, count: int, messages_each: int = 3) -> list[int]:
    """`count` group conversations of `owner` with two others each, a few messages each."""
    now = timezone.now()
    made = Conversation.objects.bulk_create(
        Conversation(kind=ConversationKind.GROUP, title=f"{owner.username} {i}")
        for i in range(count)
    )
    seats = []
    for i, c in enumerate(made):
        for member in (owner, others[i % len(others)], others[(i + 7) % len(others)]):
            seats.append(Participant(conversation=c, user=member, last_activity_at=now))
    Participant.objects.bulk_create(seats, ignore_conflicts=True)
    sent = Message.objects.bulk_create(
        Message(
            conversation=c,
            sender=(owner, others[i % len(others)])[k % 2],
            body=f"message {k}",
            client_id=uuid.uuid4(),
            created_at=now - timedelta(minutes=count - i),
        )
        for i, c in enumerate(made)
        for k in range(messages_each)
    )
    last = {m.conversation_id: m for m in sent}
    seats = list(Participant.objects.filter(conversation__in=made))
    for seat in seats:
        seat.last_message_id = last[seat.conversation_id].pk
        seat.last_activity_at = last[seat.conversation_id].created_at
    Participant.objects.bulk_update(seats, ["last_message_id", "last_activity_at"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [c.pk for c in made]


# --- send -----------------------------------------------------------------------------------


def _send_before(conversation_id: int, sender, body: str) -> Message:
    """The seeds' send: access check in Python, ORM create, a save per seat, then per
    participant a seq bump and an event row, and a serializer that reads the sender again."""
    with transaction.atomic():
        conversation = Conversation.objects.get(pk=conversation_id)
        seats = list(Participant.objects.filter(conversation=conversation))
        if sender.pk not in [s.user_id for s in seats]:
            raise PermissionError
        message = Message.objects.create(
            conversation=conversation, sender=sender, body=body, client_id=uuid.uuid4()
        )
        for seat in seats:
            seat.last_message = message
            seat.last_activity_at = message.created_at
            seat.save()
        author = get_user_model().objects.get(pk=message.sender_id)
        payload = {"id": message.pk, "body": body, "sender": author.username}
        for seat in seats:
            cursor, _ = EventCursor.objects.select_for_update().get_or_create(user_id=seat.user_id)
            cursor.last_seq += 1
            cursor.save()
            UserEvent.objects.create(
                user_id=seat.user_id, seq=cursor.last_seq, type="message.created", data=payload
            )
    return message


def _bench_send(ctx, users: list, repeat: int) -> list[dict]:
    members = users[:5]
    group = Conversation.objects.create(kind=ConversationKind.GROUP, title="send bench")
    Participant.objects.bulk_create(Participant(conversation=group, user=u) for u in members)
    sender = members[0]
    shapes = {
        "now": lambda: message_send(conversation_id=group.pk, sender=sender, body="hello"),
        "before": lambda: _send_before(group.pk, sender, "hello"),
    }
    counts = {name: _queries(fn) for name, fn in shapes.items()}
    samples = {name: [] for name in shapes}
    ctx.log(f"{NAME}: {repeat} sends of each shape to a group of {len(members)}")
    for _ in range(repeat):
        for name, fn in shapes.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    rows = []
    for name in shapes:
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            note = f"{repeat} sends, group of 5, committed; {counts[name]} queries"
            rows.append(_row(f"send.{name}.{label}", _p(samples[name], q) * 1000, "ms", note))
        rows.append(_row(f"send.{name}.queries", counts[name], "queries"))
    rows.insert(0, _row("send.speedup.p50", _p(samples["before"], 0.5) / _p(samples["now"], 0.5),
                        "x", "before p50 / now p50"))  # fmt: skip
    return rows


# --- conversation list ----------------------------------------------------------------------


def _list_before(user) -> list[dict]:
    """The seeds' list: every conversation of the user, sorted in Python by its last message,
    then for the page of 20: participants, last message with sender, unread count each."""
    conversations = list(Conversation.objects.filter(participants__user=user))
    latest = {}
    for c in conversations:
        latest[c.pk] = Message.objects.filter(conversation=c).order_by("-id").first()
    conversations.sort(key=lambda c: latest[c.pk].created_at if latest[c.pk] else c.created_at,
                       reverse=True)  # fmt: skip
    page = []
    for c in conversations[:20]:
        seat = Participant.objects.get(conversation=c, user=user)
        participants = [p.user.username for p in Participant.objects.filter(conversation=c)]
        last = latest[c.pk]
        unread = (
            Message.objects.filter(conversation=c, id__gt=seat.last_read_message_id)
            .exclude(sender=user)
            .count()
        )
        page.append({"id": c.pk, "participants": participants, "unread": unread,
                     "last": last and (last.body, last.sender.username)})  # fmt: skip
    return page


def _bench_list(ctx, users: list, repeat: int) -> list[dict]:
    small_user, large_user = users[-1], users[-2]
    others = users[5:-2]
    ctx.log(f"{NAME}: inboxes of 10 and 1,000 conversations")
    _conversations(small_user, others, 10)
    _conversations(large_user, others, 1000)
    clients = {}
    for label, user in (("10", small_user), ("1000", large_user)):
        client = APIClient(SERVER_NAME="localhost")  # one of settings.local's ALLOWED_HOSTS
        client.force_authenticate(user)
        clients[label] = client
    shapes = {
        ("now", "10"): lambda: clients["10"].get(URL),
        ("now", "1000"): lambda: clients["1000"].get(URL),
        ("before", "10"): lambda: _list_before(small_user),
        ("before", "1000"): lambda: _list_before(large_user),
    }
    counts = {key: _queries(fn) for key, fn in shapes.items()}
    assert clients["1000"].get(URL).status_code == 200
    samples = {key: [] for key in shapes}
    for _ in range(repeat):
        for key, fn in shapes.items():
            if key[0] == "before" and key[1] == "1000" and len(samples[key]) >= max(5, repeat // 5):
                continue  # slow: fewer samples suffice
            start = time.perf_counter()
            fn()
            samples[key].append(time.perf_counter() - start)
    med = {key: statistics.median(s) for key, s in samples.items()}
    rows = [
        _row("list.now.ratio_1000_vs_10", med[("now", "1000")] / med[("now", "10")], "x",
             "API page of 10, medians; target <= 1.3"),
        _row("list.now.ratio_best_1000_vs_10",
             min(samples[("now", "1000")]) / min(samples[("now", "10")]), "x",
             "API page of 10, fastest samples"),
        _row("list.before.ratio_1000_vs_10", med[("before", "1000")] / med[("before", "10")],
             "x", "N+1 list, medians"),
    ]  # fmt: skip
    for (shape, size), value in med.items():
        note = f"{len(samples[(shape, size)])} samples; {counts[(shape, size)]} queries"
        rows.append(_row(f"list.{shape}.{size}.median", value * 1000, "ms", note))
        rows.append(_row(f"list.{shape}.{size}.queries", counts[(shape, size)], "queries"))
    return rows


# --- pending invitations --------------------------------------------------------------------


def _pending_before(user) -> list[dict]:
    """The seeds' check: every pending invitation of the user, the expired ones filtered out in
    Python, the caller read per invitation."""
    now = timezone.now()
    found = CallInvitation.objects.filter(receiver=user, status="pending")
    valid = [i for i in found if i.expires_at > now]
    return [{"id": i.pk, "caller": i.caller.username} for i in valid]


def _bench_pending(ctx, users: list, repeat: int, history: int) -> list[dict]:
    receiver, callers, strangers = users[-3], users[5:25], users[25:-3]
    now = timezone.now()
    call = Call.objects.create(call_sid=f"CA{uuid.uuid4().hex}", direction="inbound",
                               stage=CallStage.CONNECTED, agent=callers[0].agent, created_at=now,
                               conference_sid="CF" + "0" * 32)  # fmt: skip
    ctx.log(f"{NAME}: {history:,} past invitations, 5 pending for the viewer")
    old = now - timedelta(days=3)
    rows_ = [
        CallInvitation(caller=callers[i % len(callers)], receiver=strangers[i % len(strangers)],
                       call=call, status=("expired", "declined", "accepted")[i % 3],
                       created_at=old, expires_at=old + timedelta(minutes=1))
        for i in range(history)
    ]  # fmt: skip
    # The viewer's own: long expired but never marked (the seeds' "pending" leftovers), and 5
    # live ones.
    rows_ += [
        CallInvitation(caller=callers[i], receiver=receiver, call=call, status="pending",
                       created_at=old - timedelta(minutes=i),
                       expires_at=old + timedelta(minutes=1))
        for i in range(10)
    ]  # fmt: skip
    CallInvitation.objects.bulk_create(rows_, batch_size=5000)
    CallInvitation.objects.bulk_create(
        CallInvitation(caller=callers[10 + i], receiver=receiver, call=call,
                       created_at=now, expires_at=now + timedelta(hours=1))
        for i in range(5)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_callinvitation")
    key = pending_cache_key(receiver.pk)

    def cold():
        cache.delete(key)
        return pending_invitations(receiver)

    shapes = {
        "uncached": cold,
        "cached": lambda: pending_invitations(receiver),
        "before": lambda: _pending_before(receiver),
    }
    assert len(cold()) == 5 and len(_pending_before(receiver)) == 5
    pending_invitations(receiver)
    counts = {"uncached": _queries(cold), "cached": _queries(shapes["cached"]),
              "before": _queries(shapes["before"])}  # fmt: skip
    samples = {name: [] for name in shapes}
    for _ in range(repeat):
        for name, fn in shapes.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    rows = []
    for name in shapes:
        rows.append(_row(f"pending.{name}.median", statistics.median(samples[name]) * 1000, "ms",
                         f"{repeat} checks; {counts[name]} queries; cache {backend}"))  # fmt: skip
        rows.append(_row(f"pending.{name}.queries", counts[name], "queries"))
    before, uncached = statistics.median(samples["before"]), statistics.median(samples["uncached"])
    rows.insert(0, _row("pending.speedup.uncached", before / uncached, "x", "before / uncached"))
    rows.insert(1, _row("pending.speedup.cached", before / statistics.median(samples["cached"]),
                        "x", "before / cached"))  # fmt: skip
    return rows
