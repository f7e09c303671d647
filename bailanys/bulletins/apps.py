from django.apps import AppConfig


class BulletinsConfig(AppConfig):
    name = "bailanys.bulletins"
    label = "bulletins"

    def ready(self):
        from bailanys.bulletins.models import Subscriber
        from bailanys.bulletins.services import subscribers_purge
        from bailanys.privacy.registry import personal_models_register, purger_register

        # Who subscribed, by number or chat: their deliveries go with them (cascades).
        personal_models_register(Subscriber)
        purger_register(subscribers_purge)
