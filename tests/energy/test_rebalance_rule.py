"""The debounce rule of event-driven control runs, stated once (energy/rebalance/rule.py):
one table of requests and runs, held against the rule itself, the in-process marks and the
Redis marks (its Lua mirror), then each runtime shown to follow its marks."""

import asyncio
import threading

import pytest
import redis

from energy import services
from energy.locks import LocalSiteLocks
from energy.rebalance.in_process import InProcessRebalancer
from energy.rebalance.marks import LocalMarks, RedisMarks
from energy.rebalance.rule import NO_MARKS, on_request, on_run_finished, on_run_starting
from energy.rebalance.scaled import SITE_RUN_TASK, CeleryRebalancer
from tests.factories import make_site
from tests.services import require_service

REDIS_URL = "redis://127.0.0.1:6379/15"
SITE = 7

# Each case: steps, and what each step answers: the trigger of a run to queue, or None.
# ("ask", trigger): a request; "start" / "finish": a queued run starting and done;
# "forget": the marks dropped (a queued run that will not happen, or Redis's marks lapsing).
RULE = {
    "a first request queues a run": ([("ask", "a")], ["a"]),
    "a request while a run is queued waits for it": ([("ask", "a"), ("ask", "b")], ["a", None]),
    "a run covers the requests made before it starts": (
        [("ask", "a"), ("ask", "b"), "start", "finish"],
        ["a", None, None, None],
    ),
    "a request during a run makes one more run after it": (
        [("ask", "a"), "start", ("ask", "b"), "finish"],
        ["a", None, None, "b"],
    ),
    "many requests during a run make one more run, for the latest": (
        [("ask", "a"), "start", ("ask", "b"), ("ask", "c"), "finish"],
        ["a", None, None, None, "c"],
    ),
    "requests wait for the run after as for any run": (
        [("ask", "a"), "start", ("ask", "b"), "finish", ("ask", "c")],
        ["a", None, None, "b", None],
    ),
    "once the run after is done nothing is queued": (
        [("ask", "a"), "start", ("ask", "b"), "finish", "start", "finish", ("ask", "c")],
        ["a", None, None, "b", None, None, "c"],
    ),
    "a request after a run is done queues a new run": (
        [("ask", "a"), "start", "finish", ("ask", "b")],
        ["a", None, None, "b"],
    ),
    "a run done with nothing asked queues nothing": (
        [("ask", "a"), "start", "finish", "finish"],
        ["a", None, None, None],
    ),
    "forgotten marks let the next request queue a run": (
        [("ask", "a"), ("ask", "b"), "forget", ("ask", "c")],
        ["a", None, None, "c"],
    ),
}


def _rule_answers(steps) -> list[str | None]:
    marks, answers = NO_MARKS, []
    for step in steps:
        run = None
        if step == "start":
            marks = on_run_starting(marks)
        elif step == "finish":
            marks, run = on_run_finished(marks)
        elif step == "forget":
            marks = NO_MARKS
        else:
            marks, run = on_request(marks, trigger=step[1])
        answers.append(run)
    return answers


def _store_answers(store: LocalMarks | RedisMarks, steps) -> list[str | None]:
    answers = []
    for step in steps:
        run = None
        if step == "start":
            store.starting(SITE)
        elif step == "finish":
            run = store.finished(SITE, hold_s=60)
        elif step == "forget":
            store.forget(SITE)
        else:
            run = store.request(SITE, step[1], hold_s=60)
        answers.append(run)
    return answers


@pytest.fixture
def redis_client():
    require_service("Redis", "127.0.0.1", 6379)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.mark.parametrize(("steps", "answers"), RULE.values(), ids=RULE.keys())
def test_the_rule_answers_as_the_table_says(steps, answers):
    assert _rule_answers(steps) == answers


@pytest.mark.parametrize(("steps", "answers"), RULE.values(), ids=RULE.keys())
def test_the_in_process_marks_follow_the_table(steps, answers):
    assert _store_answers(LocalMarks(), steps) == answers


@pytest.mark.parametrize(("steps", "answers"), RULE.values(), ids=RULE.keys())
def test_the_redis_marks_follow_the_table(redis_client, steps, answers):
    assert _store_answers(RedisMarks(redis_client), steps) == answers


def test_redis_marks_lapse_after_their_hold_so_a_lost_task_does_not_block_its_site(redis_client):
    marks = RedisMarks(redis_client)
    marks.request(SITE, "a", hold_s=30)
    marks.request(SITE, "b", hold_s=30)
    assert all(0 < redis_client.ttl(key) <= 30 for key in RedisMarks.keys(SITE))
    marks.starting(SITE)
    marks.request(SITE, "c", hold_s=30)
    assert marks.finished(SITE, hold_s=5) == "c"
    assert 0 < redis_client.ttl(RedisMarks.keys(SITE)[0]) <= 5


def test_in_process_marks_keep_no_site_that_is_not_queued():
    marks = LocalMarks()
    for site in range(100):
        marks.request(site, "a", hold_s=0)
        marks.starting(site)
        marks.finished(site, hold_s=0)
    marks.request(1, "a", hold_s=0)
    marks.forget(1)
    assert marks._by_site == {}


@pytest.mark.django_db(transaction=True)
def test_the_in_process_runtime_runs_once_more_for_a_request_during_its_run(monkeypatch):
    site = make_site(min_interval_s=0)
    runtime = InProcessRebalancer()
    runs: list[dict[int, str]] = []
    started, release = threading.Event(), threading.Event()

    def recorded_run(**kwargs):
        runs.append(kwargs["site_triggers"])
        started.set()
        release.wait(10)
        return {}

    monkeypatch.setattr(services, "sites_control_run", recorded_run)

    async def scenario():
        await runtime.request_async(site.pk, "a")
        await runtime.request_async(site.pk, "b")  # before the run starts: covered by it
        await asyncio.to_thread(started.wait, 10)
        await runtime.request_async(site.pk, "c")
        await runtime.request_async(site.pk, "d")
        release.set()
        while len(asyncio.all_tasks()) > 1:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert runs == [{site.pk: "a"}, {site.pk: "d"}]


@pytest.mark.django_db
def test_the_celery_runtime_queues_once_more_for_a_request_during_its_run(redis_client):
    site = make_site(min_interval_s=0)
    queued: list[tuple[str, list, float]] = []
    runtime = CeleryRebalancer(
        marks=RedisMarks(redis_client),
        send_task=lambda name, *, args, countdown: queued.append((name, args, countdown)),
    )

    runtime.request(site.pk, "a")
    runtime.request(site.pk, "b")  # before the run starts: covered by it
    runtime.run_starting(site.pk)  # the worker takes the task
    runtime.request(site.pk, "c")
    runtime.request(site.pk, "d")
    runtime.run_finished(site.pk, min_interval_s=site.min_interval_s)
    runtime.run_starting(site.pk)
    runtime.run_finished(site.pk, min_interval_s=site.min_interval_s)

    assert queued == [(SITE_RUN_TASK, [site.pk, "a"], 0.0), (SITE_RUN_TASK, [site.pk, "d"], 0.0)]
    assert not redis_client.exists(*RedisMarks.keys(site.pk))


def test_a_site_lock_is_held_by_one_thread_at_a_time_and_kept_only_while_in_use():
    locks = LocalSiteLocks()
    inside, most_inside, counting = 0, 0, threading.Lock()

    def run():
        nonlocal inside, most_inside
        for _ in range(200):
            with locks.hold(SITE):
                with counting:
                    inside += 1
                    most_inside = max(most_inside, inside)
                with counting:
                    inside -= 1

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most_inside == 1
    assert locks._by_site == {}
