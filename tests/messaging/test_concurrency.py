"""The races the database settles, on real PostgreSQL: threads released together at a
barrier, each on its own connection, repeated."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import messaging.services.invitations as invitations_module
from callcenter.errors import DomainError
from messaging.errors import PingLimited
from messaging.models import CallInvitation, Conversation, Message, Participant, Ping, PingQuota
from messaging.services import invitations_expire, message_send, ping_send
from messaging.services.invitations import invitation_respond
from telephony.models import Operation
from tests.factories import AgentFactory, UserFactory

from .conftest import connected_call, make_conversation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 4


def race(*actions) -> list:
    """Run each action in its own thread, released together; their results or exceptions."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait()
            results[index] = action()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_pings_at_the_limit_only_one_succeeds(settings, round_):
    settings.MESSAGING_PING_DAILY_LIMIT = 5
    sender = UserFactory()
    first, second = UserFactory(), UserFactory()
    PingQuota.objects.create(user=sender, day=timezone.now().date(), sent=4)
    results = race(
        lambda: ping_send(sender=sender, receiver_id=first.pk),
        lambda: ping_send(sender=sender, receiver_id=second.pk),
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], PingLimited) and refused[0].code == "daily_limit"
    assert Ping.objects.count() == 1
    assert PingQuota.objects.get(user=sender).sent == 5


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_first_pings_between_a_pair_share_one_conversation(round_):
    ana, ben = UserFactory(), UserFactory()
    results = race(
        lambda: ping_send(sender=ana, receiver_id=ben.pk),
        lambda: ping_send(sender=ben, receiver_id=ana.pk),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    conversation = Conversation.objects.get()
    assert {r.conversation_id for r in results} == {conversation.pk}
    assert sorted(Participant.objects.values_list("user_id", flat=True)) == sorted([ana.pk, ben.pk])
    assert Ping.objects.filter(conversation=conversation).count() == 2


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_sends_with_one_client_id_store_one_message(round_):
    ana, ben = UserFactory(), UserFactory()
    chat = make_conversation(ana, ben)
    client_id = uuid.uuid4()
    results = race(
        *[
            lambda: message_send(
                conversation_id=chat.pk, sender=ana, body="once", client_id=client_id
            )
            for _ in range(3)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.created for r in results) == [False, False, True]
    assert len({r.message.pk for r in results}) == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize("accept_first", [True, False] * (ROUNDS // 2))
def test_accept_racing_expiry_has_exactly_one_outcome(monkeypatch, accept_first):
    caller, receiver = AgentFactory().user, AgentFactory().user
    call = connected_call(caller)
    now = timezone.now()
    invitation = CallInvitation.objects.create(
        caller=caller, receiver=receiver, call=call, expires_at=now + timedelta(seconds=0.3)
    )
    dial = invitations_module._dial_into_call

    def slow_dial(found):  # hold the row lock a while, so the sweep queues behind it
        time.sleep(0.05)
        dial(found)

    monkeypatch.setattr(invitations_module, "_dial_into_call", slow_dial)
    expire_at = invitation.expires_at + timedelta(milliseconds=1)

    def accept():
        if not accept_first:
            time.sleep(0.02)
        return invitation_respond(invitation_id=invitation.pk, user=receiver, action="accept")

    def sweep():
        if accept_first:
            time.sleep(0.02)
        return invitations_expire(now=expire_at)

    accepted, expired = race(accept, sweep)
    status = CallInvitation.objects.get().status
    if isinstance(accepted, DomainError):
        assert (status, expired) == ("expired", [invitation.pk])
        assert not Operation.objects.exists()
    else:
        assert not isinstance(accepted, Exception), accepted
        assert (status, expired) == ("accepted", [])
        assert Operation.objects.filter(key=f"invitation:{invitation.pk}").count() == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_sends_leave_every_seat_on_the_latest_message(round_):
    ana, ben, cleo = UserFactory(), UserFactory(), UserFactory()
    chat = make_conversation(ana, ben, cleo, title="busy")
    results = race(
        *[
            (lambda who: lambda: message_send(conversation_id=chat.pk, sender=who, body="hi"))(u)
            for u in (ana, ben, cleo, ana, ben, cleo)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    latest = Message.objects.latest("id").pk
    assert set(Participant.objects.values_list("last_message_id", flat=True)) == {latest}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_invitations_to_a_new_call_between_a_pair_make_one(round_):
    ana, ben = AgentFactory().user, AgentFactory().user
    results = race(
        *[lambda: invitations_module.invitation_create(caller=ana, receiver_id=ben.pk)] * 2
    )
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].code == "already_invited", results
    assert CallInvitation.objects.filter(call__isnull=True, status="pending").count() == 1
