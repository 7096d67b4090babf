"""A deletion certificate verifies offline, and stops verifying after any change to it,
or to the log it was proven in, on both backends."""

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from application.certificate_check import CertificateInvalid
from application.certificates import CannotCertify
from domain.job import job_aggregate_id
from infrastructure.signing import SigningKey
from tests.certificates import check, completed_job, issue, new_key
from tests.runner_support import T0, RunnerKit, forgetting_at


def test_a_completed_jobs_certificate_verifies_with_the_public_key_alone(
    kit: RunnerKit, key: SigningKey
) -> None:
    kit.schedule("someone-before@example.com")
    kit.services.checkpoints.sign(key)  # published before the request, say
    job_id = completed_job(kit)
    kit.services.checkpoints.sign(key)

    document = issue(kit.services, job_id, key)
    verified = check(document, key.public)

    certificate = verified.certificate
    assert certificate.job["jobId"] == job_id and certificate.job["status"] == "completed"
    assert certificate.receipt == {"sessions": 7, "recordings": 7}
    assert certificate.remaining == {"sessions": 0, "recordings": 0}
    assert certificate.personal_data == "sealed"
    assert [e.originator_version for e in certificate.events] == list(
        range(1, len(certificate.events) + 1)
    )
    assert [c.checkpoint.size for c in certificate.earlier_checkpoints] == [3]
    assert verified.checkpoint.size == kit.services.log.head()


def test_a_certificate_never_holds_the_persons_id(kit: RunnerKit, key: SigningKey) -> None:
    job_id = completed_job(kit, "carol.secret@example.com")
    kit.services.checkpoints.sign(key)

    document = issue(kit.services, job_id, key)

    assert b"carol" not in document and b"secret" not in document
    assert "referenceId" not in json.loads(document)["job"]


def test_no_certificate_until_a_checkpoint_covers_the_jobs_last_event(
    kit: RunnerKit, key: SigningKey
) -> None:
    kit.services.checkpoints.sign(key)
    job_id = completed_job(kit)

    with pytest.raises(CannotCertify, match="audit checkpoint"):
        issue(kit.services, job_id, key)


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from leaves(item, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def edited(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> bytes:
    copy = json.loads(json.dumps(document))
    holder = copy
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return json.dumps(copy).encode()


def other(value: Any) -> list[Any]:
    """Values a forger might put in place of this one."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, str):
        flipped = value[:-1] + ("0" if value[-1:] != "0" else "1") if value else "x"
        return [flipped, value + "a"]
    if value is None:
        return [0]
    return []


def test_any_edit_of_any_field_of_the_certificate_fails_its_check(
    kit: RunnerKit, key: SigningKey
) -> None:
    kit.services.checkpoints.sign(key)
    job_id = completed_job(kit)
    kit.services.commands.record_remains_search(job_id, "operator", (), {"targets": 2})
    kit.services.checkpoints.sign(key)
    document = json.loads(issue(kit.services, job_id, key))
    fields = list(leaves(document))
    assert len(fields) > 60  # every event, proof hash, receipt line and checkpoint field

    for path, value in fields:
        if path == ("issuedAt",):
            continue  # when it was printed: the one statement no proof depends on
        for forged in other(value):
            with pytest.raises(CertificateInvalid):
                check(edited(document, path, forged), key.public)


def test_removing_or_adding_an_event_or_a_receipt_line_fails_the_check(
    kit: RunnerKit, key: SigningKey
) -> None:
    job_id = completed_job(kit)
    kit.services.checkpoints.sign(key)
    document = json.loads(issue(kit.services, job_id, key))

    without_last = {**document, "events": document["events"][:-1]}
    extra_line = {**document, "receipt": {**document["receipt"], "backups": 3}}
    swapped = {**document, "events": [document["events"][1], document["events"][0]]}
    for forged in (without_last, extra_line, swapped):
        with pytest.raises(CertificateInvalid):
            check(json.dumps(forged).encode(), key.public)


def test_another_key_does_not_verify_the_certificate(
    kit: RunnerKit, key: SigningKey, tmp_path: Path
) -> None:
    job_id = completed_job(kit)
    kit.services.checkpoints.sign(key)
    document = issue(kit.services, job_id, key)

    with pytest.raises(CertificateInvalid, match="not with the key given"):
        check(document, new_key(tmp_path, "other.key").public)


def test_a_forgotten_jobs_certificate_says_so_and_still_verifies(
    kit: RunnerKit, key: SigningKey
) -> None:
    job_id = completed_job(kit, "dave@example.com")
    services = kit.services
    forgetting_at(services, T0 + timedelta(days=31)).forget_due()
    kit.services.checkpoints.sign(key)

    verified = check(issue(kit.services, job_id, key), key.public)

    assert verified.certificate.personal_data == "forgotten"
    assert verified.certificate.receipt == {"sessions": 7, "recordings": 7}


def test_the_job_named_must_be_the_job_the_events_belong_to(
    kit: RunnerKit, key: SigningKey
) -> None:
    first, second = completed_job(kit, "erin@example.com"), completed_job(kit, "frank@example.com")
    kit.services.checkpoints.sign(key)
    document = json.loads(issue(kit.services, first, key))
    document["job"]["jobId"] = second

    with pytest.raises(CertificateInvalid):
        check(json.dumps(document).encode(), key.public)
    assert job_aggregate_id(first) != job_aggregate_id(second)
