"""The documented answers are the answers: messaging's views skip an output serializer (they
answer with the dicts realtime frames carry), so a working day through the REST API has every
answer validated against the served OpenAPI schema for its path, method and status, with
every documented key required and no undocumented key allowed. And the schema generates
without a warning."""

import re
import uuid
from datetime import date, datetime
from urllib.parse import urlparse

import jsonschema
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from drf_spectacular.drainage import reset_generator_stats
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

from callcenter.models import QueueMembership
from messaging.services.analytics import ping_stats_refresh
from tests.conftest import as_user

from .conftest import connected_call

SCHEMA_URL = "/api/v1/schema/"
BASE = "urn:switchboard:openapi"
MESSAGING_PATHS = tuple(
    f"/api/v1/{prefix}/" for prefix in ("conversations", "attachments", "pings", "invitations")
)


def _as_json_schema(node, *, in_properties=False):
    """OpenAPI 3.0 schema objects → JSON Schema 2020-12: `nullable` becomes a null type, and
    every object with documented properties is closed (`additionalProperties: false`), so a
    key the views add without documenting it fails too. `in_properties`: `node` maps
    property names to schemas (a name such as `format` is no keyword there)."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {name: _as_json_schema(value) for name, value in node.items()}
    node = {
        key: _as_json_schema(value, in_properties=key == "properties")
        for key, value in node.items()
    }
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        if "type" in node and "$ref" not in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:  # allOf / oneOf / $ref wrappers
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def _date_time(value) -> bool:
    return not isinstance(value, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
        and datetime.fromisoformat(value)
    )


def _date(value) -> bool:
    return not isinstance(value, str) or bool(
        re.fullmatch(r"\d{4}-\d\d-\d\d", value) and date.fromisoformat(value)
    )


def _uuid(value) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value


def _uri(value) -> bool:
    parsed = urlparse(value) if isinstance(value, str) else None
    return parsed is None or bool(parsed.scheme and parsed.netloc)


FORMATS = jsonschema.FormatChecker(formats=())
for _name, _check in (("date-time", _date_time), ("date", _date), ("uuid", _uuid)):
    FORMATS.checks(_name, raises=ValueError)(_check)
FORMATS.checks("uri")(_uri)


class Documented:
    """The served schema, and every answer checked against it (`seen`: path, method, status)."""

    def __init__(self, document: dict):
        self.document = document
        converted = _as_json_schema(document)
        self.registry = Registry().with_resource(
            BASE, Resource.from_contents(converted, default_specification=DRAFT202012)
        )
        self.converted = converted
        self.patterns = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]
        self.seen: set[tuple[str, str, int]] = set()

    def path_of(self, url_path: str) -> str:
        [path] = [path for pattern, path in self.patterns if pattern.match(url_path)]
        return path

    def check(self, response) -> None:
        url_path, method = response.request["PATH_INFO"], response.request["REQUEST_METHOD"]
        if url_path == SCHEMA_URL:
            return
        path = self.path_of(url_path)
        responses = self.converted["paths"][path][method.lower()]["responses"]
        status = response.status_code
        assert str(status) in responses, (
            f"{method} {path} answered {status}, documented: {sorted(responses)}"
        )
        self.seen.add((path, method.lower(), status))
        content = responses[str(status)].get("content")
        if content is None:
            assert not response.content, f"{method} {path} {status} is documented without body"
            return
        if "application/json" not in content:  # a file: its bytes are not JSON
            assert not response["Content-Type"].startswith("application/json")
            return
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", path, method.lower(), "responses", str(status))
        )
        schema = {"$ref": f"{BASE}#/{pointer}/content/application~1json/schema"}
        validator = jsonschema.Draft202012Validator(
            schema, registry=self.registry, format_checker=FORMATS
        )
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: e.path)
        assert not errors, f"{method} {url_path} {status}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors
        )

    def operations(self) -> set[tuple[str, str, int]]:
        """Every documented success answer of messaging's operations."""
        return {
            (path, method, int(status))
            for path, item in self.document["paths"].items()
            if path.startswith(MESSAGING_PATHS)
            for method, operation in item.items()
            for status in operation["responses"]
            if status.startswith("2")
        }


class CheckedClient(APIClient):
    """An APIClient whose every answer is checked against the documented schema."""

    documented: Documented

    def request(self, **kwargs):
        response = super().request(**kwargs)
        self.documented.check(response)
        return response


@pytest.fixture(scope="module")
def documented() -> Documented:
    response = Client().get(SCHEMA_URL, {"format": "json"})
    assert response.status_code == 200
    return Documented(response.json())


@pytest.fixture
def checked(documented, db) -> CheckedClient:
    cache.clear()
    client = CheckedClient()
    client.documented = documented
    documented.seen.clear()
    yield client
    cache.clear()


