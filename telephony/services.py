"""Requesting call-control operations: record the intent, run it after commit.

`operation_request` is idempotent on its key, so a caller that retries (a webhook delivered
twice, a double click) never makes Twilio dial twice.
"""

from django.db import IntegrityError, transaction

from .models import Operation, OperationKind


def operation_request(*, kind: str, key: str, call_sid: str = "", params: dict) -> Operation:
    """Record the operation (once per key) and queue its task when the transaction commits."""
    if kind not in OperationKind.values:
        raise ValueError(f"unknown telephony operation {kind!r}")
    try:
        with transaction.atomic():
            operation = Operation.objects.create(
                kind=kind, key=key, call_sid=call_sid, params=params
            )
    except IntegrityError:
        return Operation.objects.get(key=key)
    from .tasks import telephony_operation_task

    transaction.on_commit(lambda: telephony_operation_task.delay(operation.pk))
    return operation
