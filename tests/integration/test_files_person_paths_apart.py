"""Guards of a files target's paths kept to the person, on real directories: links
inside the person's folder (to another user's folder, to a file, to anywhere), a
linked person folder, a folder swapped for a link between listing and deleting,
hostile user ids (/, .., ., *, %, control characters, unicode normalization forms,
one id the start of another), hard links, and a receipt that counts files, not
folders, exactly as they went."""

import os
import unicodedata
from pathlib import Path

import pytest

from infrastructure.database import Database, parse_database_url
from infrastructure.key_patterns import path_segment
from infrastructure.target_config import FilesTargetConfig, TargetsConfig
from infrastructure.targets import CheckedTarget, build_targets

PATTERN = "{projectId}/{userId}"


def exports(tmp_path: Path, pattern: str = PATTERN) -> tuple[Path, CheckedTarget]:
    root = tmp_path / "exports"
    root.mkdir(exist_ok=True)
    config = TargetsConfig(
        targets=[FilesTargetConfig(name="exports", directory=str(root), pattern=pattern)]
    )
    database = Database(parse_database_url(f"sqlite:///{tmp_path / 'svc.db'}"))
    [target] = build_targets(config, database)
    return root, target


def run_job(target: CheckedTarget, user: str) -> int:
    total = 0
    while step := target.delete_batch(1, user, 2)["exports"]:
        total += step
    assert target.remaining(1, user) == {"exports": 0}
    return total


