"""The audit logs are append-only: on PostgreSQL a trigger refuses any UPDATE of their rows.

(Deletes stay possible for retention. SQLite, the embedded run, relies on the model's save().)
"""

from django.db import migrations

TABLES = ("callcenter_callevent", "callcenter_agentstatusevent")

FUNCTION = """
CREATE OR REPLACE FUNCTION switchboard_forbid_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION switchboard_forbid_update()"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS switchboard_forbid_update()")


class Migration(migrations.Migration):
    dependencies = [("callcenter", "0002_create_role_groups")]

    operations = [migrations.RunPython(forward, backward)]
