"""What must hold of any log jobtrail writes, however the commands raced."""

from collections.abc import Sequence
from typing import Any

from api.composition import Services
from application.audit import compare, refold_all
from application.event_log import Undecodable
from domain.job import Job
from infrastructure.chain import verify_chain

TERMINAL = (Job.Completed, Job.Failed, Job.Cancelled)
_NEXT: dict[str, set[type]] = {
    "scheduled": {Job.Started, Job.Cancelled},
    "running": {
        Job.BatchDeleted,
        Job.LateBatchDeleted,
        Job.LeaseRenewed,
        Job.TakenOver,
        Job.LeaseReleased,
        Job.Completed,
        Job.Failed,
        Job.Cancelled,
    },
    "cancelled after running": {Job.BatchDeleted, Job.LateBatchDeleted, Job.RemainsSearched},
    "cancelled": {Job.RemainsSearched},
    # A worker that lost the job, or whose own record failed, still counts what it
    # deleted, and a search for what is left may be kept: accounts may follow the
    # end, nothing else may.
    "completed": {Job.LateBatchDeleted, Job.RemainsSearched},
    "failed": {Job.LateBatchDeleted, Job.RemainsSearched},
}


def illegal_step(events: Sequence[Any]) -> str | None:
    """Why this job's history is not a legal sequence, or None if it is."""
    if not events or not isinstance(events[0], Job.Scheduled):
        return "does not start with Scheduled"
    state, started = "scheduled", False
    for event in events[1:]:
        if type(event) not in _NEXT[state]:
            return f"{type(event).__name__} after {state}"
        if isinstance(event, Job.Started):
            state, started = "running", True
        elif isinstance(event, Job.Cancelled):
            state = "cancelled after running" if started else "cancelled"
        elif isinstance(event, Job.Completed):
            state = "completed"
        elif isinstance(event, Job.Failed):
            state = "failed"
    if sum(isinstance(e, TERMINAL) for e in events) > 1:
        return "more than one terminal event"
    return None


def check_log(services: Services, require_terminal: bool) -> list[str]:
    """Every violation of the invariants, as sentences; empty when all hold."""
    problems: list[str] = []
    histories: dict[Any, list[Any]] = {}
    active: dict[tuple[int, str], int] = {}
    for logged in services.log.entries():
        event = logged.event
        if isinstance(event, Undecodable):
            problems.append(f"position {logged.position} cannot be decoded: {event.detail}")
            continue
        if not isinstance(event, Job.Event):
            continue
        histories.setdefault(event.originator_id, []).append(event)
        first = histories[event.originator_id][0]
        owner = (first.project_id, first.reference_id)
        if isinstance(event, Job.Scheduled):
            if owner in active:
                problems.append(f"{owner} had jobs {active[owner]} and {event.job_id} active")
            active[owner] = event.job_id
        elif isinstance(event, TERMINAL) and active.get(owner) == first.job_id:
            del active[owner]
    for events in histories.values():
        reason = illegal_step(events)
        if reason:
            problems.append(f"job {events[0].job_id}: {reason}")
        if require_terminal and not any(isinstance(e, TERMINAL) for e in events):
            problems.append(f"job {events[0].job_id}: never ended")
    services.projector.catch_up()
    problems.extend(
        str(m) for m in compare(refold_all(services.log), services.read_model.every_job())
    )
    chain = verify_chain(services.log, services.database)
    if not chain.intact:
        problems.append(f"chain broken at {chain.broken_at}: {chain.reason}")
    return problems
