from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("secrets_app", "0003_machine_identities"),
    ]

    operations = [
        migrations.AddField(
            model_name="clientsecret",
            name="trusted_ips",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
