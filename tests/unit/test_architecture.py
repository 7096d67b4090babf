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


def modules_of_the_four_layers() -> list[Path]:
    return sorted(path for layer in LAYERS for path in (ROOT / layer).rglob("*.py"))


def test_every_module_of_the_four_layers_opens_with_the_concept_it_holds() -> None:
    """One concept per module: its docstring's first sentence names what it holds.
    Whether that is one concept is a reader's call; this makes sure there is a
    sentence to judge, and a module holding two things shows in it."""
    unsaid = [
        str(path.relative_to(ROOT))
        for path in modules_of_the_four_layers()
        if not (ast.get_docstring(ast.parse(path.read_text(), str(path))) or "").strip()
    ]
    assert unsaid == []


def concept(module: Path) -> str:
    """A module's name with each word in the singular: ``records`` and ``record``
    name one concept, so a package holding both says it twice."""
    words = module.stem.split("_")
    return "_".join(word.removesuffix("s") if not word.endswith("ss") else word for word in words)


def test_no_two_modules_of_a_package_are_named_for_one_concept() -> None:
    named: dict[tuple[Path, str], list[str]] = {}
    for path in modules_of_the_four_layers():
        if path.stem != "__init__":
            named.setdefault((path.parent, concept(path)), []).append(path.name)
    assert [names for names in named.values() if len(names) > 1] == []


def test_no_module_of_the_four_layers_is_over_400_lines() -> None:
    """A backstop for accidents (a file pasted twice, a generated table), not the rule
    modules are cut by: that is one concept each, above."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules_of_the_four_layers()
        if (lines := len(path.read_text().splitlines())) > 400
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