def _upload(name="notes.txt", content=b"agenda", content_type="text/plain"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def _chat(api, ana, ben, cleo) -> dict:
    """Conversations and messages; returns the ids the later steps use."""
    assert api.get("/api/v1/conversations/").status_code == 401  # signed out

    as_user(api, ana)
    direct = api.post("/api/v1/conversations/", {"kind": "direct", "user": ben.pk})
    assert direct.status_code == 201 and direct.json()["last_message"] is None
    direct = direct.json()["id"]
    assert api.post("/api/v1/conversations/", {"kind": "direct", "user": ben.pk}).status_code == 200
    group = api.post(
        "/api/v1/conversations/",
        {"kind": "group", "title": "Billing", "members": [ben.pk, cleo.pk]},
        format="json",
    )
    assert group.status_code == 201 and group.json()["kind"] == "group"
    assert api.post("/api/v1/conversations/", {"kind": "group"}).status_code == 400

    messages = f"/api/v1/conversations/{direct}/messages/"
    client_id = str(uuid.uuid4())
    sent = api.post(
        messages,
        {"body": "Agenda attached", "client_id": client_id, "files": [_upload()]},
        format="multipart",
    )
    assert sent.status_code == 201, sent.content
    [attachment] = sent.json()["attachments"]
    retry = api.post(messages, {"body": "Agenda attached", "client_id": client_id})
    assert retry.status_code == 200 and retry.json()["id"] == sent.json()["id"]
    assert api.post(messages, {"body": ""}).status_code == 400

    draft = api.post(messages, {"body": "See you at 3"}, format="json").json()
    edited = api.patch(f"{messages}{draft['id']}/", {"body": "See you at 4"}, format="json")
    assert edited.status_code == 200 and edited.json()["edited_at"] is not None
    deleted = api.delete(f"{messages}{draft['id']}/")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True

    file = api.get(attachment["url"])
    assert file.status_code == 200 and b"".join(file.streaming_content) == b"agenda"

    as_user(api, ben)
    answer = api.post(messages, {"body": "Thanks"}).json()
    assert api.patch(f"{messages}{draft['id']}/", {"body": "mine?"}).status_code == 400
    assert api.post(f"/api/v1/conversations/{direct}/typing/", {"typing": True}).status_code == 204
    inbox = api.get("/api/v1/conversations/", {"page_size": 1})
    assert inbox.status_code == 200 and inbox.json()["next"] is not None
    older = api.get(inbox.json()["next"])
    assert older.status_code == 200 and older.json()["previous"] is not None
    seat = api.get(f"/api/v1/conversations/{direct}/").json()
    assert seat["unread"] == 1 and seat["last_message"]["id"] == answer["id"]
    read = api.post(f"/api/v1/conversations/{direct}/read/", {"message": sent.json()["id"]})
    assert read.json()["last_read_message_id"] == sent.json()["id"]
    assert api.post(f"/api/v1/conversations/{direct}/read/", {}).status_code == 200
    page = api.get(messages, {"page_size": 2})
    assert page.status_code == 200 and page.json()["next"] is not None
    assert api.get(page.json()["next"]).json()["previous"] is not None

    as_user(api, cleo)  # not in the direct conversation
    assert api.get(f"/api/v1/conversations/{direct}/").status_code == 404
    assert api.get(messages).status_code == 404
    assert api.get(attachment["url"]).status_code == 404
    return {"direct": direct}


def _pings(api, ana, ben, cleo, queue, direct: int) -> None:
    as_user(api, ana)
    sent = api.post("/api/v1/pings/", {"receiver": cleo.pk, "note": "Spanish caller?"})
    assert sent.status_code == 201 and sent.json()["message"]["kind"] == "ping"
    limited = api.post("/api/v1/pings/", {"receiver": cleo.pk})  # within the cooldown
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "cooldown"
    assert api.post("/api/v1/pings/", {"receiver": ana.pk}).status_code == 400
    batch = api.post(
        "/api/v1/pings/batch/",
        {"receivers": [ben.pk, 987654, cleo.pk], "note": "Queue is long", "queue": queue.pk},
        format="json",
    )
    assert batch.status_code == 200, batch.content
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["sent", "refused", "refused"]
    assert "next_allowed_at" not in results[1]["error"]  # unknown user
    assert "next_allowed_at" in results[2]["error"]  # cooldown

    as_user(api, ben)  # writing in the conversation answers the ping
    answer = api.post(f"/api/v1/conversations/{direct}/messages/", {"body": "On it"})
    assert answer.status_code == 201
    page = api.get(f"/api/v1/conversations/{direct}/messages/").json()["results"]
    ping = next(m for m in page if m["kind"] == "ping")["ping"]
    assert ping["queue"] == queue.pk and ping["responded_at"] is not None
    received = api.get("/api/v1/pings/", {"direction": "received"}).json()
    assert received["count"] == 1 and received["results"][0]["response_seconds"] is not None
    assert api.get("/api/v1/pings/", {"direction": "both"}).status_code == 400

    assert ping_stats_refresh(timezone.now().date()) > 0
    stats = api.get("/api/v1/pings/stats/", {"days": 1}).json()["results"]
    assert {s["scope"] for s in stats} == {"user", "team"}
    assert api.get("/api/v1/pings/stats/", {"days": 0}).status_code == 400
    as_user(api, ana)
    assert api.get("/api/v1/pings/").json()["count"] == 2


def _invitations(api, ana, ben, cleo, capture_on_commit) -> None:
    call = connected_call(ana)
    as_user(api, ana)
    invitation = api.post(
        "/api/v1/invitations/", {"receiver": ben.pk, "call": call.pk, "note": "billing"}
    )
    assert invitation.status_code == 201 and invitation.json()["call"] == call.pk
    invitation = invitation.json()["id"]
    again = api.post("/api/v1/invitations/", {"receiver": ben.pk, "call": call.pk})
    assert again.status_code == 409
    assert api.post("/api/v1/invitations/", {"receiver": ana.pk}).status_code == 400

    as_user(api, ben)
    [pending] = api.get("/api/v1/invitations/pending/").json()["results"]
    assert pending["id"] == invitation
    with capture_on_commit(execute=False):  # no dial task
        accepted = api.post(f"/api/v1/invitations/{invitation}/accept/")
    assert accepted.status_code == 200 and accepted.json()["responded_at"] is not None
    assert api.post(f"/api/v1/invitations/{invitation}/accept/").status_code == 409
    assert api.post("/api/v1/invitations/987654/decline/").status_code == 404

    as_user(api, ana)  # to a new call: no `call`
    new_call = api.post("/api/v1/invitations/", {"receiver": cleo.pk, "note": "a word?"})
    assert new_call.status_code == 201 and new_call.json()["call"] is None
    as_user(api, cleo)
    assert api.get("/api/v1/invitations/pending/").json()["results"][0]["call"] is None
    declined = api.post(f"/api/v1/invitations/{new_call.json()['id']}/decline/")
    assert declined.json()["status"] == "declined"

    as_user(api, ana)
    retry = api.post("/api/v1/invitations/", {"receiver": cleo.pk, "call": None}, format="json")
    assert retry.status_code == 201
    canceled = api.post(f"/api/v1/invitations/{retry.json()['id']}/cancel/")
    assert canceled.json()["status"] == "canceled"
    mine = api.get("/api/v1/invitations/", {"page_size": 2})
    assert mine.json()["count"] == 3 and mine.json()["next"] is not None
    assert api.get(mine.json()["next"]).json()["previous"] is not None


def test_every_answer_of_a_working_day_matches_its_documented_schema(
    checked, documented, ana, ben, cleo, queue, django_capture_on_commit_callbacks
):
    for user in (ana, ben):
        QueueMembership.objects.create(agent=user.agent, queue=queue)
    ids = _chat(checked, ana, ben, cleo)
    _pings(checked, ana, ben, cleo, queue, ids["direct"])
    _invitations(checked, ana, ben, cleo, django_capture_on_commit_callbacks)
    # Every success answer messaging documents was given (and checked) at least once.
    assert documented.operations() - documented.seen == set()
    assert {status for *_, status in documented.seen} >= {200, 201, 204, 400, 401, 404, 409, 429}


def test_a_drift_between_an_answer_and_its_documentation_fails(documented, ana, ben):
    """The check itself: a key added, removed or retyped in a frame is caught."""
    path = "/api/v1/conversations/{conversation_id}/messages/"
    schema = documented.converted["paths"][path]["post"]["responses"]["201"]
    ref = schema["content"]["application/json"]["schema"]["$ref"]
    validator = jsonschema.Draft202012Validator(
        {"$ref": BASE + ref}, registry=documented.registry, format_checker=FORMATS
    )
    good = {
        "id": 1, "conversation": 2, "client_id": str(uuid.uuid4()), "kind": "text",
        "sender": {"id": ana.pk, "username": ana.username, "name": "Ana Lima"},
        "body": "hi", "created_at": "2026-03-10T15:02:45.123456Z", "edited_at": None,
        "deleted": False, "attachments": [], "ping": None,
    }  # fmt: skip
    assert validator.is_valid(good)
    for drifted in (
        {**good, "reactions": []},  # undocumented key
        {key: value for key, value in good.items() if key != "ping"},  # documented key gone
        {**good, "id": "1"},  # retyped
        {**good, "created_at": "yesterday"},  # not a date-time
        {**good, "kind": "sticker"},  # not a documented choice
        {**good, "sender": {"id": ben.pk, "username": ben.username}},  # nested key gone
    ):
        assert not validator.is_valid(drifted), drifted


def test_the_schema_generates_valid_and_without_warnings(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`, as CI would run it."""
    reset_generator_stats()  # warnings of schemas served earlier in this process
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/conversations/{conversation_id}/messages/:" in out.read_text()


def test_messaging_documents_no_untyped_answer(documented):
    for path, item in documented.document["paths"].items():
        if not path.startswith(MESSAGING_PATHS):
            continue
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                for media, content in answer.get("content", {}).items():
                    schema = content["schema"]
                    assert "$ref" in schema or media != "application/json", (
                        f"{method.upper()} {path} {status}: {schema}"
                    )
