"""Call invitations: create, accept (the invitee is dialed into the conference), decline,
cancel, expiry by one UPDATE, the cached pending check and the cleanup command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from callcenter.celery import app
from callcenter.choices import CallStage
from messaging.models import CallInvitation
from messaging.selectors import pending_invitations
from messaging.services import invitation_create, invitations_expire
from messaging.services.invitations import pending_cache_key, pending_version_key
from realtime.models import UserEvent
from telephony.models import Operation, OperationKind
from tests.conftest import as_user
from tests.factories import UserFactory

from .conftest import connected_call

pytestmark = pytest.mark.django_db

PENDING = "/api/v1/invitations/pending/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _invite(api, caller, receiver, call) -> dict:
    response = as_user(api, caller).post(
        "/api/v1/invitations/", {"receiver": receiver.pk, "call": call.pk, "note": "billing"}
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_accepting_dials_the_invitee_into_the_calls_conference(
    api, ana, ben, django_capture_on_commit_callbacks
):
    call = connected_call(ana)
    invitation = _invite(api, ana, ben, call)
    assert invitation["status"] == "pending"
    assert [e.type for e in UserEvent.objects.filter(user=ben)] == ["invitation.created"]
    assert [i["id"] for i in as_user(api, ben).get(PENDING).json()["results"]] == [invitation["id"]]

    with django_capture_on_commit_callbacks() as callbacks:
        accepted = api.post(f"/api/v1/invitations/{invitation['id']}/accept/")
    for callback in callbacks:
        if "incr" in callback.__code__.co_names:  # the pending-check version, not the dial
            callback()
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "accepted"
    operation = Operation.objects.get(kind=OperationKind.ADD_PARTICIPANT)
    assert operation.key == f"invitation:{invitation['id']}"
    assert operation.params["conference_sid"] == call.conference_sid
    assert operation.params["to"] == f"client:{ben.agent.softphone_identity}"
    assert api.get(PENDING).json()["results"] == []  # the cached answer was dropped
    types = list(UserEvent.objects.filter(user=ana).order_by("seq").values_list("type", flat=True))
    assert types == ["invitation.created", "invitation.updated"]
    again = api.post(f"/api/v1/invitations/{invitation['id']}/accept/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invitation_accepted"
    assert Operation.objects.count() == 1


def test_decline_and_cancel_belong_to_each_side(api, ana, ben):
    call = connected_call(ana)
    first = _invite(api, ana, ben, call)
    refused = as_user(api, ana).post(f"/api/v1/invitations/{first['id']}/accept/")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_allowed"
    declined = as_user(api, ben).post(f"/api/v1/invitations/{first['id']}/decline/")
    assert declined.json()["status"] == "declined"
    second = _invite(api, ana, ben, call)  # a new one may follow a declined one
    assert as_user(api, ben).post(f"/api/v1/invitations/{second['id']}/cancel/").status_code == 400
    canceled = as_user(api, ana).post(f"/api/v1/invitations/{second['id']}/cancel/")
    assert canceled.json()["status"] == "canceled"
    assert not Operation.objects.exists()


def test_outsiders_cannot_see_or_answer_an_invitation(api, ana, ben, cleo):
    invitation = _invite(api, ana, ben, connected_call(ana))
    response = as_user(api, cleo).post(f"/api/v1/invitations/{invitation['id']}/accept/")
    assert response.status_code == 404
    assert api.get("/api/v1/invitations/").json()["results"] == []
    assert CallInvitation.objects.get().status == "pending"


def test_bad_invitations_are_refused_and_change_nothing(api, ana, ben, cleo):
    mine, not_mine = connected_call(ana), connected_call(cleo)
    not_an_agent = UserFactory()
    ringing = connected_call(ana)
    ringing.stage = CallStage.OFFERED
    ringing.save()
    as_user(api, ana)
    for payload, status, code in [
        ({"receiver": ben.pk, "call": not_mine.pk}, 400, "not_your_call"),
        ({"receiver": ana.pk, "call": mine.pk}, 400, "self"),
        ({"receiver": not_an_agent.pk, "call": mine.pk}, 400, "not_an_agent"),
        ({"receiver": ben.pk, "call": ringing.pk}, 409, "not_connected"),
        ({"receiver": ben.pk, "call": "mine"}, 400, "invalid"),
        ({"call": mine.pk}, 400, "invalid"),
    ]:
        response = api.post("/api/v1/invitations/", payload)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), payload
    assert not CallInvitation.objects.exists() and not UserEvent.objects.exists()
    _invite(api, ana, ben, mine)
    duplicate = api.post("/api/v1/invitations/", {"receiver": ben.pk, "call": mine.pk})
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "already_invited")
    assert CallInvitation.objects.count() == 1


def test_an_invitation_to_a_new_call_rings_both_softphones_on_accept(
    api, ana, ben, django_capture_on_commit_callbacks
):
    response = as_user(api, ana).post("/api/v1/invitations/", {"receiver": ben.pk, "note": "?"})
    assert response.status_code == 201, response.content
    invitation = response.json()
    assert invitation["call"] is None and invitation["status"] == "pending"
    again = api.post("/api/v1/invitations/", {"receiver": ben.pk, "call": None})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_invited")

    with django_capture_on_commit_callbacks(execute=False):
        accepted = as_user(api, ben).post(f"/api/v1/invitations/{invitation['id']}/accept/")
    assert accepted.status_code == 200, accepted.content
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.DIAL_OUT
    assert operation.key == f"internal:invitation:{invitation['id']}"
    assert operation.params == {
        "to": f"client:{ben.agent.softphone_identity}",
        "identity": ana.agent.softphone_identity,
    }
    # Accepted, the pair may be invited to a new call again.
    assert as_user(api, ana).post("/api/v1/invitations/", {"receiver": ben.pk}).status_code == 201


def test_only_an_agent_can_invite_to_a_new_call(api, ana):
    supervisor = UserFactory(roles=["supervisor"])
    response = as_user(api, supervisor).post("/api/v1/invitations/", {"receiver": ana.pk})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "not_an_agent")
    assert not CallInvitation.objects.exists() and not UserEvent.objects.exists()


def test_an_ended_call_cannot_be_joined(api, ana, ben):
    call = connected_call(ana)
    invitation = _invite(api, ana, ben, call)
    call.stage, call.status, call.ended_at = CallStage.ENDED, "completed", timezone.now()
    call.save()
    response = as_user(api, ben).post(f"/api/v1/invitations/{invitation['id']}/accept/")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "call_ended")
    assert CallInvitation.objects.get().status == "pending" and not Operation.objects.exists()


def test_expiry_is_one_update_and_an_expired_invitation_cannot_be_accepted(api, ana, ben, queries):
    call = connected_call(ana)
    invitation = invitation_create(caller=ana, receiver_id=ben.pk, call_id=call.pk)
    past = timezone.now() - timedelta(minutes=5)
    CallInvitation.objects.filter(pk=invitation.pk).update(
        created_at=past, expires_at=past + timedelta(minutes=1)
    )
    late = as_user(api, ben).post(f"/api/v1/invitations/{invitation.pk}/accept/")
    assert (late.status_code, late.json()["error"]["code"]) == (409, "invitation_expired")
    with queries() as captured:
        expired = invitations_expire()
    writes = [sql for sql in captured.statements if sql.startswith("UPDATE messaging")]
    assert len(writes) == 1 and "expires_at <=" in writes[0]  # then it reads them to tell
    assert expired == [invitation.pk]
    assert CallInvitation.objects.get().status == "expired"
    assert UserEvent.objects.filter(user=ana, type="invitation.updated").get().data["status"] == (
        "expired"
    )
    assert invitations_expire() == []


def test_the_pending_check_is_cached_and_dropped_on_every_change(
    api, ana, ben, django_capture_on_commit_callbacks
):
    call = connected_call(ana)
    as_user(api, ben)
    assert api.get(PENDING).json()["results"] == []
    assert cache.get(pending_cache_key(ben.pk)) == (0, [])
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_create(caller=ana, receiver_id=ben.pk, call_id=call.pk)
    assert [i["id"] for i in api.get(PENDING).json()["results"]] == [invitation.pk]
    assert cache.get(pending_cache_key(ben.pk)) == (1, pending_invitations(ben))


def test_an_answer_read_before_a_change_is_never_served_after_it(
    ana, ben, django_capture_on_commit_callbacks
):
    """The race a plain delete loses: a reader computes the (empty) answer, the invitation
    is created and committed, then the reader stores its answer. It is stale: not served."""
    call = connected_call(ana)
    computed_at = cache.get(pending_version_key(ben.pk), 0)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_create(caller=ana, receiver_id=ben.pk, call_id=call.pk)
    cache.set(pending_cache_key(ben.pk), (computed_at, []))  # the late store of the reader
    assert [i["id"] for i in pending_invitations(ben)] == [invitation.pk]


def test_the_cleanup_command_deletes_old_expired_ones_and_dry_run_only_counts(ana, ben):
    call = connected_call(ana)
    old = timezone.now() - timedelta(days=10)
    for status in ("expired", "expired", "declined"):
        CallInvitation.objects.create(
            caller=ana,
            receiver=ben,
            call=call,
            status=status,
            created_at=old,
            expires_at=old + timedelta(minutes=1),
        )
    overdue = CallInvitation.objects.create(
        caller=ana, receiver=ben, call=call, created_at=old, expires_at=old + timedelta(minutes=1)
    )
    recent = invitation_create(caller=ana, receiver_id=ben.pk, call_id=connected_call(ana).pk)
    out = StringIO()
    call_command("cleanup_expired_invitations", "--days", "7", "--dry-run", stdout=out)
    assert "Would delete 3 expired invitation(s) older than 7 day(s)." in out.getvalue()
    assert CallInvitation.objects.count() == 5
    call_command("cleanup_expired_invitations", "--days", "7", stdout=out)
    assert "Deleted 3 expired" in out.getvalue()
    assert set(CallInvitation.objects.values_list("status", flat=True)) == {"declined", "pending"}
    assert not CallInvitation.objects.filter(pk=overdue.pk).exists()
    assert CallInvitation.objects.filter(pk=recent.pk).exists()


def test_the_beat_schedules_expiry_and_the_daily_cleanup():
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "messaging.tasks.invitations_expire_task" in tasks
    assert "messaging.tasks.invitations_cleanup_task" in tasks
