from django.urls import path

from bailanys.channels.sms import views as sms
from bailanys.channels.sms.twilio import views as twilio
from bailanys.channels.telegram import views as telegram

app_name = "channels"
urlpatterns = [
    path("channels/telegram/webhook", telegram.webhook, name="telegram_webhook"),
    path("channels/smsgate/webhook", sms.smsgate_webhook, name="smsgate_webhook"),
    # An HTTP provider's callbacks; the status path is also built into every send.
    path("channels/http-sms/<str:name>/status", twilio.status_callback, name="httpsms_status"),
    path("channels/http-sms/<str:name>/inbound", twilio.inbound, name="httpsms_inbound"),
    path("console/telegram/", telegram.link, name="telegram_link"),
    path("console/sms/", sms.volunteer_phone, name="sms_phone"),
    path("console/sms/gateways/", sms.gateways, name="sms_gateways"),
]
