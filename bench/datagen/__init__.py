"""Synthetic call-center data at benchmark scale, written with PostgreSQL COPY.

Library: `generate(connection, agents=..., queues=..., calls=...)`; CLI:
`python -m bench.datagen --agents 100000 --queues 200 --calls 1000000`.

Rows stream from generators straight into COPY, so memory grows with agents, never with
calls. Ids are assigned here (after any existing rows) so foreign keys need no round trip,
and every row satisfies the models' CHECK constraints. Each stage draws from its own seeded
random stream: changing one stage does not reshuffle the others.

Modules: `common` (clock units, `World`, `Table`, random helpers), `queues`, `people` (users,
agents, memberships), `calls` (history and live tail), `sql` (COPY, sequences, statistics),
`pipeline` (`generate`) and `__main__` (the CLI).
"""

from .calls import CALL_COLUMNS, historical_call_rows, live_call_rows
from .common import DAY, HOUR, Table, World
from .people import (
    AGENT_COLUMNS,
    MEMBERSHIP_COLUMNS,
    USER_COLUMNS,
    agent_rows,
    membership_rows,
    user_rows,
)
from .pipeline import generate
from .queues import QUEUE_COLUMNS, queue_rows
from .sql import copy_rows

__all__ = [
    "AGENT_COLUMNS",
    "CALL_COLUMNS",
    "DAY",
    "HOUR",
    "MEMBERSHIP_COLUMNS",
    "QUEUE_COLUMNS",
    "USER_COLUMNS",
    "Table",
    "World",
    "agent_rows",
    "copy_rows",
    "generate",
    "historical_call_rows",
    "live_call_rows",
    "membership_rows",
    "queue_rows",
    "user_rows",
]
