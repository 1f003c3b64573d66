"""Bulk rewrites of analytics' derived tables (a full recompute)."""

from contextlib import contextmanager

from django.db import connection
from django.db.models import UniqueConstraint

from analytics import dialect as d


@contextmanager
def indexes_built_after(*models):
    """Around a rewrite of every row of the `models` (derived tables only analytics reads or
    writes, while it holds the rollup lock). PostgreSQL: drop their secondary indexes and
    unique constraints, then build them once from the written rows (a sort each) instead of
    maintaining them row by row, and refresh the tables' statistics for the plans that read
    them next. The index-less moment is inside this transaction, never seen by another."""
    if not d.is_postgresql():
        yield
        return
    built = [(model, [*model._meta.indexes], [c for c in model._meta.constraints
                                             if isinstance(c, UniqueConstraint)])
             for model in models]  # fmt: skip
    with connection.schema_editor() as editor:
        for model, indexes, uniques in built:
            for index in indexes:
                editor.remove_index(model, index)
            for unique in uniques:
                editor.remove_constraint(model, unique)
    yield
    with connection.schema_editor() as editor:
        for model, indexes, uniques in built:
            for unique in uniques:
                editor.add_constraint(model, unique)
            for index in indexes:
                editor.add_index(model, index)
    refresh_statistics(*models)


def refresh_statistics(*models) -> None:
    """PostgreSQL: ANALYZE tables a recompute rewrote, for the plans that read them next
    (autovacuum may be late or off: a report planned on a table's old statistics of a few
    rows sorted 18,000 day rows on disk instead of reading them in index order, twice as slow)."""
    if d.is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(model._meta.db_table for model in models)}")
