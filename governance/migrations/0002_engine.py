from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="secretdelivery",
            name="last_revealed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
