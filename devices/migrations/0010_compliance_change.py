# The device page's timeline shows compliance changes (issue 16). Numbered 0010: 0009 belongs to a
# parallel change; at the merge this migration's dependency moves to that 0009.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0008_command_pending_age"),
        ("mdm", "0005_fleet_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ComplianceChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("compliant", models.BooleanField(null=True)),
                ("previous", models.BooleanField(null=True)),
                ("reasons", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "device",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="compliance_changes",
                        to="devices.device",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="mdm.organization"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["device", "-created_at"], name="compliance_change_device")],
            },
        ),
    ]
