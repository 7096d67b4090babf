"""The dependency rule, checked on every run."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from domain.lifecycle import JobStatus

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


LAYERS = ("domain", "application", "infrastructure", "api")
STATUSES = {status.value for status in JobStatus}
QUOTED_STATUS = re.compile(r"""["']({})["']""".format("|".join(sorted(STATUSES))))


def test_no_module_of_the_four_layers_is_over_300_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 300
    }
    assert long == {}


def test_only_the_domain_spells_a_job_status() -> None:
    """Everything else asks domain.lifecycle.JobStatus, so a status cannot drift."""
    spelled = []
    for layer in LAYERS[1:]:
        for path in (ROOT / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    quoted = QUOTED_STATUS.search(node.value)
                    if node.value in STATUSES or quoted:
                        spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    for template in (ROOT / "api" / "templates").glob("*.html"):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            if QUOTED_STATUS.search(line):
                spelled.append(f"{template.relative_to(ROOT)}:{number}")
    assert spelled == []
