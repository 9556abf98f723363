"""The actions app sits below decisions and telegrambot: it must never import them."""

import ast
from pathlib import Path

import actions

FORBIDDEN = ("decisions", "telegrambot")


def test_the_actions_app_imports_neither_decisions_nor_telegrambot():
    offenders = []
    for path in Path(actions.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] in FORBIDDEN]
    assert offenders == []
