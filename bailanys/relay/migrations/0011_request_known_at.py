from django.db import migrations, models
from django.db.models import F


def known_before_the_rule(apps, schema_editor):
    """Requests of cases closed before this rule were told the reply under the old one:
    their status pages keep showing what they were told. Requests of open cases follow
    the new rule (the recipient decides who hears their words)."""
    Request = apps.get_model("relay", "Request")
    Request.objects.filter(case__state="closed").update(known_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0010_status_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="request",
            name="known_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(known_before_the_rule, migrations.RunPython.noop),
    ]
