"""A push is held by one task at a time, under a lease renewed by every batch (issue 11, item 11)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="push",
            name="lease_owner",
            field=models.UUIDField(blank=True, null=True),
        ),
        # Existing rows get "expired now": a push left pending or running is resumed at once.
        migrations.AddField(
            model_name="push",
            name="lease_expires_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RemoveIndex(
            model_name="push",
            name="push_state_progress",
        ),
        migrations.AddIndex(
            model_name="push",
            index=models.Index(fields=["state", "lease_expires_at"], name="push_state_lease"),
        ),
    ]
