"""Reading over HTTP (figures 2, 3a, 3b, 10, 10b and 11): one job (at 16 and 64
connections), a page of 50, and the whole unpaged list, jobtrail against the constant
endpoint, the CRUD peer, and itself at a larger volume."""

from pathlib import Path

import httpx2 as httpx

from bench.data import credentials, fill_read_model
from bench.databases import PeerDatabase, Sizes, database, services_on
from bench.generators import CONNECTIONS
from bench.harness import Figure, rss_kib
from bench.runs import Run, run, versus_peer
from bench.servers import Server, jobtrail_server

GET = "/api/v1/{project}/jobs/{{id}}"
PAGE = "/api/v1/{project}/jobs?page=1&limit=50"


MANY_CONNECTIONS = 64
"""Figure 10b's load, as figure 9b's."""


def _reads(
    server: Server,
    project_key: str,
    api_key: str,
    sizes: Sizes,
    path: str,
    connections: int = CONNECTIONS,
) -> Run:
    auth = {"Authorization": api_key}
    path = path.format(project=project_key)
    jobs = sizes.small_read_model
    return run(server, "GET", path, sizes.seconds, sizes.warmup, auth, jobs, connections)


def reading(
    backend: str,
    workdir: Path,
    sizes: Sizes,
    constant: Run,
    peer: Server | None,
    peer_db: PeerDatabase | None,
) -> list[Figure]:
    """Every GET figure; the peer's runs (jobs 1..small_read_model, as jobtrail's)
    go right before jobtrail's."""

    def peer_reads(path: str, connections: int = CONNECTIONS) -> Run | None:
        if peer is None or peer_db is None:
            return None
        keys = (peer_db.reads_project, peer_db.tenant.api_key)
        return _reads(peer, *keys, sizes, path, connections)

    figures: list[Figure] = []
    with database(backend, workdir, "reads") as url, services_on(url) as services:
        api_key, project_key, project_id = credentials(services)
        fill_read_model(services, project_id, sizes.small_read_model)
        with jobtrail_server(url, workdir) as server:
            peer_get = peer_reads(GET)
            get = _reads(server, project_key, api_key, sizes, GET)
            peer_get_many = peer_reads(GET, MANY_CONNECTIONS)
            get_many = _reads(server, project_key, api_key, sizes, GET, MANY_CONNECTIONS)
            peer_page = peer_reads(PAGE)
            small_page = _reads(server, project_key, api_key, sizes, PAGE)
            # The same project on the same server, grown to the large volume.
            more = sizes.large_read_model - sizes.small_read_model
            fill_read_model(services, project_id, more, first_id=sizes.small_read_model + 1)
            large_page = _reads(server, project_key, api_key, sizes, PAGE)
            growth_mib = 0.0
            if sizes.large_read_model >= sizes.stream_jobs:
                growth_mib = _stream_growth(server, project_key, api_key)
    figures.append(
        Figure(
            "2",
            f"GET /jobs/{{jobId}}, {backend} (vs constant endpoint)",
            get.rps,
            constant.rps,
            "req/s",
            ">= 0.35",
            get.rps / constant.rps >= 0.35,
            f"{get.describe('jobtrail')}; {constant.describe('constant')}",
            get.latency,
            constant.latency,
        )
    )
    if peer_get is not None and peer_get_many is not None and peer_page is not None:
        name = f"GET /jobs/{{jobId}}, {backend} (vs CRUD peer on PostgreSQL)"
        figures.append(versus_peer("10", name, get, peer_get))
        name = f"GET /jobs/{{jobId}}, {backend}, {MANY_CONNECTIONS} connections (vs CRUD peer)"
        figures.append(versus_peer("10b", name, get_many, peer_get_many))
        name = (
            f"GET /jobs?page=1&limit=50 of {sizes.small_read_model:,} jobs, {backend} "
            "(vs CRUD peer on PostgreSQL)"
        )
        figures.append(versus_peer("11", name, small_page, peer_page))
    return figures + _at_scale(backend, sizes, small_page, large_page, growth_mib)


def _at_scale(
    backend: str, sizes: Sizes, small_page: Run, large_page: Run, growth_mib: float
) -> list[Figure]:
    """Figures 3a and 3b: the same page, and the unpaged list, at the large volume."""
    small, large = small_page.load.p99_ms, large_page.load.p99_ms
    compared = f"{sizes.large_read_model:,} vs {sizes.small_read_model:,} jobs"
    return [
        Figure(
            "3a",
            f"GET /jobs?page=1&limit=50 p99, {compared}, {backend}",
            large,
            small,
            "ms",
            "<= 1.5",
            large / small <= 1.5,
            f"{large_page.describe(f'{sizes.large_read_model:,} jobs')}; "
            f"{small_page.describe(f'{sizes.small_read_model:,} jobs')}",
        ),
        Figure(
            "3b",
            f"GET /jobs unpaged ({sizes.large_read_model:,} jobs): peak RSS growth, {backend}",
            growth_mib,
            50,
            "MiB",
            "< 50 MiB",
            growth_mib < 50,
        ),
    ]


def _stream_growth(server: Server, project_key: str, api_key: str) -> float:
    before = rss_kib(server.pid, "VmHWM")
    received = 0
    with httpx.stream(
        "GET",
        f"{server.url}/api/v1/{project_key}/jobs",
        headers={"Authorization": api_key},
        timeout=300,
    ) as response:
        for chunk in response.iter_bytes():
            received += len(chunk)
    assert received > 0
    return (rss_kib(server.pid, "VmHWM") - before) / 1024
