"""Indexes for the device list and the dashboard at fleet size (issue 12): 100,000 devices.

The list is ordered by `-enrolled_at, id`: one index in that order, led by the organization,
serves its first page, and holding `id` lets a deep page pick its rows from the index alone
(mdm.selectors.SeekPaginator). Each selective filter gets the same order behind its column
(`state` has one already, device_org_state); ownership has two values and is served by the
plain order. The dashboard's counts read only the columns of device_org_summary (an index-only
scan instead of the whole table). Search (`q`, `icontains` on name and model, which PostgreSQL
runs as `UPPER(column) LIKE ...`) gets trigram GIN indexes on those expressions.

As in mdm's 0005, the indexes are the database's only (the models' Meta is unchanged) and the
trigram ones exist on PostgreSQL only (pg_trgm is created by mdm's 0005).
"""

import importlib

from django.db import migrations, models

OnPostgreSQL = importlib.import_module("mdm.migrations.0005_fleet_indexes").OnPostgreSQL


def ordered(name: str, *fields: str) -> migrations.AddIndex:
    return migrations.AddIndex(
        "device", models.Index(fields=["organization", *fields, "-enrolled_at", "id"], name=name)
    )


def trigram(field: str, name: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'CREATE INDEX "{name}" ON "devices_device" USING gin (UPPER("{field}") gin_trgm_ops)',
        f'DROP INDEX "{name}"',
    )


class Migration(migrations.Migration):
    dependencies = [("devices", "0004_device_channel"), ("mdm", "0005_fleet_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                ordered("device_org_enrolled"),
                ordered("device_org_container", "container_state"),
                ordered("device_org_compliant", "compliant"),
                ordered("device_org_persona", "persona"),
                ordered("device_org_platform", "platform"),
                migrations.AddIndex(
                    "device",
                    models.Index(
                        fields=["organization", "state", "container_state", "compliant", "silent"],
                        name="device_org_summary",
                    ),
                ),
            ]
        ),
        OnPostgreSQL(
            database_operations=[
                trigram("name", "device_name_trgm"),
                trigram("model", "device_model_trgm"),
            ]
        ),
    ]