def tree(root: Path) -> dict[str, str]:
    """Every entry below root: files with their text, links with where they point."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_text()
        else:
            found[key] = "/"
    return found


def test_links_inside_the_persons_folder_go_as_links_never_followed(tmp_path: Path) -> None:
    root, target = exports(tmp_path)
    bob = root / "1" / "bob"
    bob.mkdir(parents=True)
    (bob / "keep").write_text("bob's")
    (bob / "sub").mkdir()
    (bob / "sub" / "deep").write_text("bob's deep")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep").write_text("not anyone's export")
    alice = root / "1" / "alice"
    (alice / "nested").mkdir(parents=True)
    (alice / "mine").write_text("alice's")
    (alice / "to-bob").symlink_to(bob)
    (alice / "to-bob-file").symlink_to(bob / "keep")
    (alice / "nested" / "to-bob-sub").symlink_to(bob / "sub")
    (alice / "to-outside").symlink_to(outside)
    (alice / "to-root").symlink_to(root)
    (alice / "relative").symlink_to("../bob")
    (alice / "dangling").symlink_to(tmp_path / "nothing")
    before_bob, before_outside = tree(bob), tree(outside)

    assert run_job(target, "alice") == 8  # 1 file and 7 links, each a file
    assert not alice.exists()
    assert tree(bob) == before_bob and tree(outside) == before_outside


def test_a_linked_person_folder_goes_as_a_link_and_what_it_points_to_stays(tmp_path: Path) -> None:
    root, target = exports(tmp_path)
    (root / "1" / "bob").mkdir(parents=True)
    (root / "1" / "bob" / "keep").write_text("bob's")
    (root / "1" / "alice").symlink_to(root / "1" / "bob")
    # The pattern names alice's folder, which is a link: it goes as a link.
    assert run_job(target, "alice") == 1
    assert not (root / "1" / "alice").is_symlink()
    assert tree(root / "1" / "bob") == {"keep": "bob's"}


def test_a_folder_swapped_for_a_link_between_listing_and_deleting_is_never_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, target = exports(tmp_path)
    bob = root / "1" / "bob"
    bob.mkdir(parents=True)
    for n in range(3):
        (bob / f"b{n}").write_text("bob's")
    alice = root / "1" / "alice"
    (alice / "sub").mkdir(parents=True)
    (alice / "sub" / "s").write_text("alice's")
    (alice / "top").write_text("alice's")
    opened = os.open
    swapped: list[str] = []

    def swap_then_open(path, flags, mode=0o777, *, dir_fd=None):  # type: ignore[no-untyped-def]
        if path == "sub" and not swapped:  # listed as a folder, now a link to bob's
            swapped.append(path)
            os.rename(alice / "sub", tmp_path / "moved-away")
            (alice / "sub").symlink_to(bob)
        return opened(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", swap_then_open)
    total = 0
    while step := target.delete_batch(1, "alice", 10)["exports"]:
        total += step
    monkeypatch.undo()
    assert swapped
    assert total == 2  # alice's top file, and the link that took sub's place
    assert tree(bob) == {"b0": "bob's", "b1": "bob's", "b2": "bob's"}
    assert not alice.exists()


@pytest.mark.parametrize(
    "users",
    [
        ["alice", "alice2", "ali", "alic", "Alice", "alice "],
        ["a/b", "a", "b", "a%2Fb", "a%252Fb"],
        ["..", ".", "...", "%2E", "%2E%2E", "x/..", "../1"],
        ["*", "?", "[a]", "%", "%25", "~", "-", "a.b"],
        ["a\x01", "a\n", "a\t", "a\x7f", "a\x1b[0m", "a"],
        [
            unicodedata.normalize("NFC", "zoë"),
            unicodedata.normalize("NFD", "zoë"),
            "zoe",
            "\uff3a\uff2f\uff25",  # FULLWIDTH, NFKC "ZOE"
            "\u212a",  # KELVIN SIGN, NFKC "K"
            "K",
        ],
    ],
)
def test_each_user_id_takes_exactly_its_own_files(tmp_path: Path, users: list[str]) -> None:
    root, target = exports(tmp_path)
    for user in users:
        folder = root / "1" / path_segment(user)
        (folder / "sub").mkdir(parents=True)
        (folder / "f").write_text(user)
        (folder / "sub" / "g").write_text(user)
    (root / "2").mkdir()
    (root / "2" / path_segment(users[0])).write_text("another project's")
    for n, user in enumerate(users):
        assert run_job(target, user) == 2, user
        left = {path_segment(other) for other in users[n + 1 :]}
        assert {p.name for p in (root / "1").iterdir()} == left
        for other in users[n + 1 :]:
            assert tree(root / "1" / path_segment(other)) == {
                "f": other,
                "sub": "/",
                "sub/g": other,
            }
    assert (root / "2" / path_segment(users[0])).read_text() == "another project's"


def test_a_user_id_that_is_a_file_pattern_prefix_of_another_is_apart(tmp_path: Path) -> None:
    root, target = exports(tmp_path, "{projectId}/{userId}.json")
    (root / "1").mkdir()
    for user in ["bob", "bob.json", "bo", "bob2"]:
        (root / "1" / f"{path_segment(user)}.json").write_text(user)
    assert run_job(target, "bob") == 1
    assert sorted(p.name for p in (root / "1").iterdir()) == [
        "bo.json",
        "bob.json.json",
        "bob2.json",
    ]


def test_hard_links_go_one_name_at_a_time_and_other_names_stay(tmp_path: Path) -> None:
    root, target = exports(tmp_path)
    bob = root / "1" / "bob"
    bob.mkdir(parents=True)
    (bob / "keep").write_text("bob's")
    alice = root / "1" / "alice"
    alice.mkdir()
    (alice / "own").write_text("alice's")
    os.link(bob / "keep", alice / "linked-to-bobs")
    os.link(alice / "own", alice / "own-again")
    assert target.remaining(1, "alice") == {"exports": 3}
    assert run_job(target, "alice") == 3  # three names, each counted once
    assert (bob / "keep").read_text() == "bob's"
    assert os.stat(bob / "keep").st_nlink == 1


def test_folders_are_not_counted_and_empty_folders_go(tmp_path: Path) -> None:
    root, target = exports(tmp_path)
    alice = root / "1" / "alice"
    (alice / "a" / "b" / "c").mkdir(parents=True)
    (alice / "empty").mkdir()
    (alice / "a" / "f").write_text("x")
    (alice / "a" / "b" / "c" / "g").write_text("x")
    assert target.remaining(1, "alice") == {"exports": 2}
    assert run_job(target, "alice") == 2
    assert not alice.exists()
    assert sorted(p.name for p in root.iterdir()) == ["1"]


def test_a_file_landing_in_a_users_folder_after_a_batch_is_found_by_the_check(
    tmp_path: Path,
) -> None:
    root, target = exports(tmp_path)
    alice = root / "1" / "alice"
    alice.mkdir(parents=True)
    for n in range(3):
        (alice / f"f{n}").write_text("x")
    assert target.delete_batch(1, "alice", 10) == {"exports": 3}
    (root / "1" / "alice").mkdir(exist_ok=True)
    (alice / "late").write_text("x")
    assert target.remaining(1, "alice") == {"exports": 1}
    assert target.delete_batch(1, "alice", 10) == {"exports": 1}
    assert target.remaining(1, "alice") == {"exports": 0}
