"""Agents on calls routing did not offer them: click-to-call, an internal call between two
agents, joining a colleague's call (an invitation, a transfer), a supervisor listening in.

While such a leg talks (in progress, not ended) it holds one of its agent's calls: on a call,
counted in `active_calls`, so routing offers them nothing beyond their capacity meanwhile.
Routing's own offers are settled by routing.lifecycle; the legs here are the ones we dial
with `direct=1` in their status callback (telephony.gateway). The state is recomputed from
the leg on every callback (`Call.holds_agent`), so callbacks arriving late, twice or out of
order change the agent once each way.
"""

from callcenter.choices import AgentActivity, CallStatus
from callcenter.locks import lock_agent
from callcenter.models import Call

from .agents import agent_change_activity
from .call_facts import agent_for, save_fields


def follow_direct_leg(leg: Call) -> None:
    """Hold or release the leg's agent as the leg starts or stops talking.
    Precondition: the caller holds the leg's row lock, in a transaction."""
    talking = leg.status == CallStatus.IN_PROGRESS and leg.ended_at is None
    if talking == leg.holds_agent:
        return
    softphone = agent_for(leg.to_number)
    if softphone is None:
        return  # a leg to a number: nobody of ours to hold
    agent = lock_agent(softphone.pk)
    if talking:
        if agent.active_calls >= agent.max_concurrent_calls:
            # Already at capacity (an offer ringing as they picked this up): not routable
            # anyway, and the offer's own end settles their count.
            return
        agent_change_activity(
            agent=agent, activity=AgentActivity.ON_CALL, active_calls_delta=1, reason="direct call"
        )
    else:
        agent_change_activity(
            agent=agent,
            activity=AgentActivity.IDLE if agent.active_calls <= 1 else agent.activity,
            active_calls_delta=-1,
            reason="direct call ended",
        )
    leg.holds_agent = talking
    save_fields(leg, "holds_agent")
