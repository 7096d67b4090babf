"""A hostile reading of deletion certificates: documents built to pass for what they are
not, or to break the checker, on both backends. Some need no key at all (anyone who
handles the file); others are made by an operator who holds the signing key and signs
a log of their own making, which the checker must still read only as a job's log."""

import base64
import json
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent

from api.cli import main
from application.certificate_check import CertificateInvalid
from application.certificates import CannotCertify, statements
from domain.job import job_aggregate_id
from domain.log_entry import event_entry
from domain.merkle import leaf_hash
from infrastructure.chain import verify_chain
from infrastructure.checkpoints import CheckpointStore
from infrastructure.log_tree import LogTree
from infrastructure.mapper import keyless_mapper
from infrastructure.session_store import seed_sessions
from infrastructure.signing import SigningKey
from tests.certificates import check, completed_job, issue
from tests.log_rewriting import recompute_chain_and_tree, sql
from tests.merkle_reference import inclusion_proof, root_hash
from tests.runner_support import T0, RunnerKit

Document = dict[str, Any]


@pytest.fixture
def honest(kit: RunnerKit, key: SigningKey) -> Document:
    """The certificate of a completed job that was searched afterwards."""
    kit.services.checkpoints.sign(key)
    job_id = completed_job(kit)
    kit.services.commands.record_remains_search(job_id, "operator", (), {"targets": 2})
    kit.services.checkpoints.sign(key)
    document: Document = json.loads(issue(kit.services, job_id, key))
    return document


def changed(document: Document, change: Callable[[Document], None]) -> bytes:
    copy: Document = json.loads(json.dumps(document))
    change(copy)
    return json.dumps(copy).encode()


def states(document: Document) -> list[bytes]:
    return [base64.b64decode(e["state"]) for e in document["events"]]


def signed_by_the_operator(
    document: Document,
    key: SigningKey,
    topics: dict[int, str] | None = None,
    states_now: dict[int, bytes] | None = None,
    signed_at: int | None = None,
    refold: bool = False,
) -> Document:
    """What an operator holding the key can make of an honest certificate: the job's
    events with some topics or states changed, in a log of just these events, under a
    checkpoint they sign, with the statements folded again by the checker's own rules
    when ``refold``."""
    events = [dict(e) for e in document["events"]]
    for index, topic in (topics or {}).items():
        events[index]["topic"] = topic
    for index, state in (states_now or {}).items():
        events[index]["state"] = base64.b64encode(state).decode()
    leaves = [
        leaf_hash(
            event_entry(
                e["position"],
                e["originatorId"],
                e["originatorVersion"],
                e["topic"].encode(),
                base64.b64decode(e["state"]),
            )
        )
        for e in events
    ]
    checkpoint = {
        "origin": document["checkpoint"]["origin"],
        "size": len(leaves),
        "root": root_hash(leaves).hex(),
        "signedAt": document["checkpoint"]["signedAt"] if signed_at is None else signed_at,
        "keyFingerprint": key.public.fingerprint,
    }
    lines = ["jobtrail-checkpoint/v1", *(str(checkpoint[f]) for f in list(checkpoint)[:4])]
    body = "".join(line + "\n" for line in lines).encode()  # as the doc writes it
    forged: Document = {
        **document,
        "checkpoint": {**checkpoint, "signature": key.sign(body)},
        "earlierCheckpoints": [],
        "events": [
            {**e, "leafIndex": i, "inclusionProof": [h.hex() for h in inclusion_proof(leaves, i)]}
            for i, e in enumerate(events)
        ],
    }
    if refold:
        decode = keyless_mapper().to_domain_event
        stated = statements(
            [
                decode(
                    StoredEvent(
                        UUID(e["originatorId"]),
                        e["originatorVersion"],
                        e["topic"],
                        base64.b64decode(e["state"]),
                    )
                )
                for e in events
            ]
        )
        forged.update(
            job=stated["job"],
            personalData=stated["personal_data"],
            receipt=stated["receipt"],
            remaining=stated["remaining"],
            lastRemainsSearch=stated["last_remains_search"],
        )
    return forged


def audit_check(tmp_path: Path, document: bytes, key: SigningKey) -> tuple[int, list[str]]:
    """``jobtrail audit check`` as an auditor runs it: its exit code and its lines."""
    certificate, public = tmp_path / "certificate.json", tmp_path / "installation.pub"
    certificate.write_bytes(document)
    public.write_bytes(key.public.pem())
    result = CliRunner().invoke(
        main, ["audit", "check", str(certificate), "--public-key", str(public)]
    )
    return result.exit_code, result.output.splitlines()


