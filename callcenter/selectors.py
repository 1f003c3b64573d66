"""Reads of the core domain, scoped to what the viewer's role may see.

- admin: everything.
- supervisor: the queues they supervise (and any they are a member of), those queues' calls,
  and every agent (to staff them).
- agent: the queues they are a member of, those queues' calls and their own, every agent
  (colleagues for transfers and chat). Callers' numbers: see `can_see_numbers_of`.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from .models import Agent, Call, CallEvent, Queue
from .people import person_data
from .roles import is_admin, is_supervisor


def viewer_agent_id(user) -> int | None:
    """The viewer's own agent id, or None (one cached query per request user)."""
    if not hasattr(user, "_switchboard_agent_id"):
        user._switchboard_agent_id = (
            Agent.objects.filter(user_id=user.pk).values_list("id", flat=True).first()
        )
    return user._switchboard_agent_id


def _own_queues(user) -> Q:
    q = Q(memberships__agent__user_id=user.pk)
    if is_supervisor(user):
        q |= Q(supervisors=user.pk)
    return q


def queues_visible_to(user) -> QuerySet[Queue]:
    if is_admin(user):
        return Queue.objects.all()
    ids = Queue.objects.filter(_own_queues(user)).values("id")
    return Queue.objects.filter(id__in=ids)


def agents_visible_to(user) -> QuerySet[Agent]:
    return Agent.objects.all()


def calls_visible_to(user) -> QuerySet[Call]:
    if is_admin(user):
        return Call.objects.all()
    queue_ids = Queue.objects.filter(_own_queues(user)).values("id")
    # And the calls the user's legs served: one transferred to them from another queue.
    served = Call.objects.filter(agent__user_id=user.pk, parent__isnull=False).values("parent_id")
    return Call.objects.filter(
        Q(queue_id__in=queue_ids) | Q(agent__user_id=user.pk) | Q(pk__in=served)
    )


def supervised_queue_ids(user) -> frozenset[int]:
    """Ids of the queues the user supervises (all for admins are not listed: check is_admin)."""
    if not hasattr(user, "_switchboard_supervised"):
        user._switchboard_supervised = (
            frozenset(Queue.objects.filter(supervisors=user.pk).values_list("id", flat=True))
            if is_supervisor(user)
            else frozenset()
        )
    return user._switchboard_supervised


def can_see_numbers_of(user, call: Call) -> bool:
    """Callers' numbers: admins always, supervisors on their queues' calls, agents on their own."""
    if is_admin(user):
        return True
    if call.queue_id is not None and call.queue_id in supervised_queue_ids(user):
        return True
    own = viewer_agent_id(user)
    return own is not None and call.agent_id == own


def can_set_status_of(user, agent: Agent) -> bool:
    """Agents set their own status; supervisors that of their queues' members; admins anyone's."""
    if is_admin(user) or agent.user_id == user.pk:
        return True
    supervised = supervised_queue_ids(user)
    return bool(supervised) and agent.memberships.filter(queue_id__in=supervised).exists()


# Used for the estimated wait when a queue has no recent answered calls.
DEFAULT_HANDLE_SECONDS = 180
RECENT_ANSWERED = 50


def queue_position(call: Call) -> int:
    """1-based place of a waiting call in its queue: callers of higher priority, then those
    who entered earlier, are ahead (call_waiting_queue_order_idx)."""
    ahead = Call.objects.waiting_in_queue(call.queue_id).filter(
        Q(priority__gt=call.priority)
        | Q(priority=call.priority, enqueued_at__lt=call.enqueued_at)
        | Q(priority=call.priority, enqueued_at=call.enqueued_at, id__lt=call.id)
    )
    return ahead.count() + 1


def queue_waiting_count(queue_id: int) -> int:
    return Call.objects.waiting().filter(queue_id=queue_id).count()


def queue_estimated_wait_seconds(queue: Queue, position: int) -> int:
    """Position times the recent average handle time, divided by the agents signed in."""
    recent = (
        Call.objects.filter(queue=queue, outcome="answered", talk_seconds__isnull=False)
        .order_by("-created_at")
        .values_list("talk_seconds", flat=True)[:RECENT_ANSWERED]
    )
    talks = list(recent)
    handle = sum(talks) / len(talks) if talks else DEFAULT_HANDLE_SECONDS
    staffed = Agent.objects.filter(memberships__queue=queue).exclude(status="offline").count()
    return int(position * handle / max(staffed, 1))


def can_control_call(user, call: Call) -> bool:
    """Hold, hang up, record, transfer: admins, the supervisors of the call's queue, and the
    agent talking on it now: one with a live leg on it (a call transferred to them too), or
    its agent while no leg of theirs has left it (not an agent who transferred it away)."""
    if is_admin(user) or (
        call.queue_id is not None and call.queue_id in supervised_queue_ids(user)
    ):
        return True
    own = viewer_agent_id(user)
    if own is None:
        return False
    leg_ends = list(
        Call.objects.filter(parent=call, agent_id=own).values_list("ended_at", flat=True)
    )
    if None in leg_ends:  # a live leg
        return True
    return call.agent_id == own and not leg_ends


def can_move_call(user, call: Call, target: Queue) -> bool:
    """Move a waiting caller between queues: supervisors of both queues, and admins."""
    return can_monitor_call(user, call) and (
        is_admin(user) or target.pk in supervised_queue_ids(user)
    )


def can_monitor_call(user, call: Call) -> bool:
    """Listen, whisper, barge: the call's queue's supervisors and admins."""
    return is_admin(user) or (
        call.queue_id is not None and call.queue_id in supervised_queue_ids(user)
    )


def call_actions(call: Call, viewer) -> list[dict]:
    """People's actions on the call, oldest first (their audit rows, services.call_audit): when,
    what, by whom, with the action's details; an outside number only to those who may see the
    caller's. Two queries, whatever the number of actions."""
    prefix = CallEvent.CONTROL_PREFIX
    rows = list(
        CallEvent.objects.filter(call=call, source=CallEvent.OURS, kind__startswith=prefix)
        .order_by("id")
        .values_list("kind", "payload", "received_at")
    )
    ids = {payload.get("user") for _kind, payload, _at in rows}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)} if ids else {}
    numbers = can_see_numbers_of(viewer, call)
    actions = []
    for kind, payload, at in rows:
        details = {k: v for k, v in payload.items() if k != "user"}
        if "number" in details and not numbers:
            details["number"] = None
        user = users.get(payload.get("user"))
        who = person_data(user) if user else None
        actions.append({"at": at, "action": kind.removeprefix(prefix), "user": who,
                        "details": details})  # fmt: skip
    return actions
