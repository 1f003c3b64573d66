"""Wrap-up: after a call the agent records what came of it, then says "ready" (or the queue's
wrap-up time runs out and routing's sweep ends it)."""

from django.conf import settings
from django.db import transaction

from callcenter.choices import AgentActivity
from callcenter.errors import InvalidInput, TransitionNotAllowed
from callcenter.locks import lock_agent
from callcenter.models import Agent, Call, Voicemail

from .agents import agent_change_activity
from .call_facts import save_fields

MAX_NOTES_LENGTH = 2000


def _last_call_of(agent: Agent) -> Call | None:
    """The customer call the agent handled last (the one wrap-up is about), whichever way they
    handled it: as the call's agent, on a leg of theirs (a call transferred to them, one they
    joined), or listening to the voicemail it left. Three indexed reads."""
    latest = lambda rows: rows.order_by("-ended_at", "-id").first()  # noqa: E731
    own = latest(Call.objects.filter(agent=agent, parent__isnull=True, ended_at__isnull=False))
    leg = latest(Call.objects.filter(agent=agent, parent__isnull=False, ended_at__isnull=False))
    voicemail = (
        Voicemail.objects.filter(agent=agent, completed_at__isnull=False)
        .order_by("-completed_at", "-id")
        .only("call_id", "completed_at")
        .first()
    )
    handled = [(c.ended_at, c.pk) for c in (own,) if c]
    if leg is not None:
        handled.append((leg.ended_at, leg.parent_id))
    if voicemail is not None:
        handled.append((voicemail.completed_at, voicemail.call_id))
    if not handled:
        return None
    call_id = max(handled)[1]
    return own if own is not None and own.pk == call_id else Call.objects.get(pk=call_id)


@transaction.atomic
def agent_complete_wrap_up(*, agent_id: int, disposition: str = "", notes: str = "") -> Agent:
    """Record the disposition and notes on the agent's last call and end the wrap-up: the
    agent is idle (and routable when available) at once. Refused outside wrap-up."""
    disposition, notes = (disposition or "").strip(), (notes or "").strip()
    if disposition and disposition not in settings.CALL_DISPOSITIONS:
        raise InvalidInput(
            f"Unknown disposition {disposition!r}; use one of "
            f"{', '.join(settings.CALL_DISPOSITIONS)}.",
            code="invalid_disposition",
        )
    if len(notes) > MAX_NOTES_LENGTH:
        raise InvalidInput(f"Notes are limited to {MAX_NOTES_LENGTH} characters.")
    agent = lock_agent(agent_id)
    if agent.activity != AgentActivity.WRAP_UP:
        raise TransitionNotAllowed("The agent is not in wrap-up.", code="not_in_wrap_up")
    call = _last_call_of(agent)
    if call is not None and (disposition or notes):
        call.disposition, call.notes = disposition, notes
        save_fields(call, "disposition", "notes")
    return agent_change_activity(agent=agent, activity=AgentActivity.IDLE, reason="wrap-up done")
