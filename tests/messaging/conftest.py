"""Messaging fixtures: colleagues (agents), conversations between them, query counting."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callcenter.choices import CallStage
from messaging.models import Conversation, ConversationKind, Participant, direct_key
from tests.factories import AgentFactory, CallFactory


@pytest.fixture
def ana(db):
    return AgentFactory(user__first_name="Ana", user__last_name="Lima").user


@pytest.fixture
def ben(db):
    return AgentFactory(user__first_name="Ben", user__last_name="Ito").user


@pytest.fixture
def cleo(db):
    return AgentFactory(user__first_name="Cleo", user__last_name="Roy").user


def make_conversation(*users, title: str = "") -> Conversation:
    now = timezone.now()
    if len(users) == 2 and not title:
        conversation = Conversation.objects.create(
            kind=ConversationKind.DIRECT, direct_key=direct_key(users[0].pk, users[1].pk)
        )
    else:
        conversation = Conversation.objects.create(kind=ConversationKind.GROUP, title=title)
    Participant.objects.bulk_create(
        Participant(conversation=conversation, user=u, joined_at=now, last_activity_at=now)
        for u in users
    )
    return conversation


def connected_call(agent_user):
    return CallFactory(
        agent=agent_user.agent, stage=CallStage.CONNECTED, conference_sid="CF" + "1" * 32
    )


class Queries(CaptureQueriesContext):
    """Captured statements without the savepoints that exist only because the test runs
    inside a transaction: there, a service's outermost `atomic` becomes SAVEPOINT … RELEASE,
    while in production it is the transaction itself (BEGIN and COMMIT, which Django does not
    log as queries). Savepoints nested deeper are real and counted."""

    @property
    def statements(self) -> list[str]:
        kept, depth = [], 0
        for query in self.captured_queries:
            sql = query["sql"]
            if sql.startswith("SAVEPOINT"):
                depth += 1
                if depth == 1:
                    continue
            elif sql.startswith(("RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
                depth -= 1
                if depth == 0:
                    continue
            kept.append(sql)
        return kept

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def queries():
    return lambda: Queries(connection)
