from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("secrets_app", "0012_rotation_policies"),
    ]

    operations = [
        migrations.AddField(
            model_name="environment",
            name="reveal_rotation_hours",
            field=models.PositiveSmallIntegerField(default=24),
        ),
    ]
