from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rotation", "0002_issued_credentials"),
    ]

    operations = [
        migrations.AddField(
            model_name="rotation",
            name="reveal_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rotation",
            name="reset_user_index",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rotation",
            name="reset_key_id",
            field=models.CharField(blank=True, default="", max_length=256),
        ),
        migrations.AddField(
            model_name="rotation",
            name="reset_due_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="rotation",
            name="reset_failures",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="rotationattempt",
            name="trigger",
            field=models.CharField(
                choices=[
                    ("schedule", "Schedule"),
                    ("manual", "Rotate now"),
                    ("retry", "Retry"),
                    ("reveal", "Revealed in the UI"),
                ],
                max_length=16,
            ),
        ),
    ]
