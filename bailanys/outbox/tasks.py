from django_tasks import task

from bailanys.outbox.services import outbox_send


@task()
def outbox_deliver(outbox_id: int) -> str | None:
    state = outbox_send(outbox_id=outbox_id)
    return str(state) if state else None
