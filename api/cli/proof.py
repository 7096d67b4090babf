"""``jobtrail audit keygen | checkpoint | checkpoints | certificate | check``: the proof an
auditor checks without the operator's database (ADR 27, docs/audit-proof.md)."""

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from api.cli.privacy import audit
from api.cli.support import open_services
from api.composition import Services
from api.wording import iso
from application.certificate_check import (
    CertificateInvalid,
    Verified,
    check_certificate,
    published_checkpoints,
)
from application.certificate_shape import Certificate, SignedCheckpoint, encode
from application.certificates import CannotCertify
from application.errors import JobNotFound
from infrastructure.checkpoints import consistency_failures
from infrastructure.mapper import keyless_mapper
from infrastructure.signing import KeyFileError, PublicKey, SigningKey, generate_key_pair

_PATH = click.Path(dir_okay=False, path_type=Path)


@audit.command("keygen")
@click.argument("path", type=_PATH)
def keygen(path: Path) -> None:
    """Write a new signing key pair: PATH (private, mode 600) and PATH.pub (public)."""
    try:
        key, public = generate_key_pair(path)
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Private key: {path}  (JOBTRAIL_SIGNING_KEY_FILE={path}; keep it off the database)")
    click.echo(f"Public key:  {public}  (give it to auditors)")
    click.echo(f"Fingerprint: {key.public.fingerprint}")


@audit.command("checkpoint")
@click.option("--json", "as_json", is_flag=True, help="Print the checkpoint as JSON.")
def checkpoint(as_json: bool) -> None:
    """Sign the log's size and Merkle root now, with JOBTRAIL_SIGNING_KEY_FILE."""
    with open_services() as services:
        signed = services.checkpoints.sign(_signing_key(services))
    assert signed is not None
    click.echo(encode(signed).decode() if as_json else _line(signed), nl=not as_json)


@audit.command("checkpoints")
@click.option("--json", "as_json", is_flag=True, help="Print them as a JSON list.")
@click.option(
    "--public-key",
    type=_PATH,
    help="Check each signature, and that each checkpoint extends the one before it.",
)
def checkpoints(as_json: bool, public_key: Path | None) -> None:
    """Every signed checkpoint of the log, oldest first."""
    with open_services(read_only=True) as services:
        signed = services.checkpoints.all()
        failures = (
            consistency_failures(services.log, signed, _public_key(public_key))
            if public_key
            else []
        )
    if as_json:
        click.echo(encode(signed).decode(), nl=False)
    else:
        for each in signed:
            click.echo(_line(each))
        click.echo(f"{len(signed)} checkpoints.")
    for failure in failures:
        click.echo(f"FAILED: {failure}", err=True)
    sys.exit(1 if failures else 0)


@audit.command("certificate")
@click.argument("job_id", type=int)
@click.option("--output", type=_PATH, help="A file (default: stdout).")
@click.option(
    "--consistent-with",
    "sizes",
    type=int,
    multiple=True,
    help="Also prove the log extends the checkpoint of this size (one an auditor holds).",
)
def certificate(job_id: int, output: Path | None, sizes: tuple[int, ...]) -> None:
    """A self-contained deletion certificate of the job, checkable offline."""
    with open_services() as services:
        key = _signing_key(services, required=False)
        if key is not None:  # the job's last events may be newer than the last checkpoint
            services.checkpoints.sign(key, only_if_grown=True)
        latest = services.checkpoints.latest()
        if latest is None:
            raise click.ClickException(
                "No checkpoint has been signed: set JOBTRAIL_SIGNING_KEY_FILE and run "
                "jobtrail audit checkpoint."
            )
        try:
            issued = services.checkpoints.certificate(
                services.log,
                job_id,
                key.public.fingerprint if key else latest.key_fingerprint,
                sizes,
            )
        except CannotCertify as error:
            raise click.ClickException(str(error)) from None
        except JobNotFound:
            raise click.ClickException(f"No job {job_id}.") from None  # as `history` says
        document = encode(issued)
        if key is not None:  # never hand over a certificate that does not check
            _checked(document, key.public, ())
    if output is None:
        sys.stdout.buffer.write(document)
    else:
        partial = output.with_name(f".{output.name}.partial")
        partial.write_bytes(document)
        partial.replace(output)
        click.echo(f"Certificate of job {job_id} written to {output}.", err=True)


@audit.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", type=_PATH, required=True, help="The installation's public key.")
@click.option(
    "--published",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="A checkpoint (JSON) published earlier: the certificate's log must extend it.",
)
def check(file: Path, public_key: Path, published: tuple[Path, ...]) -> None:
    """Verify a deletion certificate offline: no database, no network."""
    key = _public_key(public_key)
    seen = [c for path in published for c in _published(path)]
    result = _checked(file.read_bytes(), key, seen)
    job = result.certificate.job
    size = result.checkpoint.size
    click.echo(
        f"Verified: job {job['jobId']} ({job['status']}), {len(result.certificate.events)} events "
        f"in the log {result.checkpoint.origin} under its checkpoint of {size} events signed "
        f"{iso(result.checkpoint.signed_at)} by key {key.fingerprint[:16]}…; receipt: "
        f"{sum(result.certificate.receipt.values())} deleted in "
        f"{len(result.certificate.receipt)} places{_unconfirmed(result.certificate)}."
    )


def _unconfirmed(certificate: Certificate) -> str:
    more = sum((certificate.receipt_unconfirmed or {}).values())
    if not more:
        return ""
    return (
        f", and at most {more} more that a worker reported after its lease had run out "
        "(the worker that took the job over may have counted them)"
    )


def _checked(document: bytes, key: PublicKey, published: Sequence[SignedCheckpoint]) -> Verified:
    try:
        return check_certificate(document, key, keyless_mapper().to_domain_event, published)
    except CertificateInvalid as error:
        click.echo(f"FAILED: {error}")
        sys.exit(1)


def _published(path: Path) -> list[SignedCheckpoint]:
    try:
        return published_checkpoints(path.read_bytes(), str(path))
    except CertificateInvalid as error:
        raise click.ClickException(str(error)) from None


def _signing_key(services: Services, required: bool = True) -> SigningKey:
    try:
        key = services.signing_key()
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None
    if key is None and required:
        raise click.ClickException(
            "No signing key: set JOBTRAIL_SIGNING_KEY_FILE (jobtrail audit keygen makes one)."
        )
    return key  # type: ignore[return-value]


def _public_key(path: Path) -> PublicKey:
    try:
        return PublicKey.load(path)
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None


def _line(signed: SignedCheckpoint) -> str:
    return (
        f"{iso(signed.signed_at)}  size {signed.size}  root {signed.root}  "
        f"key {signed.key_fingerprint[:16]}…"
    )
