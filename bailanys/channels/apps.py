from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "bailanys.channels"
    label = "channels"

    def ready(self):
        from bailanys.channels.log.adapter import LogChannel
        from bailanys.channels.models import SmsDelivery, SmsGateway, SmsInbound, TelegramChat
        from bailanys.channels.sms.adapter import SmsChannel
        from bailanys.channels.sms.drivers import driver_register
        from bailanys.channels.sms.gammu import GammuDriver
        from bailanys.channels.sms.smsgate import SmsGateDriver
        from bailanys.channels.sms.twilio import TwilioDriver
        from bailanys.channels.telegram.adapter import TelegramChannel
        from bailanys.channels.web.adapter import WebChannel
        from bailanys.outbox.senders import sender_register
        from bailanys.privacy.registry import personal_models_register

        for channel in (WebChannel, LogChannel, TelegramChannel, SmsChannel):
            sender_register(channel.code, channel)
        for driver in (SmsGateDriver(), TwilioDriver(), GammuDriver()):
            driver_register(driver)
        # What the wipe deletes: deliveries before the gateways they hold on to; a gateway
        # set in the environment is made again, under the new keys, when next used.
        for model in (SmsDelivery, SmsInbound, SmsGateway, TelegramChat):
            personal_models_register(model)
        # gateways_any() remembers for a few seconds: a gateway saved or deleted, or the
        # settings changed (tests), make it read again. Invalidation only, no logic.
        from django.core.signals import setting_changed
        from django.db.models.signals import post_delete, post_save

        from bailanys.channels.sms.gateways import gateways_forget

        post_save.connect(gateways_forget, sender=SmsGateway, dispatch_uid="gateways-saved")
        post_delete.connect(gateways_forget, sender=SmsGateway, dispatch_uid="gateways-deleted")
        setting_changed.connect(gateways_forget, dispatch_uid="gateways-settings")
