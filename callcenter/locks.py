"""The one place that takes row locks of the core domain (`SELECT … FOR UPDATE`).

Callers hold a transaction. Several rows of one kind are locked in primary-key order, so two
transactions never wait on each other in a cycle.
"""

from .models import Agent


def lock_agent(agent_id: int) -> Agent:
    """The agent's row, locked until the transaction ends (Agent.DoesNotExist if none)."""
    return Agent.objects.select_for_update().get(pk=agent_id)


def lock_call(call_sid: str):
    """The call's row by CallSid, locked until the transaction ends (None if unknown)."""
    from .models import Call

    # No ORDER BY (call_sid is unique): `.first()` would add the model's ordering.
    found = list(Call.objects.select_for_update().filter(call_sid=call_sid).order_by()[:1])
    return found[0] if found else None


def lock_work(model, call_id: int):
    """A voicemail's or callback request's row (`model`) by its call, locked (None if none)."""
    return model.objects.select_for_update().filter(call_id=call_id).first()
