import pytest

from callcenter.choices import CallStage
from callcenter.models import Call
from tests.factories import ended_call


@pytest.fixture
def connected(queue, agent):
    """A call of `queue` that `agent` is talking on, in its conference."""
    call = ended_call(queue, agent)
    Call.objects.filter(pk=call.pk).update(
        stage=CallStage.CONNECTED,
        ended_at=None,
        status="in-progress",
        conference_sid="CF" + "1" * 32,
    )
    return Call.objects.get(pk=call.pk)
