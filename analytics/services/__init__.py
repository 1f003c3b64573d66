"""Analytics' writes: facts and rollups, incremental (watermarks) and idempotent (upserts).

`rollup_run` (beat, every minute) re-derives the facts of the calls whose events arrived since
the watermark (less `ANALYTICS_ROLLUP_OVERLAP_SECONDS`, so an event committed late is still
read), then recomputes from the facts every rollup row those facts touch, old and new keys,
so a late event re-opens its interval. Rollup rows are recomputed whole, never incremented:
running twice, or over other batch boundaries, gives the same rows. `rollup_recompute` does
the same for a date range (the `analytics_recompute` command).
"""

from .rollups import (
    Keys,
    key_pairs,
    keys_between,
    rollup_agent_intervals,
    rollup_queue_days,
    rollup_queue_intervals,
)
from .runs import (
    daily_summaries_generate,
    recompute_facts,
    recompute_rollups,
    rollup_recompute,
    rollup_run,
)

__all__ = [
    "Keys",
    "daily_summaries_generate",
    "key_pairs",
    "keys_between",
    "recompute_facts",
    "recompute_rollups",
    "rollup_agent_intervals",
    "rollup_queue_days",
    "rollup_queue_intervals",
    "rollup_recompute",
    "rollup_run",
]
