"""graylogic/outages.py: an outage is logged when it starts, once per interval, and when it ends."""

import logging
from importlib import import_module

import pytest
from django.conf import settings
from django.db import OperationalError, connection

from graylogic import embedded_jobs, outages


def test_an_outage_is_logged_once_per_interval_and_when_it_ends(caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: clock[0])
    log = outages.OutageLog(logging.getLogger("test.outage"), "database", interval_s=60)
    error = OperationalError("connection refused")

    with caplog.at_level(logging.WARNING, logger="test.outage"):
        for _ in range(500):  # 500 failures within the first interval: one line
            log.failed(error)
            clock[0] += 0.1
        assert [r.getMessage() for r in caplog.records] == ["database unavailable: connection refused"]
        assert log.ongoing

        clock[0] += 20  # past the interval: one more line, counting the quiet ones
        log.failed(error)
        assert caplog.records[-1].getMessage() == (
            "database still unavailable after 70 s (499 failures not logged): connection refused"
        )

        clock[0] += 5
        log.recovered()
        log.recovered()  # a second success logs nothing more
        assert caplog.records[-1].getMessage() == "database available again after 75 s"
        assert len(caplog.records) == 3
        assert not log.ongoing


def test_a_success_without_an_outage_logs_nothing(caplog):
    log = outages.OutageLog(logging.getLogger("test.outage"), "database")
    with caplog.at_level(logging.DEBUG, logger="test.outage"):
        log.recovered()
    assert caplog.records == []


@pytest.mark.parametrize(
    ("previous_s", "database_down", "expected_s"),
    [
        (1.0, False, 1.0),  # normal: once a second
        (8.0, False, 1.0),  # back: at once to normal
        (1.0, True, 2.0),  # down: doubling
        (4.0, True, 8.0),
        (8.0, True, 8.0),  # capped, so recovery is noticed within 8 s
    ],
)
def test_the_embedded_jobs_wait_longer_while_the_database_is_down(previous_s, database_down, expected_s):
    assert embedded_jobs.next_wait_s(previous_s, database_down=database_down) == expected_s


def test_a_task_run_while_the_database_is_down_is_counted_not_raised(caplog, monkeypatch):
    monkeypatch.setattr(outages, "database_outage", outages.OutageLog(logging.getLogger("test.db"), "database"))
    calls = []

    @outages.quiet_while_database_down
    def job():
        calls.append(1)
        if len(calls) <= 3:
            raise OperationalError("server closed the connection unexpectedly")
        return "ran"

    with caplog.at_level(logging.INFO, logger="test.db"):
        assert [job() for _ in range(4)] == [None, None, None, "ran"]
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable: server closed the connection unexpectedly",
        "database available again after 0 s",
    ]


def _database_down(execute, sql, params, many, context):
    raise OperationalError("connection refused")


@pytest.mark.django_db
@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_every_scheduled_job_run_while_the_database_is_down_is_counted_not_raised(entry, monkeypatch):
    monkeypatch.setattr(outages, "database_outage", outages.OutageLog(logging.getLogger("test.db"), "database"))
    module, _, name = settings.CELERY_BEAT_SCHEDULE[entry]["task"].rpartition(".")
    task = getattr(import_module(module), name)
    with connection.execute_wrapper(_database_down):
        assert task() is None
    assert outages.database_outage.ongoing