# Anyone who handles the file, without the key.


@pytest.mark.parametrize("position", [-1, 2**64, 2**70])
def test_a_position_no_entry_can_hold_fails_in_one_line(
    honest: Document, key: SigningKey, tmp_path: Path, position: int
) -> None:
    forged = changed(honest, lambda d: d["events"][0].update(position=position))

    exit_code, lines = audit_check(tmp_path, forged, key)

    assert exit_code == 1
    assert len(lines) == 1 and lines[0].startswith("FAILED: ")


@pytest.mark.parametrize(
    ("field", "forged"),
    [
        ("projectId", True),  # the events say 1: JSON's true is not 1
        ("jobId", 1.0),
        ("errors", False),
    ],
)
def test_a_statement_of_another_json_type_than_the_events_give_fails(
    honest: Document, key: SigningKey, field: str, forged: object
) -> None:
    assert honest["job"]["jobId"] == 1 and honest["job"]["projectId"] == 1

    with pytest.raises(CertificateInvalid, match="job does not follow"):
        check(changed(honest, lambda d: d["job"].update({field: forged})), key.public)


def test_a_last_search_whose_counts_are_floats_fails(honest: Document, key: SigningKey) -> None:
    forged = changed(honest, lambda d: d["lastRemainsSearch"]["searched"].update(targets=2.0))

    with pytest.raises(CertificateInvalid, match="last_remains_search"):
        check(forged, key.public)


def test_a_document_that_states_a_field_twice_fails(honest: Document, key: SigningKey) -> None:
    """Two receipts in one document: a reader that keeps the first sees 999 sessions
    deleted, the checker (which keeps the last) checked 7."""
    text = json.dumps(honest)
    forged = text.replace('"receipt": {', '"receipt": {"sessions": 999}, "receipt": {', 1)

    with pytest.raises(CertificateInvalid, match="twice"):
        check(forged.encode(), key.public)


def upper_root(d: Document) -> None:
    d["checkpoint"]["root"] = d["checkpoint"]["root"].upper()


def spaced_root(d: Document) -> None:
    d["checkpoint"]["root"] = " ".join(re.findall("..", d["checkpoint"]["root"]))


def upper_proof(d: Document) -> None:
    d["events"][1]["inclusionProof"] = [h.upper() for h in d["events"][1]["inclusionProof"]]


def upper_earlier_root(d: Document) -> None:
    earlier = d["earlierCheckpoints"][0]["checkpoint"]
    earlier["root"] = earlier["root"].upper()


def upper_fingerprint(d: Document) -> None:
    d["publicKeyFingerprint"] = d["publicKeyFingerprint"].upper()


@pytest.mark.parametrize(
    "change", [upper_root, spaced_root, upper_proof, upper_earlier_root, upper_fingerprint]
)
def test_hashes_are_lowercase_hex_as_the_doc_says_or_fail(
    honest: Document, key: SigningKey, change: Callable[[Document], None]
) -> None:
    """An auditor's checker rebuilds the signed message from the root as written: an
    uppercase root would fail there and pass here."""
    with pytest.raises(CertificateInvalid):
        check(changed(honest, change), key.public)


# An operator who holds the key and signs a log of their own making.


def test_an_operators_honest_looking_forgery_is_what_the_tests_below_vary(
    honest: Document, key: SigningKey
) -> None:
    check(json.dumps(signed_by_the_operator(honest, key)).encode(), key.public)


def test_a_topic_that_is_not_one_of_the_jobs_events_fails(
    honest: Document, key: SigningKey
) -> None:
    """The class the events module defines decodes and folds like Job.Completed, but no
    job ever stores that topic, and an auditor's checker knows only Job.<Name>."""
    last = len(honest["events"]) - 2
    assert honest["events"][last]["topic"] == "domain.job:Job.Completed"
    forged = signed_by_the_operator(honest, key, topics={last: "domain.job_events:Completed"})

    with pytest.raises(CertificateInvalid, match="not an event of a job"):
        check(json.dumps(forged).encode(), key.public)


def test_a_topic_naming_a_module_fails_in_one_line_without_importing_it(
    honest: Document, key: SigningKey, tmp_path: Path
) -> None:
    """The checker runs on an auditor's machine: a topic is a name to compare, never a
    module to import (``this`` prints the Zen of Python on import; others do worse)."""
    sys.modules.pop("this", None)
    forged = signed_by_the_operator(honest, key, topics={1: "this:x"})

    exit_code, lines = audit_check(tmp_path, json.dumps(forged).encode(), key)

    assert "this" not in sys.modules
    assert exit_code == 1 and len(lines) == 1 and lines[0].startswith("FAILED: ")


