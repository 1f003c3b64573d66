"""QueueDay stores its histograms' percentiles (as bucket indexes), which the rollups now
write with the histograms; days written before get theirs from their stored histograms."""

from array import array
from itertools import accumulate
from sys import byteorder

from django.db import migrations, models

PERCENTILES = (50, 90, 95)
NAMES = ("wait", "handle")
COLUMNS = tuple(f"{name}_p{p}_bucket" for name in NAMES for p in PERCENTILES)


def _buckets(packed) -> list:
    """The nearest-rank percentiles' bucket indexes of a packed histogram (32-bit
    little-endian counts), None each when it is empty."""
    counts = array("I")
    counts.frombytes(bytes(packed or b""))
    if byteorder == "big":
        counts.byteswap()
    cumulative = list(accumulate(counts))
    total = cumulative[-1] if cumulative else 0
    if not total:
        return [None] * len(PERCENTILES)
    return [next(i for i, c in enumerate(cumulative) if c * 100 >= p * total) for p in PERCENTILES]


def fill_percentiles(apps, schema_editor):
    """One parameterized UPDATE a day with answered entries, sent as a batch (executemany):
    a CASE per row, as bulk_update writes, cost a millisecond a row here."""
    QueueDay = apps.get_model("analytics", "QueueDay")
    rows = QueueDay.objects.values_list("id", "wait_histogram", "handle_histogram")
    updates = []
    for day_id, wait, handle in rows.iterator(chunk_size=2000):
        values = [*_buckets(wait), *_buckets(handle)]
        if any(value is not None for value in values):
            updates.append([*values, day_id])
    sets = ", ".join(f"{column} = %s" for column in COLUMNS)
    with schema_editor.connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {QueueDay._meta.db_table} SET {sets} WHERE id = %s",  # noqa: S608
            updates,
        )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0003_queue_interval_histograms_as_bucket_lists")]

    operations = [
        *(
            migrations.AddField(
                model_name="queueday",
                name=column,
                field=models.PositiveSmallIntegerField(blank=True, null=True),
            )
            for column in COLUMNS
        ),
        migrations.RunPython(fill_percentiles, migrations.RunPython.noop, elidable=True),
    ]
