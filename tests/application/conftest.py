"""The application tests run on every backend: in memory, SQLite and PostgreSQL.
``--backends memory`` (what `make check` passes) runs them in memory only."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.application.bootstrap import BACKENDS, Adapters, adapters_on


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=",".join(BACKENDS),
        help=f"The backends the application tests run on, of {', '.join(BACKENDS)} "
        "(comma-separated; all by default).",
    )


def chosen_backends(config: pytest.Config) -> list[str]:
    # Registered only when tests/application is named on the command line; a run of
    # the whole suite (which does not name it) takes every backend.
    chosen = str(config.getoption("--backends", default=",".join(BACKENDS))).split(",")
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"--backends: no backend {', '.join(sorted(unknown))}")
    return [backend for backend in BACKENDS if backend in chosen]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", chosen_backends(metafunc.config))


@pytest.fixture
def adapters(backend: str, tmp_path: Path) -> Iterator[Adapters]:
    with adapters_on(backend, tmp_path) as built:
        yield built
