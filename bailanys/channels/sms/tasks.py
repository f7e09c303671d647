from django_tasks import task

from bailanys.channels.sms.inbound import inbound_handle


@task()
def sms_inbound_handle(inbound_id: int) -> str:
    return inbound_handle(inbound_id)
