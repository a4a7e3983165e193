"""Signing-key rollover (agent protocol v1.1): a rotated-out key becomes `previous` (it still signs
for the devices that pin it), and `retired` now means retired for good, its private key destroyed.

Before this migration a rotation set the old key to `retired` while it kept signing for the devices
that pinned it; those rows are exactly today's `previous` keys, so they are renamed, and the time of
their rotation moves to `rotated_at`.
"""

from django.db import migrations, models


def forwards(apps, schema_editor):
    SigningKey = apps.get_model("mdm", "SigningKey")
    for key in SigningKey.objects.filter(state="retired"):
        key.state = "previous"
        key.rotated_at = key.retired_at
        key.retired_at = None
        key.save(update_fields=["state", "rotated_at", "retired_at"])


def backwards(apps, schema_editor):
    SigningKey = apps.get_model("mdm", "SigningKey")
    if SigningKey.objects.filter(state="retired").exists():
        raise RuntimeError("Keys retired for good (private key destroyed) cannot be represented before 0003.")
    for key in SigningKey.objects.filter(state="previous"):
        key.state = "retired"
        key.retired_at = key.rotated_at
        key.save(update_fields=["state", "retired_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("mdm", "0003_accounts"),
    ]

    operations = [
        migrations.AddField(
            model_name="signingkey",
            name="rotated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="signingkey",
            name="wrapped_private_key",
            field=models.BinaryField(null=True),
        ),
        migrations.AlterField(
            model_name="signingkey",
            name="state",
            field=models.CharField(
                choices=[("active", "Active"), ("previous", "Previous"), ("retired", "Retired")],
                default="active",
                max_length=16,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
