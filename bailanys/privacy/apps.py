from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "bailanys.privacy"
    label = "privacy"
