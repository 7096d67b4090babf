"""The worker loop: find due jobs in the read model and run them, until stopped."""

import logging
import random
import threading
import time
from collections.abc import Callable

from application.epoch import epoch_ms
from application.ports import Clock, JobsReadModel
from application.runner import JobRunner, RunResult

log = logging.getLogger("jobtrail.worker")
DUE_BATCH = 100


class Worker:
    def __init__(
        self,
        runner: JobRunner,
        read_model: JobsReadModel,
        clock: Clock,
        catch_up: Callable[[], object],
        stopping: threading.Event,
        forget: Callable[[], object] = lambda: None,
        forget_interval: float = 600.0,
        checkpoint: Callable[[], object] = lambda: None,
        checkpoint_interval: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runner = runner
        self._read_model = read_model
        self._clock = clock
        self._catch_up = catch_up
        self._stopping = stopping
        self._forget = forget
        self._forget_interval = forget_interval
        self._forgotten_at: float | None = None
        self._checkpoint = checkpoint
        self._checkpoint_interval = checkpoint_interval
        self._checkpointed_at: float | None = None
        self._monotonic = monotonic  # what the intervals are measured by

    @property
    def worker_id(self) -> str:
        return self._runner.worker_id

    def run_due_jobs(self) -> dict[RunResult, int]:
        """Runs every job that is due now; returns how each attempt ended."""
        results: dict[RunResult, int] = {}
        passed_over: set[int] = set()
        while not self._stopping.is_set():
            self._catch_up()
            due = [
                job
                for job in self._read_model.due(epoch_ms(self._clock.now()), DUE_BATCH)
                if job.job_id not in passed_over
            ]
            if not due:
                break
            # Workers that see the same list start from different places.
            random.shuffle(due)
            for job in due:
                if self._stopping.is_set():
                    break
                result = self._runner.run(job)
                results[result] = results.get(result, 0) + 1
                if result is RunResult.COMPLETED:
                    # The deletion's proof is signed as soon as it exists (ADR 27).
                    self._sign_checkpoint()
                if result in (RunResult.SKIPPED, RunResult.LOST, RunResult.RELEASED):
                    passed_over.add(job.job_id)
        self._catch_up()
        return results

    def run_until_stopped(self, poll_interval: float) -> None:
        while not self._stopping.is_set():
            try:
                self.run_due_jobs()
            except Exception:
                log.exception("worker pass failed; retrying")
            self._forget_when_due()
            self._checkpoint_when_due()
            self._stopping.wait(poll_interval)

    def _checkpoint_when_due(self) -> None:
        now = self._monotonic()
        last = self._checkpointed_at
        if last is None or now - last >= self._checkpoint_interval:
            self._sign_checkpoint()

    def _sign_checkpoint(self) -> None:
        self._checkpointed_at = self._monotonic()
        try:
            signed = self._checkpoint()
        except Exception:
            log.exception("signing a checkpoint failed; the next one tries again")
            return
        if signed is not None:
            log.info("signed a checkpoint of the log: %s", signed)

    def _forget_when_due(self) -> None:
        """Every forget_interval, the users whose jobs are long over are forgotten."""
        now = self._monotonic()
        if self._forgotten_at is not None and now - self._forgotten_at < self._forget_interval:
            return
        self._forgotten_at = now
        try:
            report = self._forget()
        except Exception:
            log.exception("forgetting failed; the next round tries again")
            return
        for damaged in getattr(report, "damaged", ()):
            # Contained (ADR 17): the round went on with every other user.
            log.error("forgetting passed over a damaged record: %s", damaged)
        if getattr(report, "anything", False):
            log.info("forgot personal data: %s", report)
