from django.apps import AppConfig


class RelayConfig(AppConfig):
    name = "bailanys.relay"
    label = "relay"

    def ready(self):
        from bailanys.outbox.services import demo_request_check_register
        from bailanys.privacy.registry import personal_models_register, purger_register
        from bailanys.relay.models import Broadcast, Case, Request, Requester
        from bailanys.relay.services.retention import cases_purge

        # Requests, claims, attempts and their outbox rows go with these (cascades).
        personal_models_register(Case)
        personal_models_register(Requester)
        personal_models_register(Broadcast)
        purger_register(cases_purge)
        # Whatever writes a row for a made-up demo request, it goes to the log only.
        demo_request_check_register(
            lambda request_id: Request.objects.filter(pk=request_id, demo=True).exists()
        )
