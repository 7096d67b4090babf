"""The person's identities from several stores add up as sets: an anonymous id
that PostgreSQL and ClickHouse both hold, shared with someone else, is one."""

from application.identities import Identities


def test_a_shared_anonymous_id_found_in_two_stores_is_passed_over_once() -> None:
    postgresql = Identities("alice", frozenset({"anon-a"}), frozenset({"1"}), frozenset({"tab"}))
    clickhouse = Identities("alice", frozenset({"anon-a"}), frozenset({"1"}), frozenset({"tab"}))

    both = postgresql.merged(clickhouse)

    assert both.counts() == {
        "userIds": 1,
        "anonymousIds": 1,
        "sessionIds": 1,
        "sharedAnonymousIds": 1,
    }
