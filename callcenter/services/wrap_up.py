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
    joined), or listening to the voicemail it left. Three indexed reads, then the call."""
    ended = Call.objects.filter(agent=agent, ended_at__isnull=False).order_by("-ended_at", "-id")
    own = ended.filter(parent__isnull=True).values_list("ended_at", "id").first()
    leg = ended.filter(parent__isnull=False).values_list("ended_at", "parent_id").first()
    voicemail = (
        Voicemail.objects.filter(agent=agent, completed_at__isnull=False)
        .order_by("-completed_at", "-id")
        .values_list("completed_at", "call_id")
        .first()
    )
    handled = [found for found in (own, leg, voicemail) if found is not None]
    return Call.objects.get(pk=max(handled)[1]) if handled else None


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
