"""Queue-entry facts derived from what Telephony and Routing persisted.

A customer call's queue entries are read from its stored callbacks (`CallEvent`):
- `enqueue-action` (Twilio's <Enqueue> action: `QueueResult`, `QueueTime`, our `queue`) ends
  an entry; a `leave` followed by an entry elsewhere is an overflow;
- `transfer` (the customer redirected into another queue by an agent's transfer, an
  escalation step or a supervisor's move) starts an entry in its `queue`;
- `conference` participant joins and holds say who answered each entry, when, and the hold;
completed by the Call row (its last queue and `enqueued_at`, end, outcome, and its answer,
agent and hold when there are no conference events). Wrap-up is the agent's `wrap_up`
activity (`AgentStatusEvent`) that began when the entry's service ended. Missed offers are the
call's rejected or timed-out reservations. Only ended calls have facts.

The derivation is SQL (`derivation.py`), set-based over any number of calls; `store.py`
upserts its rows (the one-minute run) or replaces a range's (a recompute).
"""

from .store import (
    calls_of_events,
    calls_of_wrap_ups_ended,
    rebuild_call_facts,
    replace_facts,
)

__all__ = [
    "calls_of_events",
    "calls_of_wrap_ups_ended",
    "rebuild_call_facts",
    "replace_facts",
]
