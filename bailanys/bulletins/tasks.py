from django_tasks import task

from bailanys.bulletins.services import bulletin_fanout


@task(priority=-10)
def bulletin_fanout_task(bulletin_id: int) -> int:
    return bulletin_fanout(bulletin_id)
