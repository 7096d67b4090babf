"""Issuing and checking deletion certificates in tests, as the CLI does."""

from collections.abc import Sequence
from pathlib import Path

from api.composition import Services
from application.certificate_check import Verified, check_certificate
from application.certificate_shape import SignedCheckpoint, encode
from infrastructure.mapper import keyless_mapper
from infrastructure.session_store import seed_sessions
from infrastructure.signing import PublicKey, SigningKey, generate_key_pair
from tests.runner_support import RunnerKit


def new_key(folder: Path, name: str = "jobtrail.key") -> SigningKey:
    key, _public = generate_key_pair(folder / name)
    return key


def completed_job(kit: RunnerKit, user_id: str = "alice@example.com") -> int:
    """A job that really deleted the user's sessions and recordings, beside another user's."""
    seed_sessions(kit.services.database, 1, [user_id, "bystander@example.com"], 7, kit.recordings)
    job_id = kit.schedule(user_id)
    kit.worker(kit.runner(batch_size=3)).run_due_jobs()
    return job_id


def issue(services: Services, job_id: int, key: SigningKey, sizes: Sequence[int] = ()) -> bytes:
    """A certificate as the database holds the job now, under the last checkpoint."""
    certificate = services.checkpoints.certificate(
        services.log, job_id, key.public.fingerprint, sizes
    )
    return encode(certificate)


def check(document: bytes, key: PublicKey, published: Sequence[SignedCheckpoint] = ()) -> Verified:
    """Offline: the document, the public key, and nothing of the database."""
    return check_certificate(document, key, keyless_mapper().to_domain_event, published)
