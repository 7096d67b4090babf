"""The names a files or s3 target makes from a person's ids must read back as that
person's only: placeholders apart by a separator no id can hold, and a target's
patterns never naming one object for two people. Refused when the file is read."""

from pathlib import Path

import pytest

from infrastructure.key_patterns import is_separator, path_segment
from infrastructure.target_config import ConfigError, S3TargetConfig, load_config
from tests.integration.test_deletion_targets import write

SESSIONS = '[[targets]]\nkind = "sql"\nname = "sessions"\ntable = "sessions"\n'


def s3(names: str, sessions_from: bool = False) -> str:
    source = 'sessions_from = "sessions"\n' if sessions_from else ""
    return f'{SESSIONS}[[targets]]\nkind = "s3"\nname = "mobs"\nbucket = "mobs"\n{names}\n{source}'


def files(pattern: str) -> str:
    return f'[[targets]]\nkind = "files"\nname = "f"\ndirectory = "d"\npattern = "{pattern}"\n'


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [
        # Project 1's user 23 and project 12's user 3 were both 123/.
        (s3('prefix = "{projectId}{userId}/"'), "{projectId} and {userId} need a separator"),
        (files("{projectId}{userId}"), "{projectId} and {userId} need a separator"),
        (s3('prefix = "{userId}{projectId}/"'), "{userId} and {projectId} need a separator"),
        # '-', '_' and '.' are part of ids: never a separator.
        (s3('prefix = "{projectId}-{userId}/"'), "need a separator"),
        (s3('prefix = "u/{projectId}_{userId}/"'), "need a separator"),
        (files("{projectId}.{userId}"), "need a separator"),
        (s3('keys = ["{projectId}{sessionId}"]', sessions_from=True), "need a separator"),
        (s3('prefix = "{projectId}/{userId:>9}/"'), "takes no format"),
        # bob's second object would be user bob.json's first.
        (
            s3('keys = ["{projectId}/{userId}", "{projectId}/{userId}.json"]'),
            "can name one object for two people",
        ),
        # Under session 1's folder is project 1's key of session 23.
        (
            s3('prefix = "{sessionId}/"\nkeys = ["{projectId}/{sessionId}"]', sessions_from=True),
            "can name one object for two people",
        ),
        (s3('keys = ["{userId}"]'), "must also name {projectId}"),
        (s3('keys = ["{sessionId}"]'), "needs sessions_from"),
        (s3('keys = ["{email}"]'), "unknown placeholders"),
        (s3('keys = ["{sessionId}", "{sessionId}"]', sessions_from=True), "each exact key once"),
        (s3(""), "name a prefix, exact keys, or both"),
        (s3('prefix = "{sessionId}"', sessions_from=True), "must end with '/'"),
    ],
    ids=lambda value: value.rsplit('bucket = "mobs"\n', 1)[-1][:48] if "\n" in value else value,
)
def test_names_that_could_be_someone_elses_are_refused_in_one_line(
    tmp_path: Path, toml: str, complaint: str
) -> None:
    with pytest.raises(ConfigError, match=r"^Target (mobs|f): ") as refused:
        load_config(write(tmp_path, toml))
    assert complaint in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "names",
    [
        'prefix = "{projectId}/{userId}/"',
        'prefix = "exports/{projectId}:{userId}/"',
        'prefix = "{projectId}/{userId}/"\nkeys = ["{projectId}/{userId}.json"]',
        'keys = ["{projectId}/{userId}.json", "{projectId}/{userId}/avatar"]',
    ],
)
def test_names_a_separator_keeps_apart_are_accepted(tmp_path: Path, names: str) -> None:
    [target] = load_config(write(tmp_path, s3(names).removeprefix(SESSIONS))).targets
    assert isinstance(target, S3TargetConfig)


def test_openreplays_two_layouts_of_a_sessions_recordings_are_accepted(tmp_path: Path) -> None:
    toml = s3('prefix = "{sessionId}/"\nkeys = ["{sessionId}", "{sessionId}e"]', True)
    _, target = load_config(write(tmp_path, toml)).targets
    assert isinstance(target, S3TargetConfig)
    assert target.patterns() == ["{sessionId}/", "{sessionId}", "{sessionId}e"]


def test_a_separator_is_exactly_a_character_no_encoded_id_ever_holds() -> None:
    ids = ["alice", "a-b_c.d", "x@y.z", "50%", "1+1=2,~", "zoë", "../x", "a/b", "q?r#s"]
    alphabet = {character for value in ids for character in path_segment(value)}
    assert not any(is_separator(character) for character in alphabet)
    assert all(is_separator(character) for character in "/:;!#|? é")
    assert not any(is_separator(character) for character in "-_.@+,=~%aZ0")
