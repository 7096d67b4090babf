"""The event log's own figures (4 and 5): rebuilding the read model and verifying the
hash chain, each against raw reads of the same rows."""

import time
from pathlib import Path

from api.composition import Services
from bench.data import fill_log
from bench.databases import Sizes, database, services_on
from bench.harness import Figure
from infrastructure.chain import verify_chain
from infrastructure.rebuild import Rebuild

LOG_ROUNDS = 2


def log_scenarios(backend: str, workdir: Path, sizes: Sizes) -> list[Figure]:
    """Figures 4 and 5: rebuild and verify, each against raw reads of the same rows.

    Each rate is the best of LOG_ROUNDS runs, the baseline's and the tool's taken in
    turn, so that a pause of this shared machine during one run does not decide
    the ratio."""
    rates: dict[str, float] = {}
    with database(backend, workdir, "log") as url, services_on(url) as services:
        events = fill_log(services, sizes.events)

        def measure(name: str, action: object) -> None:
            rates[name] = max(rates.get(name, 0.0), rate(events, action))

        reports: list[object] = []
        for _ in range(LOG_ROUNDS):
            measure("raw_decode", lambda: _read_all(services, decode=True))
            measure(
                "rebuild",
                lambda: Rebuild(services.log, services.database, batch_size=5000).run(),
            )
            measure("raw_read", lambda: _read_all(services, decode=False))
            measure("verify", lambda: reports.append(verify_chain(services.log, services.database)))
        assert reports and all(getattr(report, "intact", False) for report in reports)
    rebuild, raw_decode = rates["rebuild"], rates["raw_decode"]
    verify, raw_read = rates["verify"], rates["raw_read"]
    return [
        Figure(
            "4",
            f"projection rebuild over {events:,} events, {backend} (vs raw read+decode)",
            rebuild,
            raw_decode,
            "events/s",
            ">= 0.5",
            rebuild / raw_decode >= 0.5,
        ),
        Figure(
            "5",
            f"jobtrail verify over {events:,} events, {backend} (vs raw read)",
            verify,
            raw_read,
            "events/s",
            ">= 0.3",
            verify / raw_read >= 0.3,
        ),
    ]


def _read_all(services: Services, decode: bool) -> None:
    after = 0
    recorder, to_event = services.log.recorder, services.log.mapper.to_domain_event
    while page := recorder.select_notifications(start=after, limit=5000, inclusive_of_start=False):
        if decode:
            # Decoding a sealed event needs its data key: the page's keys in one query,
            # as every reader of the log (the rebuild too) fetches them. Without it each
            # event costs a lookup of its own and the baseline flatters the rebuild.
            services.log.prepare_to_decode(page)
            for notification in page:
                to_event(notification)
        after = page[-1].id


def rate(count: int, action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return count / (time.perf_counter() - started)
