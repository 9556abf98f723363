"""The apps form layers and imports point down only: the contracts in pyproject.toml
([tool.importlinter]), checked by import-linter on every test run."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["agentsite", "budget", "memory", "actions", "decisions", "telegrambot"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def test_imports_point_down_the_layers_only():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, upward", [
    ("memory/selectors.py", "from decisions import models"),  # a lower app importing a higher one
    ("decisions/texts.py", "from agentsite import dashboard"),  # an app importing the project layer
    ("agentsite/core/clock.py", "import budget.models"),  # the kernel importing an app
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, upward):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / module, "a") as source:
        source.write(f"\n{upward}  # added by the test\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout
