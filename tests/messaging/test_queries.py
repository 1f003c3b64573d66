"""Query budgets of the messaging endpoints (the issue's acceptance numbers), pinned on
PostgreSQL. Requests are authenticated with `force_authenticate`, so the counts are the
endpoint's own statements (token authentication adds one, a session two)."""

import uuid

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils import timezone

from messaging.models import Attachment, Conversation, ConversationKind, Message, Participant
from messaging.services import invitation_create, ping_send
from tests.conftest import as_user
from tests.factories import UserFactory

from .conftest import connected_call, make_conversation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def grow_inbox(user, count: int) -> None:
    """`count` more conversations of `user`: groups of three, each with two messages (one
    unread, one with a deleted neighbour), bulk-inserted."""
    others = [UserFactory() for _ in range(4)]
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        Conversation(kind=ConversationKind.GROUP, title=f"room {i}") for i in range(count)
    )
    seats = []
    for i, conversation in enumerate(conversations):
        for member in (user, others[i % 4], others[(i + 1) % 4]):
            seats.append(Participant(conversation=conversation, user=member, last_activity_at=now))
    Participant.objects.bulk_create(seats)
    messages = Message.objects.bulk_create(
        Message(conversation=c, sender=sender, body=f"hello {c.pk}", client_id=uuid.uuid4())
        for c in conversations
        for sender in (others[0], user)
    )
    last = {m.conversation_id: m.pk for m in messages}
    for seat in seats:
        seat.last_message_id = last[seat.conversation_id]
    Participant.objects.bulk_update(seats, ["last_message_id"])


def _count(api, queries, method: str, url: str, data=None, **extra) -> tuple[int, object]:
    with queries() as captured:
        response = (
            getattr(api, method)(url, data, **extra)
            if data is not None
            else getattr(api, method)(url)
        )
    assert response.status_code < 300, response.content
    return captured.count, response


def test_conversation_list_is_two_queries_from_20_to_1000_conversations(api, ana, queries):
    grow_inbox(ana, 20)
    as_user(api, ana)
    small, response = _count(api, queries, "get", "/api/v1/conversations/")
    rows = response.json()["results"]
    assert len(rows) == 20
    assert all(r["unread"] == 1 and len(r["participants"]) == 3 for r in rows)
    assert all(r["last_message"]["sender"]["id"] == ana.pk for r in rows)
    grow_inbox(ana, 980)
    large, response = _count(api, queries, "get", "/api/v1/conversations/")
    assert len(response.json()["results"]) == 20
    assert small == large == 2  # the page with its latest messages and counts, the seats
    assert large <= 4


def test_a_page_of_50_messages_with_senders_and_files_is_three_queries(api, ana, ben, queries):
    chat = make_conversation(ana, ben)
    messages = Message.objects.bulk_create(
        Message(conversation=chat, sender=(ana, ben)[i % 2], body=f"m{i}", client_id=uuid.uuid4())
        for i in range(60)
    )
    for message in messages[::3]:
        attachment = Attachment(message=message, name="a.txt", content_type="text/plain", size=1)
        attachment.file.save("a.txt", ContentFile(b"a"), save=True)
    as_user(api, ana)
    count, response = _count(
        api, queries, "get", f"/api/v1/conversations/{chat.pk}/messages/?page_size=50"
    )
    page = response.json()["results"]
    assert len(page) == 50 and sum(bool(m["attachments"]) for m in page) >= 16
    assert count == 3  # membership, the page with senders (and pings), its files


def test_send_is_three_queries(api, ana, ben, cleo, queries):
    chat = make_conversation(ana, ben, cleo, title="Trio")
    as_user(api, ana)
    api.post(f"/api/v1/conversations/{chat.pk}/messages/", {"body": "warm-up"})
    count, response = _count(
        api, queries, "post", f"/api/v1/conversations/{chat.pk}/messages/", {"body": "hi"}
    )
    assert response.status_code == 201
    assert count == 3  # the seats; the message with seats and pings updated; the events
    assert count <= 5


def test_first_ping_is_six_queries_and_a_later_one_four(api, ana, ben, queries, settings):
    settings.MESSAGING_PING_COOLDOWN_SECONDS = 0
    as_user(api, ana)
    first, response = _count(api, queries, "post", "/api/v1/pings/", {"receiver": ben.pk})
    assert response.status_code == 201
    later, _ = _count(api, queries, "post", "/api/v1/pings/", {"receiver": ben.pk})
    # quota; receiver, conversation and cooldown; [conversation; seats]; message with its
    # ping; events
    assert (first, later) == (6, 4)


def test_the_service_alone_matches(ana, ben, queries, settings):
    settings.MESSAGING_PING_COOLDOWN_SECONDS = 0
    ping_send(sender=ana, receiver_id=ben.pk)
    with queries() as captured:
        ping_send(sender=ana, receiver_id=ben.pk)
    assert captured.count == 4


def test_pending_invitations_check_is_two_queries_cold_and_none_warm(api, ana, ben, queries):
    cache.clear()
    invitation_create(caller=ana, receiver_id=ben.pk, call_id=connected_call(ana).pk)
    as_user(api, ben)
    cold, response = _count(api, queries, "get", "/api/v1/invitations/pending/")
    assert len(response.json()["results"]) == 1
    warm, again = _count(api, queries, "get", "/api/v1/invitations/pending/")
    assert again.json() == response.json()
    assert (cold, warm) == (2, 0)  # mark the overdue ones, read the rest; then the cache
    cache.clear()


@pytest.mark.parametrize("direction", ["sent", "received"])
def test_ping_and_invitation_lists_do_not_grow_with_rows(api, ana, queries, settings, direction):
    settings.MESSAGING_PING_COOLDOWN_SECONDS = 0
    receivers = [UserFactory() for _ in range(3)]
    for receiver in receivers:
        ping_send(sender=ana, receiver_id=receiver.pk)
    viewer = ana if direction == "sent" else receivers[0]
    as_user(api, viewer)
    few, _ = _count(api, queries, "get", f"/api/v1/pings/?direction={direction}")
    for receiver in receivers * 3:
        ping_send(sender=ana, receiver_id=receiver.pk)
    many, response = _count(api, queries, "get", f"/api/v1/pings/?direction={direction}")
    assert few == many == 2  # count, page
    assert len(response.json()["results"]) in (12, 4)
    listed, _ = _count(api, queries, "get", "/api/v1/invitations/")
    assert listed <= 2
