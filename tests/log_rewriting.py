"""Rewriting the log behind jobtrail's back, as someone who can write to its database
but does not hold the signing key would: what the proof tests do to it."""

from sqlalchemy import text

from api.composition import Services
from domain.job import job_aggregate_id
from infrastructure.chain import GENESIS, chain_links, verify_chain
from infrastructure.log_tree import LogTree


def position(services: Services) -> str:
    return "rowid" if services.database.backend == "sqlite" else "notification_id"


def sql(services: Services, statement: str, **values: object) -> None:
    names = {"events": services.database.url.events_table, "position": position(services)}
    with services.database.writer() as conn:
        conn.execute(text(statement.format(**names)), values)


def positions_of(services: Services, job_id: int) -> list[int]:
    stored = services.log.recorder.select_positioned_events(  # type: ignore[attr-defined]
        job_aggregate_id(job_id)
    )
    return [event.id for event in stored]


def insert_copy(services: Services, at: int, copy_of: int) -> None:
    """A copy of the event at ``copy_of`` (as a later version of its aggregate) slipped
    into the log at position ``at``, the events from there on moved up one place."""
    move = "UPDATE {events} SET {position} = {position} + :by WHERE {position} >= :p"
    sql(services, move, by=1000, p=at)
    sql(services, move, by=-999, p=at + 1000)
    source = copy_of + 1 if copy_of >= at else copy_of
    sql(
        services,
        "INSERT INTO {events} ({position}, originator_id, originator_version, topic, state) "
        "SELECT :at, originator_id, originator_version + 100, topic, state FROM {events} "
        "WHERE {position} = :p",
        at=at, p=source,
    )  # fmt: skip


def recompute_chain_and_tree(services: Services) -> None:
    """What someone with the database, but not the signing key, does to cover a
    rewrite: a new chain and a new tree over the log as it now is."""
    sql(services, "DELETE FROM event_chain")
    sql(services, "DELETE FROM log_leaves")
    sql(services, "DELETE FROM log_nodes")
    events = list(services.log.stored())
    links = chain_links(GENESIS, [e.id for e in events], events)
    with services.database.writer() as conn:
        conn.execute(
            text("INSERT INTO event_chain (position, hash, prev_hash) VALUES (:p, :h, :v)"),
            [{"p": p, "h": h, "v": v} for p, h, v in links],
        )
    LogTree(services.database, services.log).extend()
    assert verify_chain(services.log, services.database).intact  # the chain alone is fooled


def edit_state(services: Services, at: int, was: bytes, now: bytes) -> None:
    names = {"events": services.database.url.events_table, "position": position(services)}
    with services.database.writer() as conn:
        state = bytes(
            conn.execute(
                text("SELECT state FROM {events} WHERE {position} = :p".format(**names)), {"p": at}
            ).scalar_one()
        )
        assert was in state
        conn.execute(
            text("UPDATE {events} SET state = :s WHERE {position} = :p".format(**names)),
            {"s": state.replace(was, now), "p": at},
        )
