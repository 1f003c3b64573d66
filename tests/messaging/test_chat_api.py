"""Chat over REST: conversations, sending (idempotent), edit and delete, attachments, read
pointers and unread counts, typing; bad input and outsiders change nothing."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from messaging.models import Attachment, Conversation, Message, Participant
from realtime.models import UserEvent
from tests.conftest import as_user
from tests.factories import UserFactory

from .conftest import make_conversation

pytestmark = pytest.mark.django_db


def _messages_url(conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/messages/"


def test_send_stores_the_message_and_logs_it_for_every_participant(api, ana, ben):
    chat = make_conversation(ana, ben)
    response = as_user(api, ana).post(_messages_url(chat), {"body": "  Hi Ben  "})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["body"] == "Hi Ben"
    assert body["sender"]["name"] == "Ana Lima"
    message = Message.objects.get()
    assert (message.conversation_id, message.sender_id, message.body) == (chat.pk, ana.pk, "Hi Ben")
    events = UserEvent.objects.filter(type="message.created").order_by("user_id")
    assert [e.user_id for e in events] == sorted([ana.pk, ben.pk])
    assert events[0].data["id"] == message.pk
    seats = Participant.objects.filter(conversation=chat)
    assert {s.last_message_id for s in seats} == {message.pk}


def test_a_retried_send_with_the_same_client_id_returns_the_same_message(api, ana, ben):
    chat = make_conversation(ana, ben)
    client_id = str(uuid.uuid4())
    first = as_user(api, ana).post(_messages_url(chat), {"body": "once", "client_id": client_id})
    again = api.post(_messages_url(chat), {"body": "once", "client_id": client_id})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.count() == 1
    assert UserEvent.objects.filter(type="message.created").count() == 2  # one per participant


def test_a_client_id_reused_in_another_conversation_is_refused(api, ana, ben, cleo):
    first, second = make_conversation(ana, ben), make_conversation(ana, cleo)
    client_id = str(uuid.uuid4())
    as_user(api, ana).post(_messages_url(first), {"body": "a", "client_id": client_id})
    response = api.post(_messages_url(second), {"body": "b", "client_id": client_id})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "client_id_reused"
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"body": "   "}, "empty"),
        ({"body": "x" * 4001}, "too_long"),
        ({"body": "hi", "client_id": "not-a-uuid"}, "invalid"),
    ],
)
def test_bad_messages_get_a_clear_400_and_change_nothing(api, ana, ben, payload, code):
    chat = make_conversation(ana, ben)
    response = as_user(api, ana).post(_messages_url(chat), payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not Message.objects.exists() and not UserEvent.objects.exists()


def test_outsiders_get_404_for_the_conversation_its_messages_and_files(api, ana, ben, cleo):
    chat = make_conversation(ana, ben)
    upload = SimpleUploadedFile("notes.txt", b"secret", content_type="text/plain")
    sent = as_user(api, ana).post(
        _messages_url(chat), {"body": "file", "files": [upload]}, format="multipart"
    )
    assert sent.status_code == 201, sent.content
    attachment = Attachment.objects.get()
    message_url = f"{_messages_url(chat)}{sent.json()['id']}/"
    as_user(api, cleo)
    for method, url, data in [
        ("get", f"/api/v1/conversations/{chat.pk}/", None),
        ("get", _messages_url(chat), None),
        ("post", _messages_url(chat), {"body": "let me in"}),
        ("patch", message_url, {"body": "changed"}),
        ("delete", message_url, None),
        ("post", f"/api/v1/conversations/{chat.pk}/read/", {}),
        ("post", f"/api/v1/conversations/{chat.pk}/typing/", {"typing": True}),
        ("get", f"/api/v1/attachments/{attachment.pk}/", None),
    ]:
        response = (
            getattr(api, method)(url, data) if data is not None else getattr(api, method)(url)
        )
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert Message.objects.get().body == "file" and Message.objects.count() == 1
    assert not Message.objects.filter(edited_at__isnull=False).exists()


def test_anonymous_requests_get_401(api, ana, ben):
    chat = make_conversation(ana, ben)
    assert api.get("/api/v1/conversations/").status_code == 401
    assert api.post(_messages_url(chat), {"body": "hi"}).status_code == 401


def test_attachments_are_stored_through_the_storage_and_served_to_participants(api, ana, ben):
    chat = make_conversation(ana, ben)
    upload = SimpleUploadedFile("shot.png", b"\x89PNG fake", content_type="image/png")
    sent = as_user(api, ana).post(
        _messages_url(chat), {"body": "", "files": [upload]}, format="multipart"
    )
    assert sent.status_code == 201, sent.content
    [meta] = sent.json()["attachments"]
    assert (meta["name"], meta["size"], meta["content_type"]) == ("shot.png", 9, "image/png")
    response = as_user(api, ben).get(meta["url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    assert response["Content-Type"] == "image/png"
    assert "attachment" in response["Content-Disposition"]


@override_settings(MESSAGING_ATTACHMENT_MAX_BYTES=4)
@pytest.mark.parametrize(
    ("name", "content", "content_type", "code"),
    [
        ("big.txt", b"12345", "text/plain", "attachment_too_large"),
        ("run.sh", b"ls", "application/x-sh", "attachment_type"),
    ],
)
def test_attachments_over_the_limits_are_refused(api, ana, ben, name, content, content_type, code):
    chat = make_conversation(ana, ben)
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    response = as_user(api, ana).post(
        _messages_url(chat), {"body": "x", "files": [upload]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not Message.objects.exists() and not Attachment.objects.exists()


def test_edit_and_delete_are_the_senders_and_stay_visible_as_such(api, ana, ben):
    chat = make_conversation(ana, ben)
    message_id = as_user(api, ana).post(_messages_url(chat), {"body": "helo"}).json()["id"]
    url = f"{_messages_url(chat)}{message_id}/"
    as_user(api, ben)
    refused = api.patch(url, {"body": "mine now"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_sender"
    as_user(api, ana)
    edited = api.patch(url, {"body": "hello"})
    assert edited.status_code == 200
    assert edited.json()["body"] == "hello" and edited.json()["edited_at"] is not None
    deleted = api.delete(url)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    page = as_user(api, ben).get(_messages_url(chat)).json()["results"]
    assert [(m["id"], m["deleted"], m["body"]) for m in page] == [(message_id, True, "")]
    assert api.patch(url, {"body": "back"}).status_code == 400  # deleted (and not ben's)
    types = list(UserEvent.objects.filter(user=ben).order_by("seq").values_list("type", flat=True))
    assert types == ["message.created", "message.updated", "message.updated"]


def test_messages_are_paged_newest_first_with_a_cursor(api, ana, ben):
    chat = make_conversation(ana, ben)
    as_user(api, ana)
    ids = [api.post(_messages_url(chat), {"body": f"m{i}"}).json()["id"] for i in range(7)]
    first = api.get(_messages_url(chat) + "?page_size=5").json()
    assert [m["id"] for m in first["results"]] == ids[::-1][:5]
    second = api.get(first["next"]).json()
    assert [m["id"] for m in second["results"]] == ids[::-1][5:]
    assert second["next"] is None


def test_unread_counts_and_read_pointers(api, ana, ben, cleo):
    chat = make_conversation(ana, ben, cleo, title="Team")
    as_user(api, ana)
    for i in range(3):
        api.post(_messages_url(chat), {"body": f"news {i}"})
    as_user(api, ben)
    [row] = api.get("/api/v1/conversations/").json()["results"]
    assert (row["unread"], row["title"], len(row["participants"])) == (3, "Team", 3)
    assert row["last_message"]["body"] == "news 2"
    own = as_user(api, ana).get("/api/v1/conversations/").json()["results"][0]
    assert own["unread"] == 0  # one's own messages are never unread

    read = as_user(api, ben).post(f"/api/v1/conversations/{chat.pk}/read/", {})
    assert read.status_code == 200
    latest = Message.objects.latest("id").pk
    assert read.json()["last_read_message_id"] == latest
    assert api.get("/api/v1/conversations/").json()["results"][0]["unread"] == 0
    backwards = api.post(f"/api/v1/conversations/{chat.pk}/read/", {"message": 1})
    assert backwards.json()["last_read_message_id"] == latest  # never moves back
    receipt = UserEvent.objects.filter(user=ana, type="conversation.read").get()
    assert receipt.data == {"conversation": chat.pk, "user": ben.pk, "last_read_message_id": latest}


def test_direct_conversations_are_one_per_pair_and_groups_need_members(api, ana, ben):
    as_user(api, ana)
    created = api.post("/api/v1/conversations/", {"kind": "direct", "user": ben.pk})
    again = as_user(api, ben).post("/api/v1/conversations/", {"kind": "direct", "user": ana.pk})
    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["id"] == again.json()["id"]
    assert Conversation.objects.count() == 1
    as_user(api, ana)
    for payload, field in [
        ({"kind": "direct"}, "user"),
        ({"kind": "group", "title": "x"}, "members"),
        ({"kind": "direct", "user": ana.pk}, None),
        ({"kind": "group", "members": [987654]}, None),
        ({"kind": "broadcast"}, "kind"),
    ]:
        response = api.post("/api/v1/conversations/", payload, format="json")
        assert response.status_code == 400, payload
        if field:
            assert field in response.json()["error"]["details"]
    assert Conversation.objects.count() == 1


def test_inactive_users_cannot_be_added(api, ana):
    gone = UserFactory(is_active=False)
    response = as_user(api, ana).post(
        "/api/v1/conversations/", {"kind": "group", "members": [gone.pk]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_user"


def test_typing_is_ephemeral_never_logged(api, ana, ben, django_capture_on_commit_callbacks):
    chat = make_conversation(ana, ben)
    response = as_user(api, ana).post(f"/api/v1/conversations/{chat.pk}/typing/", {"typing": True})
    assert response.status_code == 204
    assert not UserEvent.objects.exists()
    bad = api.post(f"/api/v1/conversations/{chat.pk}/typing/", {"typing": "maybe"})
    assert bad.status_code == 400


def test_a_deleted_messages_files_are_gone_for_everyone(api, ana, ben):
    chat = make_conversation(ana, ben)
    upload = SimpleUploadedFile("notes.txt", b"draft", content_type="text/plain")
    sent = (
        as_user(api, ana)
        .post(_messages_url(chat), {"body": "see file", "files": [upload]}, format="multipart")
        .json()
    )
    url = sent["attachments"][0]["url"]
    assert as_user(api, ben).get(url).status_code == 200
    as_user(api, ana).delete(f"{_messages_url(chat)}{sent['id']}/")
    assert api.get(url).status_code == 404
    assert as_user(api, ben).get(url).status_code == 404


def test_a_group_is_created_with_its_members_and_announced(api, ana, ben, cleo):
    response = as_user(api, ana).post(
        "/api/v1/conversations/",
        {"kind": "group", "title": "Night shift", "members": [ben.pk, cleo.pk, ana.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Night shift" and body["unread"] == 0
    assert sorted(p["id"] for p in body["participants"]) == sorted([ana.pk, ben.pk, cleo.pk])
    announced = UserEvent.objects.filter(type="conversation.created")
    assert sorted(announced.values_list("user_id", flat=True)) == sorted([ana.pk, ben.pk, cleo.pk])
    detail = as_user(api, cleo).get(f"/api/v1/conversations/{body['id']}/")
    assert detail.status_code == 200 and detail.json()["kind"] == "group"
