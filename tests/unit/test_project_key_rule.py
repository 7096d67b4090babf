"""The one rule of project keys: one URL path segment, carried as it is by any client."""

import pytest

from application.tenancy import PROJECT_KEY_LENGTH
from application.tenants import random_token
from domain.project_key import MAX_PROJECT_KEY_LENGTH, is_project_key, project_key_problem


@pytest.mark.parametrize(
    "key",
    ["shopKey7aaaaaaaaaaaa", "3sWXSsqHgSKnE87YkNJK", "a", "a-b.c_d~e", "a..b", "k" * 64],
)
def test_keys_of_letters_digits_and_unreserved_marks_are_keys(key: str) -> None:
    assert is_project_key(key)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (None, "it is missing (NULL)"),
        ("", "it is empty"),
        ("k" * 65, "it is 65 characters long; a key has at most 64"),
        (".", "'.' alone is not a path segment (clients remove it from URLs)"),
        ("..", "'..' alone is not a path segment (clients remove it from URLs)"),
        ("web/../x", "it holds '/'"),
        ("line\nfeed", "it holds '\\n'"),
        ("with space", "it holds ' '"),
        ("50%off", "it holds '%'"),
        ("a?b", "it holds '?'"),
        ("a#b", "it holds '#'"),
        ("clé", "it holds 'é'"),
    ],
)
def test_a_key_that_is_not_one_plain_path_segment_is_refused_with_why(
    key: str | None, why: str
) -> None:
    problem = project_key_problem(key)
    assert problem is not None and problem.startswith(why)
    assert len(problem) < 120  # the key itself is never quoted whole


def test_the_keys_jobtrail_makes_keep_the_rule() -> None:
    assert PROJECT_KEY_LENGTH <= MAX_PROJECT_KEY_LENGTH
    assert all(is_project_key(random_token(PROJECT_KEY_LENGTH)) for _ in range(1000))
