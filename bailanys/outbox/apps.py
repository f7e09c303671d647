from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "bailanys.outbox"
    label = "outbox"
    verbose_name = "Outbox"

    def ready(self):
        from bailanys.outbox.models import OutboxMessage
        from bailanys.privacy.registry import personal_models_register

        personal_models_register(OutboxMessage)
