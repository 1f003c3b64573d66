"""The one place that takes row locks of the core domain (`SELECT … FOR UPDATE`).

Callers hold a transaction. Several rows of one kind are locked in primary-key order, so two
transactions never wait on each other in a cycle.
"""

import functools

from django.db import connection

from .models import Agent


def lock_agent(agent_id: int) -> Agent:
    """The agent's row, locked until the transaction ends (Agent.DoesNotExist if none)."""
    return Agent.objects.select_for_update().get(pk=agent_id)


def lock_call(call_sid: str):
    """The call's row by CallSid, locked until the transaction ends (None if unknown)."""
    return _call_from(_call_sql()["lock"], [call_sid])


def create_call_locked(call):
    """Insert the unsaved `call` unless its CallSid exists, in one statement: the new row
    (locked: this transaction created it), or None when another transaction created that
    call first (ON CONFLICT DO NOTHING waits for it to commit or roll back)."""
    fields = _call_sql()["insert_fields"]
    values = [f.get_db_prep_save(getattr(call, f.attname), connection) for f in fields]
    return _call_from(_call_sql()["insert"], values)


@functools.cache
def _call_sql() -> dict:
    """The call's lock and creation are the hottest statements of applying a callback:
    written once here instead of compiled by the ORM each time."""
    from .models import Call

    quote = connection.ops.quote_name
    table, fields = quote(Call._meta.db_table), Call._meta.concrete_fields
    columns = ", ".join(quote(f.column) for f in fields)
    inserted = [f for f in fields if not f.primary_key]
    # SQLite (the embedded run) has no row locks: a write locks the whole database.
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    # What the ORM would do to each value read (as its compiler's get_converters does).
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(Call._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            converters.append((index, functions, column))
    return {
        "names": [f.attname for f in fields],
        "converters": converters,
        "lock": f"SELECT {columns} FROM {table} WHERE call_sid = %s{for_update}",  # noqa: S608 - model table
        "insert_fields": inserted,
        "insert": (
            f"INSERT INTO {table} ({', '.join(quote(f.column) for f in inserted)})"  # noqa: S608
            f" VALUES ({', '.join(['%s'] * len(inserted))})"
            f" ON CONFLICT (call_sid) DO NOTHING RETURNING {columns}"
        ),
    }


def _call_from(sql: str, params: list):
    from .models import Call

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, functions, column in _call_sql()["converters"]:  # SQLite's dates, for one
        for convert in functions:
            values[index] = convert(values[index], column, connection)
    return Call.from_db(connection.alias, _call_sql()["names"], values)


def lock_work(model, call_id: int):
    """A voicemail's or callback request's row (`model`) by its call, locked (None if none)."""
    return model.objects.select_for_update().filter(call_id=call_id).first()
