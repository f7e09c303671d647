from django_tasks import task

from bailanys.conversations.bridge import bridge_start


@task()
def bridge_start_task(case_id: int) -> bool:
    """A new case's SMS to its recipient (conversations.bridge.on_case_opened)."""
    return bridge_start(case_id=case_id) is not None
