"""Prometheus metrics: requests, jobs by status, projection lag, worker progress,
response deadlines.

Each process has its own registry; with several uvicorn workers, scrape each or
aggregate at the collector (the gauges read the shared database and agree).
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from application.epoch import epoch_ms
from domain.deadline import SOON
from domain.lifecycle import JobStatus
from infrastructure.deadline_reads import deadline_figures
from infrastructure.tables import jobs

if TYPE_CHECKING:
    from api.composition import Services

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_HOUR, _DAY = 3600.0, 86_400.0
COMPLETION_BUCKETS = (
    *(_HOUR, 6 * _HOUR, _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY, 28 * _DAY),
    *(31 * _DAY, 62 * _DAY, 92 * _DAY),  # the law's month; with extensions, three months
)
"""Seconds from a request to its job's completion: from an hour to three months."""


class _StateCollector(Collector):
    """Read at scrape time from the read model and the log."""

    def __init__(self, services: "Services") -> None:
        self._services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily(
            "jobtrail_jobs", "Jobs in the read model, by status", labels=["status"]
        )
        with self._services.database.reader() as conn:
            counts: dict[str, int] = dict(
                conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
            )
        for status in JobStatus:
            by_status.add_metric([status.value], counts.get(status.value, 0))
        yield by_status
        head = self._services.log.head()
        lag = GaugeMetricFamily(
            "jobtrail_projection_lag_events",
            "Events in the log not yet in the projection",
            labels=["projection"],
        )
        stopped = GaugeMetricFamily(
            "jobtrail_projection_stopped",
            "1 when the projection is stopped on an error",
            labels=["projection"],
        )
        for record in self._services.projection_store.records():
            lag.add_metric([record.name], head - record.position)
            stopped.add_metric([record.name], 1 if record.state == "stopped" else 0)
        yield lag
        yield stopped
        yield from _deadline_metrics(self._services)


def _deadline_metrics(services: "Services") -> Iterator[Any]:
    """From the read model at scrape time, like the gauges above: every process that
    serves /metrics says the same, and a completion counts however it was run."""
    now = services.clock.now()
    figures = deadline_figures(
        services.database, epoch_ms(now), epoch_ms(now + SOON), COMPLETION_BUCKETS
    )
    yield GaugeMetricFamily(
        "jobtrail_jobs_overdue", "Jobs past their response deadline, not answered", figures.overdue
    )
    yield GaugeMetricFamily(
        "jobtrail_jobs_due_soon", "Jobs not answered, due within 7 days", figures.soon
    )
    yield GaugeMetricFamily(
        "jobtrail_jobs_answered_late", "Jobs completed after their deadline", figures.answered_late
    )
    yield HistogramMetricFamily(
        "jobtrail_request_to_completion_seconds",
        "Time from a deletion request to its job's completion",
        buckets=[(f"{bound:g}", count) for bound, count in figures.completion_buckets]
        + [("+Inf", figures.completed)],
        sum_value=figures.completion_seconds,
    )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "jobtrail_http_requests",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "jobtrail_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.batches = Counter(
            "jobtrail_worker_batches",
            "Deletion batches run by this process's worker",
            registry=self.registry,
        )
        self.deleted = Counter(
            "jobtrail_deleted",
            "Rows or files deleted by this process's worker",
            ["target"],
            registry=self.registry,
        )

        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        # Label lookups cost more than the increments: keep the children per series.
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, status),
                self.latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def watch(self, services: "Services") -> None:
        self.registry.register(_StateCollector(services))

    def observe_batch(self, deleted: dict[str, int]) -> None:
        self.batches.inc()
        for target, count in deleted.items():
            self.deleted.labels(target).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
