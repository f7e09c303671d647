from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "bailanys.channels"
    label = "channels"
