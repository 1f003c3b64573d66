"""Staffing with Erlang C: agents needed for a service-level target, and per-interval
recommendations for a queue from its own history.

Traffic A = calls x AHT ÷ interval (Erlangs). With N > A agents, the probability a caller
waits is Erlang C: P(wait) = N·B ÷ (N - A·(1 - B)), B being Erlang B computed by the stable
recursion B(0) = 1, B(n) = A·B(n-1) ÷ (n + A·B(n-1)). Then
service level = 1 - P(wait)·e^(-(N - A)·T ÷ AHT), ASA = P(wait)·AHT ÷ (N - A), occupancy = A ÷ N.
The answer is the smallest N meeting the service level and the maximum occupancy; scheduled
staff = ⌈N ÷ (1 - shrinkage)⌉.
"""

from dataclasses import asdict, dataclass
from math import ceil, exp

MAX_AGENTS = 10_000


@dataclass(frozen=True)
class Staffing:
    agents: int
    scheduled_agents: int
    traffic_erlangs: float
    service_level: float
    asa_seconds: float
    occupancy: float
    probability_of_waiting: float

    def as_dict(self) -> dict:
        return asdict(self)


def erlang_c(agents: int, traffic: float) -> float:
    """The probability that a caller waits (1 when agents ≤ traffic: the queue grows)."""
    if agents <= traffic:
        return 1.0
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def predict(
    agents: int, traffic: float, aht: float, target_seconds: float
) -> tuple[float, float, float]:
    """(service level, ASA seconds, probability of waiting) with `agents` agents."""
    if traffic == 0:
        return 1.0, 0.0, 0.0
    pw = erlang_c(agents, traffic)
    if agents <= traffic:
        return 0.0, float("inf"), 1.0
    sl = 1 - pw * exp(-(agents - traffic) * target_seconds / aht)
    return sl, pw * aht / (agents - traffic), pw


def agents_needed(
    *,
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_service_level: float,
    target_seconds: float,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> Staffing:
    traffic = calls * aht_seconds / interval_seconds
    agents = max(1, int(traffic) + 1) if calls else 0
    while agents <= MAX_AGENTS:
        sl, asa, pw = predict(agents, traffic, aht_seconds, target_seconds)
        occupancy = traffic / agents if agents else 0.0
        if sl >= target_service_level and occupancy <= max_occupancy:
            return Staffing(
                agents=agents,
                scheduled_agents=ceil(agents / (1 - shrinkage)) if agents else 0,
                traffic_erlangs=round(traffic, 4),
                service_level=round(sl, 4),
                asa_seconds=round(asa, 1),
                occupancy=round(occupancy, 4),
                probability_of_waiting=round(pw, 4),
            )
        agents += 1
    raise ValueError(f"More than {MAX_AGENTS} agents would be needed.")
