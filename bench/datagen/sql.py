"""The PostgreSQL side: COPY through psycopg 3, next ids, sequence resets, the foreign-key
trigger switch and planner statistics."""

from __future__ import annotations

from .common import Table


def _missing_defaults(model, columns: tuple[str, ...], connection) -> tuple[list[str], tuple]:
    """Columns added to the model since this package was written, with their defaults.

    Keeps the generator working while the models gain fields: a NOT NULL column without a
    database default gets the field's Python default, the same for every row (a generated
    column is the database's to fill).
    """
    names, values = [], []
    for f in model._meta.concrete_fields:
        if f.column in columns or f.null or f.has_db_default() or f.generated:
            continue
        names.append(f.column)
        values.append(f.get_db_prep_save(f.get_default(), connection))
    return names, tuple(values)


def copy_rows(pg, connection, table: Table) -> int:
    """COPY `table.rows` into the model's table; returns how many rows were written."""
    extra_columns, extra = _missing_defaults(table.model, table.columns, connection)
    columns = ", ".join((*table.columns, *extra_columns))
    n = 0
    with (
        pg.cursor() as cur,
        cur.copy(f"COPY {table.model._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in table.rows:
            copy.write_row(row + extra if extra else row)
            n += 1
    return n


def _next_id(pg, model) -> int:
    with pg.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")
        return cur.fetchone()[0]


def _reset_sequence(pg, model) -> None:
    table = model._meta.db_table
    with pg.cursor() as cur:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), "
            f"MAX(id) IS NOT NULL) FROM {table}"
        )


def _skip_foreign_key_triggers(pg) -> bool:
    """Skip the per-row foreign-key triggers for this transaction when allowed (superuser).

    Every id written here points at a row of the same transaction or an existing one, so the
    checks cannot fail; they cost half the load time. CHECK and unique constraints still apply.
    """
    with pg.cursor() as cur:
        cur.execute("SELECT current_setting('is_superuser') = 'on'")
        superuser = cur.fetchone()[0]
        if superuser:
            cur.execute("SET LOCAL session_replication_role = replica")
    return superuser


def _refresh_statistics(connection, tables: list[str]) -> None:
    """VACUUM ANALYZE when possible (sets the visibility map), ANALYZE inside a transaction."""
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"{command} {table}")
