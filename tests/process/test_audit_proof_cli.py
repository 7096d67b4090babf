"""Issue 27 from the command line: keys made once and kept private, checkpoints signed
and checked against the log, and a deletion certificate that a real server's worker
proves and an auditor checks in a process with no database at all."""

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import text

from api.composition import Services, build_services
from infrastructure.session_store import seed_sessions
from infrastructure.settings import Settings
from infrastructure.signing import PublicKey
from tests.process.conftest import JOBTRAIL, RunningServer, jobtrail, start_server
from tests.scheduling import SchedulingCommands
from tests.waiting import eventually, job_reaches

KEY_VARIABLE = "JOBTRAIL_SIGNING_KEY_FILE"


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says which key its commands sign with, if any."""
    monkeypatch.delenv(KEY_VARIABLE, raising=False)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """A private key made by `jobtrail audit keygen`; its public key is beside it."""
    path = tmp_path / "keys" / "jobtrail.key"
    path.parent.mkdir()
    made = run("audit", "keygen", str(path))
    assert made.returncode == 0, made.stderr
    return path


def public(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


def run(*args: str, env: dict[str, str] | None = None) -> "subprocess.CompletedProcess[str]":
    """The console script in the environment given (this process's by default)."""
    return subprocess.run(
        [str(JOBTRAIL), *args],
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def refusal(result: "subprocess.CompletedProcess[str]") -> str:
    """The one line a refused command says (beside the line naming its database)."""
    assert result.returncode == 1, result.stdout + result.stderr
    said = [line for line in result.stderr.splitlines() if not line.startswith("database: ")]
    assert len(said) == 1, result.stderr
    assert result.stdout == ""
    return said[0]


def checkpoints(database_url: str) -> list[dict[str, object]]:
    listed = jobtrail(database_url, "audit", "checkpoints", "--json")
    assert listed.returncode == 0, listed.stderr
    found: list[dict[str, object]] = json.loads(listed.stdout)
    return found


def log_size(database_url: str) -> int:
    """How many events the log holds (every one of them was checked)."""
    checked: int = json.loads(jobtrail(database_url, "verify", "--json").stdout)["checked"]
    return checked


def edit_an_event_saying(services: Services, said: bytes, instead: bytes) -> None:
    """Edits the first event that says ``said``, with SQL, as someone with write access
    to the database could (tests/integration/test_tamper_evidence.py)."""
    table = services.database.url.events_table
    position = "rowid" if services.database.backend == "sqlite" else "notification_id"
    with services.database.writer() as conn:
        rows = conn.execute(text(f"SELECT {position}, state FROM {table} ORDER BY 1")).all()
        where, state = next((p, bytes(s)) for p, s in rows if said in bytes(s))
        conn.execute(
            text(f"UPDATE {table} SET state = :s WHERE {position} = :p"),
            {"s": state.replace(said, instead), "p": where},
        )


# Keys


def test_keygen_writes_a_private_key_only_its_owner_reads_and_the_public_key_beside_it(
    tmp_path: Path,
) -> None:
    made = run("audit", "keygen", str(tmp_path / "jobtrail.key"))

    assert made.returncode == 0, made.stderr
    assert (tmp_path / "jobtrail.key").stat().st_mode & 0o777 == 0o600
    fingerprint = PublicKey.load(tmp_path / "jobtrail.key.pub").fingerprint
    assert f"Fingerprint: {fingerprint}\n" in made.stdout


@pytest.mark.parametrize("existing", ["jobtrail.key", "jobtrail.key.pub"])
def test_keygen_never_overwrites_a_key_nor_writes_its_other_half(
    tmp_path: Path, existing: str
) -> None:
    (tmp_path / existing).write_text("an operator's key\n")
    before = sorted(p.name for p in tmp_path.iterdir())

    said = refusal(run("audit", "keygen", str(tmp_path / "jobtrail.key")))

    assert said == f"Error: {tmp_path / existing} exists: a key is never overwritten"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / existing).read_text() == "an operator's key\n"


def test_a_private_key_other_users_can_read_is_refused_with_the_chmod_that_fixes_it(
    database_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key.chmod(0o640)
    monkeypatch.setenv(KEY_VARIABLE, str(key))

    said = refusal(jobtrail(database_url, "audit", "checkpoint"))

    assert said.endswith(f"chmod 600 {key}")
    key.chmod(0o600)
    assert jobtrail(database_url, "audit", "checkpoint").returncode == 0


def test_a_file_that_is_no_key_is_refused_as_a_signing_key_in_one_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    garbage.chmod(0o600)
    monkeypatch.setenv(KEY_VARIABLE, str(garbage))

    said = refusal(jobtrail(database_url, "audit", "checkpoint"))

    assert said == f"Error: {garbage} is not an unencrypted PEM private key"
    assert checkpoints(database_url) == []


def test_a_public_key_given_as_the_signing_key_is_refused_as_a_public_key(
    database_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, str(public(key)))

    said = refusal(jobtrail(database_url, "audit", "checkpoint"))

    assert "chmod" not in said
    assert "private key" in said


# Checkpoints


def test_without_a_signing_key_no_checkpoint_is_signed(database_url: str) -> None:
    said = refusal(jobtrail(database_url, "audit", "checkpoint"))

    assert said == (
        "Error: No signing key: set JOBTRAIL_SIGNING_KEY_FILE (jobtrail audit keygen makes one)."
    )
    assert checkpoints(database_url) == []


def test_a_signed_checkpoint_is_printed_and_listed(
    services: Services, database_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SchedulingCommands.of(services).schedule_user_deletion(1, "someone@example.com", "key:k")
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    fingerprint = PublicKey.load(public(key)).fingerprint
    size = log_size(database_url)

    line = jobtrail(database_url, "audit", "checkpoint")
    signed = jobtrail(database_url, "audit", "checkpoint", "--json")

    assert line.returncode == 0, line.stderr
    assert f"  size {size}  root " in line.stdout and f"key {fingerprint[:16]}…" in line.stdout
    checkpoint = json.loads(signed.stdout)
    assert checkpoint["size"] == size > 0 and checkpoint["keyFingerprint"] == fingerprint
    assert checkpoints(database_url)[-1] == checkpoint
    listed = jobtrail(database_url, "audit", "checkpoints").stdout.splitlines()
    assert listed[-1] == "2 checkpoints."


def test_checkpoints_check_until_the_log_is_edited_behind_jobtrails_back(
    services: Services, database_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    jobtrail(database_url, "audit", "checkpoint")  # the empty log
    for user in ("ann@example.com", "bob@example.com", "cy@example.com"):
        SchedulingCommands.of(services).schedule_user_deletion(1, user, "key:k")
    size = log_size(database_url)
    jobtrail(database_url, "audit", "checkpoint")
    monkeypatch.delenv(KEY_VARIABLE)  # an auditor holds the public key alone
    checked = jobtrail(database_url, "audit", "checkpoints", "--public-key", str(public(key)))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[-1] == "2 checkpoints."

    edit_an_event_saying(services, b"key:k", b"key:x")
    edited = jobtrail(database_url, "audit", "checkpoints", "--public-key", str(public(key)))

    assert edited.returncode == 1
    failures = [line for line in edited.stderr.splitlines() if line.startswith("FAILED: ")]
    assert len(failures) == 1, edited.stderr
    assert failures[0].startswith(f"FAILED: the checkpoint of size {size} signed at ")
    assert failures[0].endswith("is not the log's root at that size: the log was rewritten")


def test_checkpoints_signed_with_another_key_fail_the_check(
    database_url: str, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.key"
    run("audit", "keygen", str(other))
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    jobtrail(database_url, "audit", "checkpoint")

    checked = jobtrail(database_url, "audit", "checkpoints", "--public-key", str(public(other)))

    assert checked.returncode == 1
    failures = [line for line in checked.stderr.splitlines() if line.startswith("FAILED: ")]
    assert len(failures) == 1 and failures[0].endswith("is not signed by the key given")


def test_a_private_key_given_as_the_public_key_is_refused_in_one_line(
    database_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    jobtrail(database_url, "audit", "checkpoint")

    said = refusal(jobtrail(database_url, "audit", "checkpoints", "--public-key", str(key)))

    assert said == f"Error: {key} is not a PEM public key"


def test_a_database_from_before_checkpoints_lists_none(
    services: Services, database_url: str
) -> None:
    SchedulingCommands.of(services).schedule_user_deletion(1, "someone@example.com", "key:k")
    with services.database.writer() as conn:  # as the release before issue 27 left it
        for table in ("log_checkpoints", "log_nodes", "log_leaves"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("DELETE FROM service_secrets WHERE name = 'log_origin'"))

    listed = jobtrail(database_url, "audit", "checkpoints")

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "0 checkpoints.\n"


def test_a_certificate_of_a_job_that_does_not_exist_names_the_job(
    database_url: str, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, str(key))

    said = refusal(jobtrail(database_url, "audit", "certificate", "99"))

    assert said == "Error: No job 99."


@pytest.fixture
def at_once(database_url: str) -> Iterator[Services]:
    """Services whose jobs start as soon as they are requested."""
    built = build_services(Settings(database_url=database_url, deletion_delay=timedelta(0)))
    yield built
    built.close()


def test_no_certificate_is_written_from_a_log_edited_after_its_checkpoint(
    at_once: Services,
    database_url: str,
    key: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = (
        SchedulingCommands.of(at_once)
        .schedule_user_deletion(1, "ann@example.com", "key:k")
        .job.job_id
    )
    at_once.commands.start(job_id, "worker:w")
    at_once.commands.complete(job_id, "worker:w", 1)
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    jobtrail(database_url, "audit", "checkpoint")
    edit_an_event_saying(at_once, b"worker:w", b"worker:x")
    certificate = tmp_path / "cert.json"

    refused = jobtrail(
        database_url, "audit", "certificate", str(job_id), "--output", str(certificate)
    )

    assert refused.returncode == 1
    [failed] = refused.stdout.splitlines()
    assert (
        failed.startswith("FAILED: ") and "is not in the log under the signed checkpoint" in failed
    )
    assert not certificate.exists()


# A deletion, end to end


@pytest.fixture
def signing_server(database_url: str, tmp_path: Path, key: Path) -> Iterator[RunningServer]:
    """`jobtrail serve`, running jobs at once and signing checkpoints with ``key``."""
    env = {"JOBTRAIL_DELETION_DELAY": "0", "JOBTRAIL_WORKER_POLL_INTERVAL": "0.1"}
    server = start_server(database_url, tmp_path, extra_env={**env, KEY_VARIABLE: str(key)})
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


def delete_user(server: RunningServer, user: str) -> int:
    """Requests the deletion over HTTP, as OpenReplay's clients do, and waits for it."""
    base = f"{server.base_url}/api/v1/{server.project_key}"
    auth = {"Authorization": server.api_key}
    job_id: int = httpx.delete(f"{base}/users/{user}", headers=auth).json()["data"]["jobId"]
    job_reaches("completed", f"{base}/jobs/{job_id}", auth, 30, f"job {job_id} to complete")
    return job_id


def signed_by_the_worker(database_url: str) -> dict[str, object]:
    """The checkpoint the worker signs once a job completed: it covers the whole log."""
    size = log_size(database_url)
    listed: list[dict[str, object]] = []

    def signed() -> bool:
        listed[:] = checkpoints(database_url)  # the list that has it is the one returned
        return any(c["size"] == size for c in listed)

    eventually(signed, 30, f"the worker to sign a checkpoint of {size} events")
    return listed[-1]


def offline(tmp_path: Path) -> dict[str, str]:
    """An auditor's environment: no signing key, and a database that is not there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    return {**env, "JOBTRAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere' / 'jobtrail.db'}"}


def audit_check(
    certificate: Path, key: Path, tmp_path: Path, *published: Path
) -> "subprocess.CompletedProcess[str]":
    """`jobtrail audit check`, as an auditor runs it on a machine of their own."""
    also = [option for path in published for option in ("--published", str(path))]
    return run(
        "audit",
        "check",
        str(certificate),
        "--public-key",
        str(public(key)),
        *also,
        env=offline(tmp_path),
    )


def test_a_deletion_requested_over_http_gets_a_certificate_an_auditor_checks_offline(
    signing_server: RunningServer,
    database_url: str,
    tmp_path: Path,
    key: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = build_services(Settings(database_url=database_url))
    project = built.tenancy.find_project(signing_server.project_key)
    assert project is not None
    seed_sessions(built.database, project.id, ["leaving@example.com"], 3, tmp_path / "recordings")
    built.close()
    delete_user(signing_server, "earlier@example.com")
    published = tmp_path / "published.json"  # what the operator published before the job
    published.write_text(json.dumps(signed_by_the_worker(database_url)))

    job_id = delete_user(signing_server, "leaving@example.com")
    covering = signed_by_the_worker(database_url)
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    certificate = tmp_path / "cert.json"
    issued = jobtrail(
        database_url, "audit", "certificate", str(job_id), "--output", str(certificate)
    )
    assert issued.returncode == 0, issued.stderr
    assert json.loads(certificate.read_text())["checkpoint"] == covering

    verified = audit_check(certificate, key, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    [line] = verified.stdout.splitlines()
    assert line.startswith(f"Verified: job {job_id} (completed), ")
    assert line.endswith("receipt: 6 deleted in 2 places.")
    assert not (tmp_path / "nowhere").exists()

    assert audit_check(certificate, key, tmp_path, published).returncode == 0
    forged = json.loads(published.read_text())
    forged["root"] = "ab" * 32  # not the root the key signed
    published.write_text(json.dumps(forged))
    refused = audit_check(certificate, key, tmp_path, published)
    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        f"FAILED: a published checkpoint (size {forged['size']}) is not signed by the key given"
    ]

    document = json.loads(certificate.read_text())
    proof = document["events"][0]["inclusionProof"]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]  # one byte of one hash
    certificate.write_text(json.dumps(document))
    tampered = audit_check(certificate, key, tmp_path)
    assert tampered.returncode == 1
    [failed] = tampered.stdout.splitlines()
    assert failed.startswith("FAILED: ")
    assert tampered.stderr == ""
    assert not (tmp_path / "nowhere").exists()
