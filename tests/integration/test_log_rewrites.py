"""History rewritten behind jobtrail's back, before a signed checkpoint, cannot be
certified: the certificate is refused or fails its offline check, whatever was done
to the log (edited, deleted, inserted, reordered, or all of it recomputed with a new
chain and tree), and the checkpoints themselves say the log no longer matches them."""

import pytest

from api.composition import Services
from application.certificate_check import CertificateInvalid
from application.certificate_shape import SignedCheckpoint
from application.certificates import CannotCertify
from infrastructure.checkpoints import consistency_failures
from infrastructure.signing import SigningKey
from tests.certificates import check, completed_job, issue
from tests.log_rewriting import (
    edit_state,
    insert_copy,
    positions_of,
    recompute_chain_and_tree,
    sql,
)
from tests.runner_support import RunnerKit


@pytest.fixture
def signed_job(kit: RunnerKit, key: SigningKey) -> int:
    """A completed job among others, under a signed checkpoint (the auditor's copy of
    which is published), with an honest certificate that verifies."""
    kit.schedule("before@example.com")
    job_id = completed_job(kit)
    kit.schedule("after@example.com")
    kit.services.checkpoints.sign(key)
    check(issue(kit.services, job_id, key), key.public)
    return job_id


def cannot_be_certified(
    services: Services,
    job_id: int,
    key: SigningKey,
    published: list[SignedCheckpoint] | None = None,
) -> str:
    """The certificate is refused, or the one issued fails its offline check: why."""
    try:
        document = issue(services, job_id, key)
    except CannotCertify as refused:
        return str(refused)
    with pytest.raises(CertificateInvalid) as failed:
        check(document, key.public, published or [])
    return str(failed.value)


def edit_receipt(services: Services, job_id: int) -> None:
    """The job's first batch said it deleted 3 sessions: now it says 30."""
    edit_state(services, positions_of(services, job_id)[2], b'"sessions":3', b'"sessions":30')


def test_an_edited_event_of_the_job_fails_the_check(
    kit: RunnerKit, key: SigningKey, signed_job: int
) -> None:
    edit_receipt(kit.services, signed_job)

    with pytest.raises(CertificateInvalid, match="not in the log under the signed checkpoint"):
        check(issue(kit.services, signed_job, key), key.public)


@pytest.mark.parametrize("rewrite", ["edit", "delete", "insert", "reorder"])
def test_any_rewrite_covered_by_a_new_chain_and_tree_fails_the_check(
    kit: RunnerKit, key: SigningKey, signed_job: int, rewrite: str
) -> None:
    services = kit.services
    mine = positions_of(services, signed_job)
    if rewrite == "edit":
        edit_receipt(services, signed_job)
    elif rewrite == "delete":  # another user's request, gone from the log
        sql(services, "DELETE FROM {events} WHERE {position} = :p", p=mine[0] - 1)
    elif rewrite == "insert":  # a copy of the job's last event slipped in before its first
        insert_copy(services, at=mine[0], copy_of=mine[-1])
    else:  # the job's last two events change places
        move = "UPDATE {events} SET {position} = :to WHERE {position} = :p"
        sql(services, move, to=-1, p=mine[-1])
        sql(services, move, to=mine[-1], p=mine[-2])
        sql(services, move, to=mine[-2], p=-1)
    recompute_chain_and_tree(services)

    assert cannot_be_certified(services, signed_job, key)


def test_a_rewrite_re_signed_with_the_stolen_key_fails_against_a_published_checkpoint(
    kit: RunnerKit, key: SigningKey, signed_job: int
) -> None:
    services = kit.services
    published = services.checkpoints.latest()
    assert published is not None
    edit_receipt(services, signed_job)
    recompute_chain_and_tree(services)
    sql(services, "DELETE FROM log_checkpoints")
    services.checkpoints.sign(key)
    forged = issue(services, signed_job, key, sizes=[])
    check(forged, key.public)  # on its own it holds together: the key signed it

    with pytest.raises(CertificateInvalid, match=r"rewritten|does not prove"):
        check(forged, key.public, [published])


@pytest.mark.parametrize("rewrite", ["delete", "insert"])
def test_an_event_deleted_or_inserted_without_covering_it_up_cannot_be_certified(
    kit: RunnerKit, key: SigningKey, signed_job: int, rewrite: str
) -> None:
    services = kit.services
    mine = positions_of(services, signed_job)
    if rewrite == "delete":  # the job's own completion, the last thing it did
        sql(services, "DELETE FROM {events} WHERE {position} = :p", p=mine[-1])
    else:  # a copy of another user's request, as if it had come first
        insert_copy(services, at=1, copy_of=mine[0] - 1)

    assert cannot_be_certified(services, signed_job, key)


def test_another_events_edit_leaves_this_certificate_true_but_the_checkpoints_say_so(
    kit: RunnerKit, key: SigningKey, signed_job: int
) -> None:
    services = kit.services
    first_of_mine = positions_of(services, signed_job)[0]
    edit_state(services, first_of_mine - 1, b'"job_id":1', b'"job_id":9')

    check(issue(services, signed_job, key), key.public)  # what it proves is still so
    failures = consistency_failures(services.log, services.checkpoints.all(), key.public)
    assert len(failures) == 1 and "the log was rewritten" in failures[0]


def test_a_checkpoint_whose_root_is_not_hex_is_a_failure_not_a_crash(
    kit: RunnerKit, key: SigningKey, signed_job: int
) -> None:
    services = kit.services
    sql(services, "UPDATE log_checkpoints SET root_hash = 'not hex'")

    failures = consistency_failures(services.log, services.checkpoints.all(), key.public)
    assert len(failures) == 1 and "is malformed" in failures[0]
