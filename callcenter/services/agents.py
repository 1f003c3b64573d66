"""The write path of the core domain: every change of an agent's state passes through here.

Each service is keyword-only, atomic, returns early on a no-op and writes its audit row.
"""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from callcenter import notifications
from callcenter.choices import AgentActivity, AgentStatus, StatusEventSource
from callcenter.errors import InvalidInput, TransitionNotAllowed
from callcenter.locks import lock_agent
from callcenter.models import Agent, AgentStatusEvent
from callcenter.signals import agent_became_routable

# status → the statuses it may move to. Away → away changes the reason.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    AgentStatus.OFFLINE: frozenset({AgentStatus.AVAILABLE, AgentStatus.AWAY}),
    AgentStatus.AVAILABLE: frozenset({AgentStatus.AWAY, AgentStatus.OFFLINE}),
    AgentStatus.AWAY: frozenset({AgentStatus.AVAILABLE, AgentStatus.AWAY, AgentStatus.OFFLINE}),
}
# An agent with a caller ringing or connected cannot log off (a supervisor neither): the call
# would be orphaned. The system (presence loss) can, and routing then recovers the call.
BUSY_ACTIVITIES = frozenset({AgentActivity.OFFERED, AgentActivity.ON_CALL})
MAX_REASON_LENGTH = 100


@dataclass(frozen=True)
class StatusChange:
    agent: Agent
    changed: bool


def _record(
    *, agent: Agent, before: tuple[str, str], reason: str, source: str, acting_user, at: datetime
) -> None:
    AgentStatusEvent.objects.create(
        agent=agent,
        from_status=before[0],
        from_activity=before[1],
        to_status=agent.status,
        to_activity=agent.activity,
        reason=reason,
        source=source,
        acting_user=acting_user,
        occurred_at=at,
    )


@transaction.atomic
def agent_set_status(
    *,
    agent_id: int,
    status: str,
    reason: str = "",
    source: str = StatusEventSource.AGENT,
    acting_user=None,
) -> StatusChange:
    """Move an agent to `status` following STATUS_TRANSITIONS; the only writer of status.

    `reason` is required for away and refused otherwise. Raises InvalidInput or
    TransitionNotAllowed and changes nothing when the move is not allowed.
    """
    reason = (reason or "").strip()
    if status not in AgentStatus.values:
        raise InvalidInput(
            f"Unknown status {status!r}; use one of {', '.join(AgentStatus.values)}."
        )
    if source not in StatusEventSource.values:
        raise InvalidInput(f"Unknown source {source!r}.")
    if status == AgentStatus.AWAY and not reason:
        raise InvalidInput("Say why the agent is away (reason).", code="reason_required")
    if status != AgentStatus.AWAY and reason:
        raise InvalidInput("A reason applies only to away.", code="reason_not_allowed")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The reason is longer than {MAX_REASON_LENGTH} characters.")

    agent = lock_agent(agent_id)
    if agent.status == status and agent.away_reason == reason:
        return StatusChange(agent=agent, changed=False)
    if status not in STATUS_TRANSITIONS[agent.status]:
        raise TransitionNotAllowed(f"An agent cannot go from {agent.status} to {status}.")
    if (
        status == AgentStatus.OFFLINE
        and agent.activity in BUSY_ACTIVITIES
        and source != StatusEventSource.SYSTEM
    ):
        raise TransitionNotAllowed(
            "The agent has a call; finish or transfer it before going offline.",
            code="agent_busy",
        )

    now = timezone.now()
    before = (agent.status, agent.activity)
    if status == AgentStatus.AVAILABLE:
        # Idle time counts from the moment the agent can take calls again.
        agent.consecutive_missed_offers = 0
        if agent.activity == AgentActivity.IDLE:
            agent.idle_since = now
    agent.status = status
    agent.away_reason = reason
    agent.status_changed_at = now
    agent.save(
        update_fields=[
            "status",
            "away_reason",
            "status_changed_at",
            "idle_since",
            "consecutive_missed_offers",
        ]
    )
    _record(
        agent=agent, before=before, reason=reason, source=source, acting_user=acting_user, at=now
    )
    notifications.agent_changed(agent)
    _announce_if_routable(agent)
    return StatusChange(agent=agent, changed=True)


def _announce_if_routable(agent: Agent) -> None:
    if agent.status == AgentStatus.AVAILABLE and agent.activity == AgentActivity.IDLE:
        agent_became_routable.send(sender=Agent, agent_id=agent.pk)


def callcenter_today(now: datetime | None = None) -> date:
    """Today's date where the call center is (CALLCENTER_TIME_ZONE)."""
    return (now or timezone.now()).astimezone(ZoneInfo(settings.CALLCENTER_TIME_ZONE)).date()


def agents_reset_daily_counters(*, today: date | None = None) -> int:
    """Zero the per-day counters of agents whose counters belong to an earlier day (one UPDATE).

    Returns how many agents were reset; running it again the same day changes nothing.
    """
    today = today or callcenter_today()
    stale = Agent.objects.filter(Q(counters_date__lt=today) | Q(counters_date__isnull=True))
    return stale.update(calls_answered_today=0, talk_seconds_today=0, counters_date=today)


def agent_change_activity(
    *,
    agent: Agent,
    activity: str,
    active_calls_delta: int = 0,
    at: datetime | None = None,
    reason: str = "",
    wrap_up_until: datetime | None = None,
    answered_talk_seconds: int | None = None,
    missed_offer: bool | None = None,
) -> Agent:
    """The system moves the agent's activity (on call, wrap-up, idle) and active-call count,
    with its audit row; the database CHECK refuses more calls than capacity. (An offer is
    written by the claim statement: callcenter.services.offers.)
    Precondition: the caller holds the agent's row lock (locks.lock_agent), in a transaction."""
    at = at or timezone.now()
    before = (agent.status, agent.activity)
    agent.active_calls += active_calls_delta
    fields = ["active_calls"]
    if activity != agent.activity:
        agent.activity, agent.activity_changed_at = activity, at
        fields += ["activity", "activity_changed_at"]
        if activity == AgentActivity.IDLE:
            agent.idle_since = at
            fields.append("idle_since")
    agent.wrap_up_until = wrap_up_until if activity == AgentActivity.WRAP_UP else None
    fields.append("wrap_up_until")
    if answered_talk_seconds is not None:
        # A call just ended: today's counters (reset daily) and the end time strategies read.
        if agent.counters_date != callcenter_today(at):
            agent.counters_date = callcenter_today(at)
            agent.calls_answered_today, agent.talk_seconds_today = 0, 0
        agent.calls_answered_today += 1
        agent.talk_seconds_today += answered_talk_seconds
        agent.last_call_ended_at = at
        fields += [
            "counters_date",
            "calls_answered_today",
            "talk_seconds_today",
            "last_call_ended_at",
        ]
    if missed_offer is not None:
        # Consecutive misses: one more for a miss, back to none once a call is taken.
        agent.consecutive_missed_offers = agent.consecutive_missed_offers + 1 if missed_offer else 0
        fields.append("consecutive_missed_offers")
    agent.save(update_fields=fields)
    notifications.agent_changed(agent)
    if before[1] != agent.activity:
        _announce_if_routable(agent)
        _record(
            agent=agent,
            before=before,
            reason=reason,
            source=StatusEventSource.SYSTEM,
            acting_user=None,
            at=at,
        )
    return agent
