from django.urls import path

from bailanys.channels.sms import views as sms
from bailanys.channels.telegram import views as telegram

app_name = "channels"
urlpatterns = [
    path("channels/telegram/webhook", telegram.webhook, name="telegram_webhook"),
    path("channels/smsgate/webhook", sms.smsgate_webhook, name="smsgate_webhook"),
    path("console/telegram/", telegram.link, name="telegram_link"),
]
