"""The dependency rule, checked on every run."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update((path.name, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((path.name, node.module))
    return found


def test_the_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_domain_uses_only_eventsourcings_domain_module_and_the_standard_library() -> None:
    allowed_third_party = {"eventsourcing.domain"}
    for filename, module in imported_modules("domain"):
        top = module.split(".")[0]
        if top == "domain" or top in sys.stdlib_module_names:
            continue
        assert module in allowed_third_party, f"domain/{filename} imports {module}"


def test_no_module_opens_a_database_at_import_time() -> None:
    code = (
        "import sys, sqlite3, psycopg\n"
        "opened = []\n"
        "real_sqlite, real_pg = sqlite3.connect, psycopg.connect\n"
        "sqlite3.connect = lambda *a, **k: opened.append(a) or real_sqlite(*a, **k)\n"
        "psycopg.connect = lambda *a, **k: opened.append(a) or real_pg(*a, **k)\n"
        "import api.app, api.cli, infrastructure.schema, application.commands\n"
        "api.app.create_app()\n"
        "assert not opened, opened\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
