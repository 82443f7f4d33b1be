from celery import shared_task

from chargers.services import chargers_mark_stale
from graylogic.outages import quiet_while_database_down


@shared_task
@quiet_while_database_down
def sweep_stale_chargers() -> int | None:
    return chargers_mark_stale()
