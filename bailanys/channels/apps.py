from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "bailanys.channels"
    label = "channels"

    def ready(self):
        from bailanys.channels.sms import bridge
        from bailanys.relay.signals import case_opened

        case_opened.connect(bridge.on_case_opened, dispatch_uid="sms-bridge")