def test_a_scheduled_event_naming_another_aggregate_class_fails_without_importing_it(
    honest: Document, key: SigningKey
) -> None:
    sys.modules.pop("this", None)
    scheduled = states(honest)[0]
    assert b'"originator_topic":"domain.job:Job"' in scheduled
    forged = signed_by_the_operator(
        honest,
        key,
        states_now={0: scheduled.replace(b'"domain.job:Job"', b'"this:Job"')},
    )

    with pytest.raises(CertificateInvalid, match="not a job"):
        check(json.dumps(forged).encode(), key.public)
    assert "this" not in sys.modules


def test_a_state_that_holds_a_field_twice_fails(honest: Document, key: SigningKey) -> None:
    """A batch that says it deleted 3 sessions, then 300: canonical JSON never says a
    thing twice, and readers differ on which one counts."""
    batch = states(honest)[2]
    was = b'"deleted":{"recordings":3,"sessions":3}'
    assert was in batch
    forged = signed_by_the_operator(
        honest,
        key,
        states_now={2: batch.replace(was, was + b',"deleted":{"recordings":300,"sessions":300}')},
        refold=True,
    )

    with pytest.raises(CertificateInvalid, match="twice"):
        check(json.dumps(forged).encode(), key.public)


def test_a_checkpoint_dated_past_any_calendar_fails_in_one_line(
    honest: Document, key: SigningKey, tmp_path: Path
) -> None:
    forged = signed_by_the_operator(honest, key, signed_at=10**17)

    exit_code, lines = audit_check(tmp_path, json.dumps(forged).encode(), key)

    assert exit_code == 1 and len(lines) == 1 and lines[0].startswith("FAILED: ")


def extension(state: dict[str, Any], at: str, respond_by: str) -> bytes:
    """A DeadlineExtended as jobtrail stores it (its reason sealed), dated ``at``."""
    fields = {"actor": "operator", "key_generation": state["key_generation"]}
    fields |= {"respond_by": respond_by, "sealed": "c2VhbGVk", "subject": state["subject"]}
    return json.dumps({**fields, "timestamp": at}, separators=(",", ":")).encode()


def test_a_deadline_the_law_does_not_allow_fails(honest: Document, key: SigningKey) -> None:
    """The job was due on 1 June, one month after its request, and answered then. The
    operator signs a log where its request set its deadline a year away: the
    certificate's dueBy follows from the events, but no request is given a year."""
    scheduled = json.loads(states(honest)[0])
    assert scheduled["respond_by"].startswith("2026-06-01")
    scheduled["respond_by"] = "2027-05-01T09:00:00+00:00"
    forged = signed_by_the_operator(
        honest,
        key,
        states_now={0: json.dumps(scheduled, separators=(",", ":")).encode()},
        refold=True,
    )

    with pytest.raises(CertificateInvalid, match="deadline"):
        check(json.dumps(forged).encode(), key.public)


def test_a_deadline_extended_after_it_had_passed_fails(honest: Document, key: SigningKey) -> None:
    """The job was due on 1 June. In July the operator appends an extension to
    1 August (the last event, where the search was): dueBy reads 1 August, and the
    job "answered on time". jobtrail extends a deadline only before it has passed,
    and only while the job still owes an answer."""
    last = len(honest["events"]) - 1
    scheduled = json.loads(states(honest)[0])
    late = extension(scheduled, "2026-07-01T09:00:00.000000Z", "2026-08-01T09:00:00+00:00")
    forged = signed_by_the_operator(
        honest,
        key,
        topics={last: "domain.job:Job.DeadlineExtended"},
        states_now={last: late},
        refold=True,
    )
    assert forged["job"]["dueBy"] > forged["job"]["updatedAt"]

    with pytest.raises(CertificateInvalid, match="deadline"):
        check(json.dumps(forged).encode(), key.public)


