"""How a queue orders its eligible agents (Queue.strategy); tiers are walked by the caller."""

from django.db.models import F, QuerySet
from django.db.models.functions import Random

from callcenter.choices import RoutingStrategy
from callcenter.models import Queue

ORDERINGS = {
    RoutingStrategy.LONGEST_IDLE: ("idle_since", "id"),
    # Resume after the agent offered a call most recently: the least recently offered first.
    RoutingStrategy.ROUND_ROBIN: (F("last_offered_at").asc(nulls_first=True), "id"),
    RoutingStrategy.FEWEST_CALLS: ("calls_answered_today", "idle_since", "id"),
    RoutingStrategy.LEAST_TALK_TIME: ("talk_seconds_today", "idle_since", "id"),
    RoutingStrategy.RANDOM: (Random(),),
}


def ordered_for(queue: Queue, agents: QuerySet) -> QuerySet:
    """`agents` (members of `queue`) in the order the queue offers calls to them."""
    return agents.order_by(*ORDERINGS[queue.strategy])
