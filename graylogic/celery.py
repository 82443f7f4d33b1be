"""The Celery app. Workers and beat run the jobs in CELERY_BEAT_SCHEDULE when scaled out;
the embedded server runs the same tasks in-process (graylogic/embedded_jobs.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graylogic.settings")

app = Celery("graylogic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
