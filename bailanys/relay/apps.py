from django.apps import AppConfig


class RelayConfig(AppConfig):
    name = "bailanys.relay"
    label = "relay"
