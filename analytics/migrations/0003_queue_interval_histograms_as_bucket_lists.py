"""QueueInterval's histograms change form: from packed counts (109 little-endian 32-bit
counts) to bucket lists (each answered entry's bucket as one byte, ascending), which a
recompute writes in one pass with the counters. Rows written before are converted here."""

from array import array
from sys import byteorder

from django.db import migrations

COLUMNS = ("wait_histogram", "handle_histogram")


def _bucket_list(packed) -> bytes:
    counts = array("I")
    counts.frombytes(bytes(packed or b""))
    if byteorder == "big":
        counts.byteswap()
    return bytes(index for index, count in enumerate(counts) for _ in range(count))


def to_bucket_lists(apps, schema_editor):
    QueueInterval = apps.get_model("analytics", "QueueInterval")
    rows = QueueInterval.objects.only("id", *COLUMNS).order_by("id")
    batch = []
    for row in rows.iterator(chunk_size=2000):
        for column in COLUMNS:
            setattr(row, column, _bucket_list(getattr(row, column)))
        batch.append(row)
        if len(batch) == 2000:
            QueueInterval.objects.bulk_update(batch, COLUMNS)
            batch = []
    QueueInterval.objects.bulk_update(batch, COLUMNS)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_derived_rows_without_fk_checks_or_duplicate_indexes")]

    operations = [migrations.RunPython(to_bucket_lists, migrations.RunPython.noop, elidable=True)]
