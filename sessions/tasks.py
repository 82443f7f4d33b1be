"""Celery entry point of the data lifecycle; the embedded runtime runs it on the same schedule."""

from celery import shared_task

from sessions.pruning import retention_prune


@shared_task
def prune_old_data() -> dict[str, int]:
    return retention_prune()
