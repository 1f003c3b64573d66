"""The one place that takes row locks of the core domain (`SELECT … FOR UPDATE`).

Callers hold a transaction. Several rows of one kind are locked in primary-key order, so two
transactions never wait on each other in a cycle.
"""

from django.db import connection

from .models import Agent, Call
from .rows import Rows

CALLS = Rows(Call)


def lock_agent(agent_id: int) -> Agent:
    """The agent's row, locked until the transaction ends (Agent.DoesNotExist if none)."""
    return Agent.objects.select_for_update().get(pk=agent_id)


def lock_call(call_sid: str):
    """The call's row by CallSid, locked until the transaction ends (None if unknown)."""
    # SQLite (the embedded run) has no row locks: a write locks the whole database.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT {CALLS.columns} FROM {CALLS.table} WHERE call_sid = %s{lock}"  # noqa: S608
    return CALLS.one(sql, [call_sid])


def create_call_locked(call):
    """Insert the unsaved `call` unless its CallSid exists, in one statement: the new row
    (locked: this transaction created it), or None when another transaction created that
    call first."""
    return CALLS.insert_unless(call, conflict="call_sid")


def lock_work(model, call_id: int):
    """A voicemail's or callback request's row (`model`) by its call, locked (None if none)."""
    return model.objects.select_for_update().filter(call_id=call_id).first()
