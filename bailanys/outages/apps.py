from django.apps import AppConfig


class OutagesConfig(AppConfig):
    name = "bailanys.outages"
    label = "outages"

    def ready(self):
        from bailanys.outages.services import outages_purge
        from bailanys.privacy.registry import purger_register

        # Nothing here names a person: fetches and sensor rows are only kept for a while.
        purger_register(outages_purge)
