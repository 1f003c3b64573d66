"""How a queue orders its eligible agents (Queue.strategy): the claim statement's ORDER BY over
the agent row `ag` (routing.claim); tiers are walked before it, level by level."""

from callcenter.choices import RoutingStrategy

ORDER_BY = {
    # agent_routable_idle_since_idx's order: the claim stops at its first eligible row.
    RoutingStrategy.LONGEST_IDLE: "ag.idle_since, ag.id",
    # Resume after the agent offered a call most recently: the least recently offered first.
    RoutingStrategy.ROUND_ROBIN: "ag.last_offered_at NULLS FIRST, ag.id",
    RoutingStrategy.FEWEST_CALLS: "ag.calls_answered_today, ag.idle_since, ag.id",
    RoutingStrategy.LEAST_TALK_TIME: "ag.talk_seconds_today, ag.idle_since, ag.id",
    RoutingStrategy.RANDOM: "random()",
}
