"""Where OpenReplay keeps a session's recordings in object storage, as the s3 target
``openreplay import`` writes (read from OpenReplay's own code, not guessed).

Today's layout, one folder per session, all under the prefix ``{sessionId}/``:
``dom.mobs`` and ``dom.mobe`` (the DOM recording's start and end, written by the
storage service), ``devtools.mob`` (console, network), a mobile session's
``replay.tar.zst`` (its video, in ``IOS_VIDEO_BUCKET``, by default the same bucket)
and canvas recordings ``{recordingId}.tar.zst`` (earlier ``.mp4``; in
``CANVAS_BUCKET``, by default the same bucket).

The older layout, which OpenReplay's API still reads and deletes as "deprecated"
keys: a session's DOM recording in two objects at the bucket's root, exactly
``{sessionId}`` and ``{sessionId}e``. They are exact keys, never a prefix:
``{sessionId}`` starts other sessions' ids (12 starts 120).
"""

from infrastructure.target_config import S3TargetConfig

RECORDINGS = "recordings"
FOLDER = "{sessionId}/"
OLDER_KEYS = ["{sessionId}", "{sessionId}e"]


def recordings_target(
    bucket: str, endpoint_url: str | None, region: str | None, sessions_from: str
) -> S3TargetConfig:
    """Every recording of each session, in both layouts, every version of each."""
    return S3TargetConfig(
        name=RECORDINGS,
        bucket=bucket,
        endpoint_url=endpoint_url,
        region=region,
        prefix=FOLDER,
        keys=list(OLDER_KEYS),
        sessions_from=sessions_from,
    )