def test_a_completion_backdated_behind_a_published_checkpoint_fails_against_it(
    kit: RunnerKit, key: SigningKey
) -> None:
    """The job was due on 1 June and the operator published a checkpoint on 15 June
    that holds its request and nothing more; then they ran it with their clock set
    back to 2 May. Every event is in the log and the log extends the published
    checkpoint, but the events that entered it after 15 June cannot have happened
    on 2 May: a certificate reading "completed a month early" is false."""
    operator = CheckpointStore(
        kit.services.database, LogTree(kit.services.database, kit.services.log), kit.clock
    )
    seed_sessions(kit.services.database, 1, ["late@example.com"], 3, kit.recordings)
    job_id = kit.schedule("late@example.com")
    kit.clock.current = T0 + timedelta(days=45)
    published = operator.sign(key)
    assert published is not None
    kit.clock.current = T0 + timedelta(days=1)  # the operator's clock, set back
    kit.worker(kit.runner()).run_due_jobs()
    kit.clock.current = T0 + timedelta(days=46)
    operator.sign(key)
    document = issue(kit.services, job_id, key, [published.size])
    job = json.loads(document)["job"]
    assert job["status"] == "completed" and job["updatedAt"] < job["dueBy"]

    with pytest.raises(CertificateInvalid, match="published checkpoint"):
        check(document, key.public, [published])


def test_a_checkpoint_dated_before_a_published_smaller_one_fails_against_it(
    kit: RunnerKit, key: SigningKey
) -> None:
    """A log only grows: a checkpoint of more events than one published on 15 June
    cannot have been signed on 2 May, as the auditor's line would read."""
    operator = CheckpointStore(
        kit.services.database, LogTree(kit.services.database, kit.services.log), kit.clock
    )
    kit.clock.current = T0 + timedelta(days=45)
    kit.schedule("earlier@example.com")
    published = operator.sign(key)
    assert published is not None
    kit.clock.current = T0 + timedelta(days=50)
    job_id = completed_job(kit)
    kit.clock.current = T0 + timedelta(days=1)  # the operator's signer, set back
    operator.sign(key)
    document = issue(kit.services, job_id, key, [published.size])

    with pytest.raises(CertificateInvalid, match="published checkpoint"):
        check(document, key.public, [published])


# Someone who can write to the database, without the key.


@pytest.mark.xfail(
    strict=True,
    reason="design: the log's events carry no mark only jobtrail can make (the chain is "
    "unkeyed), so an event appended behind its back before the next checkpoint is signed "
    "like any other; closing it needs a key outside the database on the append path",
)
def test_a_completion_appended_behind_jobtrails_back_is_not_certified(
    kit: RunnerKit, key: SigningKey
) -> None:
    job_id = kit.schedule("never-deleted@example.com")
    kit.services.checkpoints.sign(key)
    completed = (
        b'{"actor":"worker:a","deleted":{"sessions":7},"remaining":{"sessions":0},'
        b'"timestamp":"2026-05-01T09:05:00.000000Z"}'
    )
    sql(
        kit.services,
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (:id, 2, 'domain.job:Job.Completed', :state)",
        id=str(job_aggregate_id(job_id)),
        state=completed,
    )
    recompute_chain_and_tree(kit.services)
    assert verify_chain(kit.services.log, kit.services.database).intact
    kit.services.checkpoints.sign(key)  # the worker's next hourly checkpoint

    try:
        document = issue(kit.services, job_id, key)
    except CannotCertify:
        return
    with pytest.raises(CertificateInvalid):
        check(document, key.public)


def test_a_published_checkpoint_that_states_a_field_twice_is_refused(
    tmp_path: Path, honest: Document, key: SigningKey
) -> None:
    """The checkpoint an auditor keeps is a document the operator handed over. One that
    names its size and root twice says two things: a reader that keeps the first holds
    a large, recent size; the checker (which keeps the last, the pair signed) pins the
    log only up to a small, old one. Refused, as a certificate naming a key twice is."""
    earlier = honest["earlierCheckpoints"][0]["checkpoint"]
    signed_pair = f'"size": {earlier["size"]}, "root": "{earlier["root"]}"'
    claimed = f'"size": {earlier["size"] + 10_000}, "root": "{"f" * 64}", '
    text = json.dumps(earlier).replace(signed_pair, claimed + signed_pair, 1)
    assert text.count('"size"') == 2
    published = tmp_path / "published.json"
    published.write_text(text)
    certificate, public = tmp_path / "certificate.json", tmp_path / "installation.pub"
    certificate.write_bytes(json.dumps(honest).encode())
    public.write_bytes(key.public.pem())

    result = CliRunner().invoke(
        main,
        ["audit", "check", str(certificate), "--public-key", str(public),
         "--published", str(published)],
    )  # fmt: skip

    assert result.exit_code != 0, result.output
    assert "twice" in result.output
