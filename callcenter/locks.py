"""The one place that takes row locks of the core domain (`SELECT … FOR NO KEY UPDATE`).

Callers hold a transaction. Several rows of one kind are locked in primary-key order, so two
transactions never wait on each other in a cycle.

The lock is PostgreSQL's FOR NO KEY UPDATE, the one an UPDATE itself takes: it excludes the
other writers of the row as FOR UPDATE does, but not the key-share locks of foreign-key checks,
so storing a row that refers to a locked call or agent (a webhook's callback, an audit row)
never waits for the transaction holding it. With FOR UPDATE a webhook's insert queued behind a
drainer's lock on its call, and was chosen as the victim of the drainer's deadlock with
another transaction (a 500 to Twilio, seen under load).
"""

from django.db import connection

from .models import Agent, Call
from .rows import Rows

CALLS = Rows(Call)


def lock_agent(agent_id: int) -> Agent:
    """The agent's row, locked until the transaction ends (Agent.DoesNotExist if none)."""
    return Agent.objects.select_for_update(no_key=True).get(pk=agent_id)


def lock_call(call_sid: str):
    """The call's row by CallSid, locked until the transaction ends (None if unknown)."""
    # SQLite (the embedded run) has no row locks: a write locks the whole database.
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT {CALLS.columns} FROM {CALLS.table} WHERE call_sid = %s{lock}"  # noqa: S608
    return CALLS.one(sql, [call_sid])


def lock_calls(call_sids: set[str]) -> None:
    """Lock the calls with these CallSids (those that exist), in primary-key order: a
    transaction about to lock them one by one in another order cannot wait in a cycle with
    another doing the same. A customer's call precedes its legs, so parents come first."""
    if len(call_sids) > 1 and connection.features.has_select_for_update:
        locked = Call.objects.select_for_update(no_key=True).filter(call_sid__in=call_sids)
        list(locked.order_by("pk").values_list("pk", flat=True))


def create_call_locked(call):
    """Insert the unsaved `call` unless its CallSid exists, in one statement: the new row
    (locked: this transaction created it), or None when another transaction created that
    call first."""
    return CALLS.insert_unless(call, conflict="call_sid")


def lock_work(model, call_id: int):
    """A voicemail's or callback request's row (`model`) by its call, locked (None if none)."""
    return model.objects.select_for_update(no_key=True).filter(call_id=call_id).first()
