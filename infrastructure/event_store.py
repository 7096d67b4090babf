"""The eventsourcing application on the configured database, with the msgspec mapper."""

from application.event_log import JobLog
from infrastructure.database_url import DatabaseUrl

MAPPER_TOPIC = "infrastructure.mapper:MsgspecMapper"
RECORDER_TOPICS = {
    "sqlite": "infrastructure.chain:ChainedSQLiteApplicationRecorder",
    "postgresql": "infrastructure.chain:ChainedPostgresApplicationRecorder",
}


def open_job_log(
    url: DatabaseUrl, create_tables: bool = False, pool_size: int = 5, max_overflow: int = 10
) -> JobLog:
    env = dict(url.eventsourcing_env)
    env["POSTGRES_POOL_SIZE"] = str(pool_size)
    env["POSTGRES_MAX_OVERFLOW"] = str(max_overflow)
    env["MAPPER_TOPIC"] = MAPPER_TOPIC
    env["APPLICATION_RECORDER_TOPIC"] = RECORDER_TOPICS[url.backend]
    env["CREATE_TABLE"] = "y" if create_tables else "n"
    # Recently used aggregates stay in memory and are brought up to date with only
    # the events appended since (fast-forward): a running job is loaded once per
    # batch, and must not be re-read from its first event every time.
    env["AGGREGATE_CACHE_MAXSIZE"] = "2000"
    return JobLog(env=env)
