from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """What people say to us through a channel, and what we answer: the Telegram bot's
    dialogue, SMS keywords, SMS-only volunteers, the SMS bridge and safe check-in."""

    name = "bailanys.conversations"
    label = "conversations"

    def ready(self):
        from bailanys.channels.events import (
            DeliveryReport,
            DeliveryTried,
            Heartbeat,
            TextReceived,
            UpdateReceived,
            subscribe,
        )
        from bailanys.conversations import bridge, contacts, sensors, sms
        from bailanys.conversations.models import SmsBridge, SmsVolunteer
        from bailanys.conversations.telegram import bot
        from bailanys.privacy.registry import personal_models_register
        from bailanys.relay import hooks

        subscribe(TextReceived, sms.sms_received)
        subscribe(DeliveryReport, bridge.bridge_report)
        # The shutdown's state: every try's delivery report by operator, gateways alive.
        subscribe(DeliveryTried, sensors.delivery_sensed)
        subscribe(Heartbeat, sensors.heartbeat_sensed)
        subscribe(UpdateReceived, bot.update_handle)
        hooks.case_opened_register(bridge.on_case_opened)
        from django.core.signals import setting_changed

        # The bridged kinds are remembered for seconds: a changed setting reads them again.
        setting_changed.connect(bridge.bridge_kinds_forget, dispatch_uid="bridge-kinds")
        hooks.contact_routes_register(contacts.contact_routes)
        personal_models_register(SmsVolunteer)
        personal_models_register(SmsBridge)
