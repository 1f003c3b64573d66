"""The audit rows of people's actions on calls: who held, recorded, transferred, hung up,
moved, reprioritized or listened in, and when. Each is a `CallEvent` of source "switchboard"
and kind "control-<action>" (analytics derives nothing from these kinds), read back by
`selectors.call_actions`."""

from callcenter.models import Call, CallEvent


def call_action_audit(*, call: Call, action: str, acting_user, key: str, **details) -> None:
    """Record that `acting_user` did `action` on `call` (nothing for the system's own actions:
    `acting_user` None). The same `key` (a retried request's idempotency key) writes once.
    Precondition: inside the action's transaction, so the row stands or falls with it."""
    if acting_user is None:
        return
    row = CallEvent(
        dedup_key=f"control:{key}",
        call=call,
        call_sid=call.call_sid,
        source=CallEvent.OURS,
        kind=CallEvent.CONTROL_PREFIX + action,
        payload={"user": acting_user.pk, **details},
    )
    CallEvent.objects.bulk_create([row], ignore_conflicts=True)
