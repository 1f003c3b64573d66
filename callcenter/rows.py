"""Hand-written statements for the hottest reads and writes of applying a callback.

Applying one callback locks or creates its call, reads the stored event and saves the call:
compiled by the ORM each time, those few statements cost more CPU than everything else the
apply does. A `Rows` holds a model's statement texts, written once per process, and turns
rows back into model instances the way the ORM does (the backend's converters included, so
SQLite's dates come back as the ORM's would). Model instances in, model instances out: the
callers keep working with the ORM's objects.

On PostgreSQL these statements are also planned once per connection (`execute`): sent as
text, each was parsed and planned again for every callback, which cost the database more CPU
than running it (measured: a callback's stored-event insert 0.40 → 0.27 ms of server CPU).
"""

import functools
import hashlib
import re
from weakref import WeakKeyDictionary

from django.db import connection
from django.db.models import Model

# The statements each connection has prepared. A prepared statement lasts as long as its
# session, whatever becomes of the transaction that prepared it, and the pool hands the same
# connections out again, so each is planned once per connection, not per request.
_prepared_on: WeakKeyDictionary = WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%%|%s")


@functools.lru_cache(maxsize=256)
def _prepared_form(sql: str) -> tuple[str, str, str]:
    """(name, PREPARE text with $n parameters, EXECUTE text with %s placeholders)."""
    count = 0

    def number(match: re.Match) -> str:
        nonlocal count
        if match.group() == "%%":
            return "%"
        count += 1
        return f"${count}"

    text = _PLACEHOLDER.sub(number, sql)
    name = "rows_" + hashlib.sha256(sql.encode()).hexdigest()[:16]
    marks = f"({', '.join(['%s'] * count)})" if count else ""
    return name, f"PREPARE {name} AS {text}", f"EXECUTE {name}{marks}"


def execute(cursor, sql: str, params=()) -> None:
    """`cursor.execute(sql, params)`, on PostgreSQL as a statement prepared once per
    connection. For fixed statement texts run often (the text is the key), not for ones
    built per call."""
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    name, prepare, run = _prepared_form(sql)
    prepared = _prepared_on.setdefault(connection.connection, set())
    if name not in prepared:
        cursor.execute(prepare)
        prepared.add(name)
    cursor.execute(run, params or None)


class Rows:
    def __init__(self, model: type[Model]):
        self.model = model
        self._updates: dict[tuple[str, ...], tuple[str, list]] = {}

    @functools.cached_property
    def _fields(self) -> list:
        return list(self.model._meta.concrete_fields)

    @functools.cached_property
    def table(self) -> str:
        return connection.ops.quote_name(self.model._meta.db_table)

    @functools.cached_property
    def columns(self) -> str:
        """Every column, in the order `instance` reads them."""
        return ", ".join(connection.ops.quote_name(f.column) for f in self._fields)

    @functools.cached_property
    def _attnames(self) -> tuple[str, ...]:
        return tuple(f.attname for f in self._fields)

    def instance(self, row) -> Model:
        return from_db(self.model, self._attnames, row)

    def one(self, sql: str, params) -> Model | None:
        """The instance of the first row `sql` answers (it selects or returns `columns`)."""
        with connection.cursor() as cursor:
            execute(cursor, sql, params)
            row = cursor.fetchone()
        return None if row is None else self.instance(row)

    @functools.cached_property
    def _inserted(self) -> list:
        return [f for f in self._fields if not f.primary_key]

    @functools.cached_property
    def _insert_sql(self) -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in self._inserted)
        marks = ", ".join(["%s"] * len(self._inserted))
        return f"INSERT INTO {self.table} ({columns}) VALUES ({marks})"  # noqa: S608 - model table

    def insert_unless(self, instance: Model, *, conflict: str) -> Model | None:
        """Insert the unsaved `instance` unless a row with its `conflict` column(s) exists:
        the new row, or None (ON CONFLICT DO NOTHING waits for a concurrent inserter)."""
        values = [
            f.get_db_prep_save(getattr(instance, f.attname), connection) for f in self._inserted
        ]
        sql = f"{self._insert_sql} ON CONFLICT ({conflict}) DO NOTHING RETURNING {self.columns}"
        return self.one(sql, values)

    def _update_sql(self, names: tuple[str, ...]) -> tuple[str, list]:
        if names not in self._updates:  # one per set of fields, for the process's life
            fields = [self.model._meta.get_field(name) for name in names]
            quote = connection.ops.quote_name
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            pk = quote(self.model._meta.pk.column)
            sql = f"UPDATE {self.table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
            self._updates[names] = (sql, fields)
        return self._updates[names]

    def update(self, instance: Model, names) -> None:
        """Save the `names` fields of `instance` (like save(update_fields=…), without the
        save signals, which no model written through here has)."""
        sql, fields = self._update_sql(tuple(sorted(names)))
        values = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
        with connection.cursor() as cursor:
            execute(cursor, sql, [*values, instance.pk])


@functools.lru_cache(maxsize=64)
def _converters_of(model: type[Model], attnames: tuple[str, ...]) -> tuple:
    """What the ORM does to each value of these columns it reads (as its compiler's
    get_converters)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    found = []
    for index, name in enumerate(attnames):
        column = fields[name].get_col(model._meta.db_table)
        functions = connection.ops.get_db_converters(column)
        functions += column.get_db_converters(connection)
        if functions:
            found.append((index, tuple(functions), column))
    return tuple(found)


def from_db(model: type[Model], attnames: tuple[str, ...], row) -> Model:
    """`model.from_db` of a raw row of those columns, converted as the ORM converts what it
    reads (on SQLite, datetimes come back as text)."""
    values = list(row)
    for index, functions, column in _converters_of(model, attnames):
        for convert in functions:
            values[index] = convert(values[index], column, connection)
    return model.from_db(connection.alias, list(attnames), values)
