from django_tasks import task

from bailanys.outbox.services import outbox_send


@task()
def outbox_deliver(outbox_id: int) -> str | None:
    """Kept for task rows queued before the outbox pump (an upgrade with a backlog): no
    message is queued as a task any more (bailanys.outbox.pump)."""
    state = outbox_send(outbox_id=outbox_id)
    return str(state) if state else None
