"""What the claim's SQL writes differently on SQLite, the embedded run's database, than on
PostgreSQL (routing.claim, routing.claim_embedded, routing.known_agent)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection


@dataclass(frozen=True)
class Dialect:
    # How a read of the claim locks the rows it takes (SQLite: its one writer at a time).
    lock: str
    # The larger of two values.
    greatest: str
    # After a subquery: evaluated once, not inlined into the query around it.
    once: str
    # `instant` plus `seconds` (an integer expression).
    plus_seconds: str

    def later(self, instant: str, seconds: str) -> str:
        return self.plus_seconds.format(instant=instant, seconds=seconds)


POSTGRESQL = Dialect(
    lock=" FOR NO KEY UPDATE SKIP LOCKED",
    greatest="greatest",
    once=" OFFSET 0",
    plus_seconds="({instant}) + ({seconds}) * interval '1 second'",
)
SQLITE_PLUS_SECONDS = "routing_plus_seconds"
SQLITE = Dialect(
    lock="", greatest="max", once="", plus_seconds=SQLITE_PLUS_SECONDS + "({instant}, {seconds})"
)


def register_sqlite_functions() -> None:
    """Give the SQLite connection the function SQLITE.plus_seconds calls."""
    connection.ensure_connection()
    connection.connection.create_function(SQLITE_PLUS_SECONDS, 2, _plus_seconds, deterministic=True)


def _plus_seconds(instant: str | None, seconds: int | None) -> str | None:
    # SQLite keeps Django's naive UTC text; answer in the same form so comparisons stay textual.
    if instant is None or seconds is None:
        return None
    return str(datetime.fromisoformat(instant) + timedelta(seconds=seconds))
