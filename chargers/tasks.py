from celery import shared_task

from chargers.services import chargers_mark_stale


@shared_task
def sweep_stale_chargers() -> int:
    return chargers_mark_stale()
