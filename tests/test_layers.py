"""The arrows between modules point one way: each rule names what a layer
may not import, read from the source (imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(pattern: str) -> list[Path]:
    return sorted(p for p in ROOT.glob(pattern) if "migrations" not in p.parts)


# (which files, which imports they may not make, why)
RULES = [
    ("annotate/queries.py", ("annotate.services",), "reads never call writes"),
    ("annotate/models.py", ("annotate.services",), "models know no services"),
    ("annotate/api/**/*.py", ("annotate.views",), "the API shares services, not views"),
    ("annotate/services/**/*.py", ("annotate.views", "annotate.api"), "no HTTP"),
    ("annotate/stats/*.py", ("django", "annotate"), "pure computation"),
    ("annotate/importers.py", ("django", "annotate.models"), "pure parsers"),
    ("annotate/exporters.py", ("django", "annotate.models"), "pure writers"),
    ("labelsets/**/*.py", ("annotate",), "label sets depend on nothing in annotate"),
]


@pytest.mark.parametrize(("pattern", "forbidden", "why"), RULES)
def test_no_module_imports_against_the_arrows(pattern, forbidden, why):
    files = sources(pattern)
    assert files, f"{pattern} matches nothing"
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if module.startswith(forbidden)
        and any(module == f or module.startswith(f"{f}.") for f in forbidden)
    ]
    assert not wrong, f"{why}: " + "; ".join(wrong)
