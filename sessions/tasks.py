"""Celery entry point of the data lifecycle; the embedded runtime runs it on the same schedule."""

from celery import shared_task

from graylogic.outages import quiet_while_database_down
from sessions.pruning import retention_prune


@shared_task
@quiet_while_database_down
def prune_old_data() -> dict[str, int] | None:
    return retention_prune()
