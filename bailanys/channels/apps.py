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
