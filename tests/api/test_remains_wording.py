"""How `targets find` and `audit prove` say what a search searched: counts in plain
words, each kind in its singular or its plural."""

from api.cli.remains import searched_words


def test_what_a_search_searched_reads_as_words_in_the_singular_and_the_plural() -> None:
    assert searched_words({"targets": 1, "columns": 42, "targetColumns": 28}) == (
        "1 target, 42 columns, 28 columns counted by their targets"
    )
    assert searched_words({"targetColumns": 1, "objectPatterns": 2}) == (
        "1 column counted by its target, 2 object patterns"
    )
