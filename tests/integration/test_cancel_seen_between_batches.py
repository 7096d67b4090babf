"""A cancel stops a running job within one batch, whatever is appended to the job
after the cancel (an operator's search for remains, a lost attempt's account)."""

from application.ports import DeletionTarget
from application.remains import FINDER
from application.runner import RunResult
from domain.job import Job, job_aggregate_id
from domain.remains import RemainsPlace
from infrastructure.session_store import seed_sessions
from tests.runner_support import RunnerKit, WrappedTarget, due


class CancelThenSearchDuringSecondBatch(WrappedTarget):
    """The job is cancelled while its second batch runs, and the operator, seeing it
    cancelled, at once searches for what is left of the person (`jobtrail targets
    find`), which keeps the search on the cancelled job."""

    def __init__(self, inner: DeletionTarget, kit: RunnerKit, job_id: int) -> None:
        super().__init__(inner)
        self._kit = kit
        self._job_id = job_id
        self.batches = 0

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        self.batches += 1
        if self.batches == 2:
            self._kit.commands.cancel(project_id, self._job_id, "key:impatient")
            place = RemainsPlace("target", "sessions", 40, "rows", "sessions")
            self._kit.commands.record_remains_search(self._job_id, FINDER, [place], {"user ids": 1})
        return self._inner.delete_batch(project_id, user_id, limit)


def test_a_cancel_followed_by_a_search_for_remains_still_stops_the_worker_within_one_batch(
    kit: RunnerKit,
) -> None:
    seed_sessions(kit.services.database, 1, ["changed-mind"], 60, kit.recordings)
    job_id = kit.schedule("changed-mind")
    [real] = kit.targets(batch_size=10)
    target = CancelThenSearchDuringSecondBatch(real, kit, job_id)
    # Receipts every hour: between records, the worker looks for a cancel in the log.
    runner = kit.runner(batch_size=10, targets=[target], record_interval=3600)

    assert runner.run(due(kit, job_id)) is RunResult.CANCELLED
    assert target.batches == 2  # the batch that ran across the cancel, and no other
    assert kit.session_count("changed-mind") == 40
    events = list(kit.services.log.events.get(job_aggregate_id(job_id)))
    assert sum(e.deleted["sessions"] for e in events if isinstance(e, Job.BatchDeleted)) == 20
