from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_cache_table(sender, using="default", **kwargs):
    """The flood-limit counters live in a cache table: `migrate` alone must make it."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class PrivacyConfig(AppConfig):
    name = "bailanys.privacy"
    label = "privacy"

    def ready(self):
        post_migrate.connect(_create_cache_table, sender=self)
