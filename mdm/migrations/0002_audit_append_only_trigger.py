"""On PostgreSQL, the database itself refuses to change or delete audit events.

The hash chain detects tampering after the fact; this trigger stops an application bug (or a
stray ORM call) from doing it at all. Someone with the rights to drop the trigger can still
tamper, and then `manage.py verify_audit` finds it.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION mdm_auditevent_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mdm_auditevent_append_only
  BEFORE UPDATE OR DELETE ON mdm_auditevent
  FOR EACH ROW EXECUTE FUNCTION mdm_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS mdm_auditevent_append_only ON mdm_auditevent;
DROP FUNCTION IF EXISTS mdm_auditevent_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("mdm", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
