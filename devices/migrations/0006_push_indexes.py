"""Indexes for the push's batches (issue 12): fewer to write for each row a push inserts, and one
to read a persona's devices in primary key order.

- `PolicyVersion.device` and `Command.device` lose their own index: `policy_version_unique`
  (device, version) and `command_device_pending` (device, state, priority, created_at) lead with
  the device, so every query that filters by device alone (a device's commands and versions, the
  cascade of a device's deletion) still has one; a push writes one row of each per device.
- `Device.persona`'s own index becomes `device_persona_walk` (persona, id): a push's batch reads
  `persona = P AND id > cursor ORDER BY id LIMIT 500`, which the primary key alone served by
  filtering every device of the fleet in that range (18,000 rows read for 500, for a persona of
  10,000 in a fleet of 375,000). It still serves every lookup by persona alone (the counts per
  persona, a persona's deletion, which PROTECT checks).

The single-column indexes go by name, with the models' state changed apart: letting AlterField do
it would also drop and re-add the foreign keys, which PostgreSQL then re-checks over every row of
the tables (their names are the ones Django gave them, on every backend).
"""

import django.db.models.deletion
from django.db import migrations, models


def drop_index(table: str, column: str, name: str) -> migrations.RunSQL:
    return migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("{column}")')


class Migration(migrations.Migration):
    dependencies = [("devices", "0005_fleet_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                drop_index("devices_command", "device_id", "devices_command_device_id_9564b1f7"),
                drop_index("devices_policyversion", "device_id", "devices_policyversion_device_id_e7c29b54"),
                drop_index("devices_device", "persona_id", "devices_device_persona_id_0347f160"),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="command",
                    name="device",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="commands",
                        to="devices.device",
                    ),
                ),
                migrations.AlterField(
                    model_name="policyversion",
                    name="device",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="policy_versions",
                        to="devices.device",
                    ),
                ),
                migrations.AlterField(
                    model_name="device",
                    name="persona",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="personas.persona",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="device",
            index=models.Index(fields=["persona", "id"], name="device_persona_walk"),
        ),
    ]
