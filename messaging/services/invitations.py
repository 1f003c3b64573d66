"""Call invitations: an agent on a call invites a colleague, who accepts (their softphone is
dialed into the call's conference), declines, or lets it expire; the caller may cancel. An
invitation without a call is to a new call: accepted, both softphones are rung into one.
Logged events `invitation.created` and `invitation.updated` go to both people. Every change
clears the receiver's cached pending check after commit."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from callcenter.choices import CallStage
from callcenter.errors import InvalidInput, TransitionNotAllowed
from callcenter.models import Agent, Call
from callcenter.participants import agent_participant_label, client_address
from callcenter.services import call_between_agents
from messaging.errors import NotFound
from messaging.frames import invitation_data
from messaging.models import CallInvitation, InvitationStatus
from realtime.publish import publish_to_users
from telephony.models import OperationKind
from telephony.services import operation_request


def pending_cache_key(user_id: int) -> str:
    """The cached pending check: (the version it was computed at, the invitations)."""
    return f"messaging:pending-invitations:{user_id}"


def pending_version_key(user_id: int) -> str:
    return f"messaging:pending-invitations-version:{user_id}"


def forget_pending(user_ids) -> None:
    """Once the transaction commits, move the users' pending-check versions on: an answer
    computed before the change is never served again, even one a concurrent reader stores
    after it (deleting the entry would let that one stand until it expires)."""
    keys = [pending_version_key(uid) for uid in set(user_ids)]

    def bump():
        for key in keys:
            cache.add(key, 0, timeout=None)
            cache.incr(key)

    transaction.on_commit(bump, robust=True)


def _publish(invitation: CallInvitation, type_: str) -> None:
    publish_to_users(
        [invitation.caller_id, invitation.receiver_id], type_, invitation_data(invitation)
    )
    forget_pending([invitation.receiver_id])


@transaction.atomic
def invitation_create(
    *, caller, receiver_id: int, call_id: int | None = None, note: str = ""
) -> CallInvitation:
    """Invite `receiver_id` (an agent) into `call_id`, the caller's own connected call, or,
    without `call_id`, to a new call between the two (the caller must be an agent too)."""
    if receiver_id == caller.pk:
        raise InvalidInput("You cannot invite yourself.", code="self")
    if call_id is None:
        if not Agent.objects.filter(user=caller).exists():
            raise InvalidInput("Only an agent can start a call.", code="not_an_agent")
    else:
        _require_own_connected_call(caller, call_id)
    receiver = (
        Agent.objects.select_related("user")
        .filter(user_id=receiver_id, user__is_active=True)
        .first()
    )
    if receiver is None:
        raise InvalidInput("Only an agent can be invited into a call.", code="not_an_agent")
    now = timezone.now()
    try:
        with transaction.atomic():
            invitation = CallInvitation.objects.create(
                caller=caller,
                receiver=receiver.user,
                call_id=call_id,
                note=(note or "").strip()[:200],
                created_at=now,
                expires_at=now + timedelta(seconds=settings.MESSAGING_INVITATION_TTL_SECONDS),
            )
    except IntegrityError:
        raise TransitionNotAllowed(
            "This colleague already has a pending invitation to this call.",
            code="already_invited",
        ) from None
    _publish(invitation, "invitation.created")
    return invitation


def _require_own_connected_call(caller, call_id: int) -> None:
    call = (
        Call.objects.filter(pk=call_id, agent__user=caller)
        .only("pk", "stage", "conference_sid")
        .first()
    )
    if call is None:
        raise InvalidInput(
            "You can invite colleagues only into your own call.", code="not_your_call"
        )
    if call.stage != CallStage.CONNECTED or not call.conference_sid:
        raise TransitionNotAllowed("The call is not connected.", code="not_connected")


def _locked(invitation_id: int, user) -> CallInvitation:
    invitation = (
        CallInvitation.objects.select_for_update(of=("self",))
        .select_related("caller", "receiver")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or user.pk not in (invitation.caller_id, invitation.receiver_id):
        raise NotFound("No such invitation.")
    return invitation


RESPONSES = {
    "accept": (InvitationStatus.ACCEPTED, "receiver"),
    "decline": (InvitationStatus.DECLINED, "receiver"),
    "cancel": (InvitationStatus.CANCELED, "caller"),
}


@transaction.atomic
def invitation_respond(*, invitation_id: int, user, action: str) -> CallInvitation:
    """accept / decline (the receiver) or cancel (the caller) a pending invitation. Under the
    invitation's row lock, so an answer and the expiry sweep cannot both win: whichever comes
    second finds it no longer pending (or past `expires_at`) and changes nothing."""
    if action not in RESPONSES:
        raise InvalidInput(f"action is one of {', '.join(RESPONSES)}.", code="invalid_action")
    status, who = RESPONSES[action]
    invitation = _locked(invitation_id, user)
    if getattr(invitation, f"{who}_id") != user.pk:
        raise InvalidInput(f"Only the invitation's {who} can {action} it.", code="not_allowed")
    now = timezone.now()
    if invitation.status != InvitationStatus.PENDING:
        raise TransitionNotAllowed(
            f"The invitation is {invitation.status}.", code=f"invitation_{invitation.status}"
        )
    if invitation.expires_at <= now:
        raise TransitionNotAllowed("The invitation has expired.", code="invitation_expired")
    if status == InvitationStatus.ACCEPTED:
        if invitation.call_id is None:
            _start_call(invitation)
        else:
            _dial_into_call(invitation)
    invitation.status, invitation.responded_at = status, now
    invitation.save(update_fields=["status", "responded_at"])
    _publish(invitation, "invitation.updated")
    return invitation


def _start_call(invitation: CallInvitation) -> None:
    """The new call: the receiver's softphone is dialed, then the caller's rings into it."""
    agents = {
        a.user_id: a
        for a in Agent.objects.filter(
            user_id__in=[invitation.caller_id, invitation.receiver_id]
        ).only("pk", "user_id", "softphone_identity")
    }
    if len(agents) < 2:
        raise TransitionNotAllowed("One of you is no longer an agent.", code="not_an_agent")
    call_between_agents(
        caller=agents[invitation.caller_id],
        callee=agents[invitation.receiver_id],
        request_key=f"invitation:{invitation.pk}",
    )


def _dial_into_call(invitation: CallInvitation) -> None:
    call = Call.objects.filter(pk=invitation.call_id).only("call_sid", "stage", "conference_sid")
    call = call.first()
    if call is None or call.stage != CallStage.CONNECTED or not call.conference_sid:
        raise TransitionNotAllowed("The call has ended.", code="call_ended")
    identity = Agent.objects.values_list("softphone_identity", flat=True).get(
        user_id=invitation.receiver_id
    )
    operation_request(
        kind=OperationKind.ADD_PARTICIPANT,
        key=f"invitation:{invitation.pk}",
        call_sid=call.call_sid,
        params={
            "conference_sid": call.conference_sid,
            "customer_call_sid": call.call_sid,
            "to": client_address(identity),
            "label": agent_participant_label(identity),
        },
    )


_EXPIRE_SQL = (
    "UPDATE messaging_callinvitation SET status = %s "
    "WHERE status = %s AND expires_at <= %s{receiver} "
    "RETURNING id, caller_id, receiver_id"
)


def invitations_expire(*, now=None, receiver_id: int | None = None) -> list[int]:
    """Mark every pending invitation past `expires_at` (or only `receiver_id`'s) as expired:
    one UPDATE over `pending_invitations_idx`; tells both sides. Returns the ids."""
    now = now or timezone.now()
    sql = _EXPIRE_SQL.format(receiver=" AND receiver_id = %s" if receiver_id else "")
    params = [
        InvitationStatus.EXPIRED,
        InvitationStatus.PENDING,
        connection.ops.adapt_datetimefield_value(now),
    ]
    if receiver_id:
        params.append(receiver_id)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if rows:
            for invitation in CallInvitation.objects.filter(
                pk__in=[r[0] for r in rows]
            ).select_related("caller", "receiver"):
                _publish(invitation, "invitation.updated")
    return [r[0] for r in rows]


def invitations_cleanup(*, days: int, dry_run: bool = False, now=None) -> int:
    """Delete expired invitations created more than `days` ago (after marking the overdue
    ones); `dry_run` only counts them. Reads `cleanup_invitations_idx`."""
    now = now or timezone.now()
    if not dry_run:
        invitations_expire(now=now)
    old = CallInvitation.objects.filter(
        status=InvitationStatus.EXPIRED, created_at__lt=now - timedelta(days=days)
    )
    if dry_run:
        overdue = CallInvitation.objects.filter(
            status=InvitationStatus.PENDING,
            expires_at__lte=now,
            created_at__lt=now - timedelta(days=days),
        )
        return old.count() + overdue.count()
    deleted, _ = old.delete()
    return deleted
