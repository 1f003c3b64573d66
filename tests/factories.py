"""factory-boy factories for the core domain (rows valid under every CHECK constraint)."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from callcenter.choices import CallDirection, CallStage, CallStatus
from callcenter.models import Agent, Call, PhoneNumber, Queue, QueueMembership


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or []:
            self.groups.add(Group.objects.get_or_create(name=name)[0])


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Queue {n}")
    twilio_queue_name = factory.Sequence(lambda n: f"queue-{n}")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, roles=["agent"])

    @factory.post_generation
    def queues(self, create, extracted, **kwargs):
        for level, queue in enumerate(extracted or [], start=1):
            QueueMembership.objects.create(agent=self, queue=queue, level=level)


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    call_sid = factory.Sequence(lambda n: f"CA{n:032x}")
    direction = CallDirection.INBOUND
    from_number = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    to_number = "+15005550006"
    status = CallStatus.IN_PROGRESS
    stage = CallStage.NEW
    created_at = factory.LazyFunction(timezone.now)


def waiting_call(queue, *, waited=timedelta(seconds=30), priority=0, **kwargs) -> Call:
    created = timezone.now() - waited
    return CallFactory(
        queue=queue,
        stage=CallStage.WAITING,
        created_at=created,
        enqueued_at=created,
        priority=priority,
        **kwargs,
    )


def ended_call(queue=None, agent=None, **kwargs) -> Call:
    created = timezone.now() - timedelta(minutes=5)
    return CallFactory(
        queue=queue,
        agent=agent,
        stage=CallStage.ENDED,
        status=CallStatus.COMPLETED,
        created_at=created,
        enqueued_at=created,
        answered_at=created + timedelta(seconds=20),
        ended_at=created + timedelta(minutes=3),
        wait_seconds=20,
        talk_seconds=160,
        **kwargs,
    )


class PhoneNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhoneNumber

    e164 = factory.Sequence(lambda n: f"+1500555{n:04d}")
    default_queue = factory.SubFactory(QueueFactory)
