"""The debounce rule, stated once: at most one run per site queued or running, and a request
meanwhile makes exactly one more run after it (not lost, and not a second run inside the
site's min_interval_s). The in-process marks apply these functions; the Redis marks mirror
them in Lua (marks.py), and tests/energy/test_rebalance_rule.py holds both to one table."""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class SiteMarks:
    """What a runtime remembers of one site between its requests and runs."""

    queued: bool = False  # a run waits for its interval or its batch, or is under way
    asked_again: str | None = None  # the trigger of a request made meanwhile


NO_MARKS = SiteMarks()


def on_request(marks: SiteMarks, *, trigger: str) -> tuple[SiteMarks, str | None]:
    """A run to queue (its trigger) when none is; otherwise the request waits for the next."""
    if not marks.queued:
        return replace(marks, queued=True), trigger
    return replace(marks, asked_again=trigger), None


def on_run_starting(marks: SiteMarks) -> SiteMarks:
    """The run reads everything after this: requests until now are covered by it."""
    return replace(marks, asked_again=None)


def on_run_finished(marks: SiteMarks) -> tuple[SiteMarks, str | None]:
    """One more run (the latest request's trigger) if the site was asked for during this one."""
    if marks.asked_again is not None:
        return SiteMarks(queued=True), marks.asked_again
    return NO_MARKS, None
