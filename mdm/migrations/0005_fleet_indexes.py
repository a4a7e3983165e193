"""Indexes for the audit log at fleet size (issue 12): a million events per organization.

The console's and the API's filters search labels by substring (`icontains`, which PostgreSQL
runs as `UPPER(column) LIKE UPPER('%...%')`): trigram GIN indexes on those very expressions
turn a scan of every event into an index lookup. Exact target and actor ids get b-tree indexes
led by the organization, which also let PostgreSQL OR them with the label searches.

The indexes are the database's only (`SeparateDatabaseAndState` with no state): the model's Meta
is left as it was, so `makemigrations` stays quiet. The trigram ones, and pg_trgm itself, exist
on PostgreSQL only; SQLite (the embedded default) keeps scanning, which is fine at its sizes.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models


class OnPostgreSQL(migrations.SeparateDatabaseAndState):
    """Database operations run on PostgreSQL only (GIN and pg_trgm do not exist elsewhere)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def trigram(field: str, name: str) -> migrations.RunSQL:
    """A trigram index on UPPER(field), in SQL: GinIndex(OpClass(Upper(...))) renders it only with
    django.contrib.postgres installed, which this project does not need otherwise."""
    return migrations.RunSQL(
        f'CREATE INDEX "{name}" ON "mdm_auditevent" USING gin (UPPER("{field}") gin_trgm_ops)',
        f'DROP INDEX "{name}"',
    )


class Migration(migrations.Migration):
    dependencies = [("mdm", "0004_signing_rollover")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddIndex(
                    "auditevent", models.Index(fields=["organization", "target_id", "-seq"], name="audit_org_target_id")
                ),
                migrations.AddIndex(
                    "auditevent", models.Index(fields=["organization", "actor_id", "-seq"], name="audit_org_actor_id")
                ),
            ]
        ),
        OnPostgreSQL(
            database_operations=[
                TrigramExtension(),
                trigram("actor_label", "audit_actor_label_trgm"),
                trigram("target_label", "audit_target_label_trgm"),
            ]
        ),
    ]
