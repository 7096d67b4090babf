"""An auditor's own checker, written from docs/audit-proof.md and docs/merkle.md alone:
nothing of jobtrail's application or infrastructure is imported to check, only to make
the certificate. It must reach the verdicts `jobtrail audit check` reaches, on both
backends: the doc says exactly what the code does."""

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from application.certificate_check import CertificateInvalid
from application.deadlines import Deadlines
from infrastructure.signing import SigningKey
from tests.certificates import check, completed_job, issue
from tests.clocks import SteppingClock
from tests.runner_support import T0, RunnerKit, forgetting_at

Document = dict[str, Any]
HEX = re.compile("[0-9a-f]{64}")
JOB_EVENTS = {
    "Scheduled", "Started", "TakenOver", "LeaseRenewed", "LeaseReleased", "BatchDeleted",
    "LateBatchDeleted", "Completed", "Failed", "Cancelled", "DeadlineExtended",
    "PersonalDataForgotten", "RemainsSearched",
}  # fmt: skip


class Refused(Exception):
    pass


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def hashes(texts: list[str]) -> list[bytes]:
    if not all(HEX.fullmatch(t) for t in texts):
        raise Refused("a hash is not 64 lowercase hex digits")
    return [bytes.fromhex(t) for t in texts]


def inclusion_holds(h: bytes, m: int, n: int, proof: list[bytes], root: bytes) -> bool:
    """merkle.md, "Checking it"."""
    if not 0 <= m < n:
        return False
    fn, sn, r = m, n - 1, h
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistency_holds(m: int, r1: bytes, n: int, r2: bytes, proof: list[bytes]) -> bool:
    """merkle.md, consistency proof, "Checking it"."""
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not proof and r1 == sha256(b"")
    if m == n:
        return not proof and r1 == r2
    if not proof:
        return False
    c = ([r1] if m & (m - 1) == 0 else []) + proof
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = c[0]
    for x in c[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = sha256(b"\x01" + x + fr), sha256(b"\x01" + x + sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = sha256(b"\x01" + sr + x)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == r1 and sr == r2


def signed_checkpoint(c: Document, key: Ed25519PublicKey, fingerprint: str) -> bytes:
    """Steps 2 and 3: the checkpoint's root, if the key signed it."""
    if c["keyFingerprint"] != fingerprint:
        raise Refused("another key's checkpoint")
    [root] = hashes([c["root"]])
    lines = ["jobtrail-checkpoint/v1", c["origin"], str(c["size"]), c["root"], str(c["signedAt"])]
    try:
        key.verify(
            base64.b64decode(c["signature"], validate=True),
            "".join(line + "\n" for line in lines).encode("ascii"),
        )
    except InvalidSignature as error:
        raise Refused("bad signature") from error
    return root


def ms(iso: str) -> int:
    return (datetime.fromisoformat(iso) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        milliseconds=1
    )


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def fold(events: list[tuple[str, Document]]) -> Document:
    """ "Applying a job's events", rule by rule."""
    job: Document = {}
    said: Document = {"receipt": {}, "remaining": None, "lastRemainsSearch": None}
    said["personalData"] = "sealed"
    for name, state in events:
        if name == "Scheduled":
            job = {
                "jobId": state["job_id"],
                "projectId": state["project_id"],
                "action": state["action"],
                "status": "scheduled",
                "createdAt": ms(state["timestamp"]),
                "startAt": ms(state["start_at"]),
                "errors": None,
                "dueBy": ms(state["respond_by"]),
            }
        elif name == "Started":
            job["status"] = "running"
        elif name in ("BatchDeleted", "LateBatchDeleted"):
            for target, count in state["deleted"].items():
                said["receipt"][target] = said["receipt"].get(target, 0) + count
        elif name == "Completed":
            job["status"] = "completed"
            for target in state.get("deleted") or {}:
                said["receipt"].setdefault(target, 0)
        elif name == "Failed":
            job["status"], job["errors"] = "failed", state["error"]
        elif name == "Cancelled":
            job["status"] = "cancelled"
        elif name == "DeadlineExtended":
            job["dueBy"] = ms(state["respond_by"])
        elif name == "PersonalDataForgotten":
            said["personalData"] = "forgotten"
        elif name == "RemainsSearched":
            places = [{camel(k): v for k, v in p.items()} for p in state["places"]]
            at = ms(state["timestamp"])
            said["lastRemainsSearch"] = {"at": at, "places": places, "searched": state["searched"]}
        if state.get("remaining") is not None:
            said["remaining"] = state["remaining"]
        if name not in ("PersonalDataForgotten", "RemainsSearched"):
            job["updatedAt"] = ms(state["timestamp"])
    return {"job": job, **said}


def audit(document_bytes: bytes, public_pem: bytes) -> None:
    """Steps 1 to 6 of docs/audit-proof.md; Refused at the first that fails."""
    d = json.loads(document_bytes)
    key = serialization.load_pem_public_key(public_pem)
    assert isinstance(key, Ed25519PublicKey)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fingerprint = hashlib.sha256(raw).hexdigest()
    if d["format"] != "jobtrail-deletion-certificate/v1":
        raise Refused("step 1")
    if d["publicKeyFingerprint"] != fingerprint:
        raise Refused("step 2")
    checkpoint = d["checkpoint"]
    root = signed_checkpoint(checkpoint, key, fingerprint)
    events, read = d["events"], []
    if not events:
        raise Refused("no event")
    for version, e in enumerate(events, start=1):
        before = events[version - 2] if version > 1 else None
        if e["originatorId"] != events[0]["originatorId"] or e["originatorVersion"] != version:
            raise Refused("step 4: not one job's events in sequence")
        if before and not (
            e["position"] > before["position"] and e["leafIndex"] > before["leafIndex"]
        ):
            raise Refused("step 4: out of log order")
        state = base64.b64decode(e["state"], validate=True)
        ident, topic = e["originatorId"].encode(), e["topic"].encode()
        entry = (
            u64(e["position"]) + u64(len(ident)) + ident + version.to_bytes(8, "big", signed=True)
        ) + (u64(len(topic)) + topic + u64(len(state)) + state)
        leaf, proof = sha256(b"\x00" + entry), hashes(e["inclusionProof"])
        if not inclusion_holds(leaf, e["leafIndex"], checkpoint["size"], proof, root):
            raise Refused("step 4: not in the log")
        module, _, name = e["topic"].partition(":Job.")
        if module != "domain.job" or name not in JOB_EVENTS:
            raise Refused("step 5: not a job's event")
        read.append((name, json.loads(state)))
    said = fold(read)
    stated = {k: d[k] for k in ("job", "personalData", "receipt", "remaining", "lastRemainsSearch")}
    if json.dumps(said, sort_keys=True) != json.dumps(stated, sort_keys=True):
        raise Refused("step 5: the statements do not follow")
    job_namespace = uuid5(NAMESPACE_URL, "jobtrail:job")
    if events[0]["originatorId"] != str(uuid5(job_namespace, str(d["job"]["jobId"]))):
        raise Refused("step 5: another job's events")
    for earlier in d["earlierCheckpoints"]:
        c = earlier["checkpoint"]
        old_root = signed_checkpoint(c, key, fingerprint)
        if c["origin"] != checkpoint["origin"] or not consistency_holds(
            c["size"], old_root, checkpoint["size"], root, hashes(earlier["proof"])
        ):
            raise Refused("step 6")


@pytest.fixture
def certificate(kit: RunnerKit, key: SigningKey) -> Document:
    """A completed, searched and forgotten job, with checkpoints before it, during and
    after (every kind of event and proof the doc describes that a job usually has)."""
    services = kit.services
    kit.schedule("someone-before@example.com")
    services.checkpoints.sign(key)
    job_id = completed_job(kit, "dave@example.com")
    during = services.checkpoints.sign(key)
    assert during is not None
    services.commands.record_remains_search(job_id, "operator", (), {"targets": 2})
    forgetting_at(services, T0 + timedelta(days=31)).forget_due()
    services.checkpoints.sign(key)
    document: Document = json.loads(issue(services, job_id, key, [during.size]))
    return document


def encoded(document: Document) -> bytes:
    return json.dumps(document).encode()


def test_the_doc_alone_verifies_an_honest_certificate_as_jobtrail_does(
    certificate: Document, key: SigningKey
) -> None:
    assert all(c["checkpoint"]["size"] > 0 for c in certificate["earlierCheckpoints"])
    assert certificate["personalData"] == "forgotten"
    assert certificate["lastRemainsSearch"]["searched"] == {"targets": 2}

    audit(encoded(certificate), key.public.pem())
    check(encoded(certificate), key.public)


def test_the_doc_alone_folds_an_extended_deadline_and_a_cancel_as_jobtrail_does(
    kit: RunnerKit, key: SigningKey
) -> None:
    services = kit.services
    job_id = kit.schedule("erin@example.com")
    a_day_later = SteppingClock(T0 + timedelta(days=1))
    deadlines = Deadlines(services.commands, services.read_model, a_day_later)
    deadlines.extend(job_id, "operator", "the person sent more accounts to look at")
    services.commands.cancel(1, job_id, "operator")
    services.checkpoints.sign(key)
    document = issue(services, job_id, key)
    topics = [e["topic"] for e in json.loads(document)["events"]]
    assert topics[1:] == ["domain.job:Job.DeadlineExtended", "domain.job:Job.Cancelled"]

    audit(document, key.public.pem())
    assert check(document, key.public).certificate.job["status"] == "cancelled"


def flip_state_byte(d: Document) -> None:
    state = bytearray(base64.b64decode(d["events"][2]["state"]))
    state[state.index(b"3")] = ord("4")
    d["events"][2]["state"] = base64.b64encode(bytes(state)).decode()


def flip_proof_hash(d: Document) -> None:
    proof = d["events"][0]["inclusionProof"]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]


def flip_consistency_hash(d: Document) -> None:
    proof = d["earlierCheckpoints"][-1]["proof"]
    proof[-1] = ("0" if proof[-1][0] != "0" else "1") + proof[-1][1:]


def later_signature(d: Document) -> None:
    d["checkpoint"]["signedAt"] += 1


def bigger_receipt(d: Document) -> None:
    d["receipt"]["sessions"] += 1


def still_sealed(d: Document) -> None:
    d["personalData"] = "sealed"


def later_update(d: Document) -> None:
    d["job"]["updatedAt"] += 1


def events_of_another_position(d: Document) -> None:
    d["events"][1]["position"] += 1


@pytest.mark.parametrize(
    "tamper",
    [
        flip_state_byte,
        flip_proof_hash,
        flip_consistency_hash,
        later_signature,
        bigger_receipt,
        still_sealed,
        later_update,
        events_of_another_position,
    ],
)
def test_the_doc_alone_refuses_what_jobtrail_refuses(
    certificate: Document, key: SigningKey, tamper: Any
) -> None:
    tampered = json.loads(encoded(certificate))
    tamper(tampered)

    with pytest.raises(Refused):
        audit(encoded(tampered), key.public.pem())
    with pytest.raises(CertificateInvalid):
        check(encoded(tampered), key.public)
