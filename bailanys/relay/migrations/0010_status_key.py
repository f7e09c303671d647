from django.db import migrations, models


def tokens_to_keys(apps, schema_editor):
    """Keep a keyed hash of each status token in place of the token: the links requesters
    hold keep working (a presented token is hashed the same way), and a copy of the
    database no longer opens them."""
    from bailanys.privacy.crypto import blind_index

    Request = apps.get_model("relay", "Request")
    for pk, token in Request.objects.values_list("pk", "status_key").iterator():
        if len(token) != 64:  # not hashed yet
            Request.objects.filter(pk=pk).update(status_key=blind_index(f"status-token:{token}"))


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0009_volunteer_profile"),
    ]

    operations = [
        migrations.RenameField(model_name="request", old_name="status_token", new_name="status_key"),
        # Irreversible on purpose: the tokens cannot be recovered from their hashes.
        migrations.RunPython(tokens_to_keys, migrations.RunPython.noop),
    ]
