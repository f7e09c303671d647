from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "bailanys.accounts"
    label = "accounts"
