"""Prometheus metrics: requests, jobs by status, projection lag, worker progress,
response deadlines.

Each process has its own registry; with several uvicorn workers, scrape each or
aggregate at the collector (the gauges read the shared database and agree).
"""

import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
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


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
"""Upper bounds, in seconds, of the request latency histogram's buckets (+Inf after)."""


class _Requests(Collector):
    """Requests by route, method and status, and their latency by route and method:
    the series prometheus-client's Counter and Histogram would expose, sample for
    sample, counted in plain lists instead. A Counter and a Histogram take a lock per
    value and a Python loop over the buckets on every request; here a request is a
    dictionary look-up, a bisection and three additions.

    Counted on the event loop's thread only (``api.middleware.Observe``), read by the
    scrape's: the additions need no lock, and a new series is put in the dictionaries
    whole, after it is made."""

    _LE = (*(floatToGoString(bound) for bound in LATENCY_BUCKETS), "+Inf")  # type: ignore[no-untyped-call]

    def __init__(self) -> None:
        # (route, method, status) -> ([count], latency of (route, method))
        self.series: dict[tuple[str, str, int], tuple[list[int], list[float]]] = {}
        # (route, method) -> [count in each bucket (not cumulated), ..., +Inf, sum]
        self.latencies: dict[tuple[str, str], list[float]] = {}
        self.created: dict[tuple[Any, ...], float] = {}

    def new_series(self, route: str, method: str, status: int) -> tuple[list[int], list[float]]:
        latency = self.latencies.get((route, method))
        if latency is None:
            latency = [0.0] * (len(LATENCY_BUCKETS) + 2)
            self.created[(route, method)] = time.time()
            self.latencies[(route, method)] = latency
        series = ([0], latency)
        self.created[(route, method, status)] = time.time()
        self.series[(route, method, status)] = series
        return series

    def describe(self) -> Iterator[Any]:
        yield CounterMetricFamily("jobtrail_http_requests", "HTTP requests")
        yield HistogramMetricFamily(
            "jobtrail_http_request_duration_seconds", "HTTP request latency"
        )

    def collect(self) -> Iterator[Any]:
        with_created = getattr(prometheus_metrics, "_use_created", True)
        requests = CounterMetricFamily(
            "jobtrail_http_requests", "HTTP requests", labels=["route", "method", "status"]
        )
        for (route, method, status), (count, _) in list(self.series.items()):
            requests.add_metric(
                [route, method, str(status)],
                float(count[0]),
                created=self.created[(route, method, status)] if with_created else None,
            )
        yield requests
        latency = HistogramMetricFamily(
            "jobtrail_http_request_duration_seconds",
            "HTTP request latency",
            labels=["route", "method"],
        )
        for (route, method), values in list(self.latencies.items()):
            *in_buckets, total = values
            cumulated, buckets = 0.0, []
            for le, in_bucket in zip(self._LE, in_buckets, strict=True):
                cumulated += in_bucket
                buckets.append((le, cumulated))
            latency.add_metric([route, method], buckets, total)
            if with_created:
                latency.add_sample(
                    latency.name + "_created",
                    {"route": route, "method": method},
                    self.created[(route, method)],
                )
        yield latency


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = _Requests()
        self.registry.register(self._requests)
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

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """On the event loop's thread (see _Requests)."""
        requests = self._requests
        series = requests.series.get((route, method, status))
        if series is None:
            series = requests.new_series(route, method, status)
        count, latency = series
        count[0] += 1
        # The first bucket whose bound the duration does not exceed; past the last, +Inf.
        latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency[-1] += seconds

    def watch(self, services: "Services") -> None:
        self.registry.register(_StateCollector(services))

    def observe_batch(self, deleted: dict[str, int]) -> None:
        self.batches.inc()
        for target, count in deleted.items():
            self.deleted.labels(target).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
