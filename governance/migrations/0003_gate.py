from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("governance", "0002_engine")]

    operations = [
        migrations.AddField(
            model_name="pipelinegate",
            name="mode",
            field=models.CharField(
                choices=[("api_response", "ApiResponse (synchronous)"), ("callback", "Callback (asynchronous)")],
                default="api_response",
                max_length=16,
            ),
        ),
    ]
