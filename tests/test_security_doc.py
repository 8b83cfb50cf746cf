"""docs/security.md names a test for every claim: each one it names must exist (a renamed or
deleted test must not leave a claim standing on nothing)."""

from __future__ import annotations

import ast
import fnmatch
import re

from driver import ROOT

REF = re.compile(r"`((?:tests/[\w/]+\.py)|\.\.\.)(?:::([\w*\[\]\-]+))?`")


def functions_in(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_the_security_page_names_exists():
    text = (ROOT / "docs" / "security.md").read_text()
    current, checked, missing = None, 0, []
    for match in REF.finditer(text):
        file, name = match.groups()
        if file != "...":
            current = file
        assert current is not None, match.group(0)
        path = ROOT / current
        if not path.exists():
            missing.append(current)
            continue
        checked += 1
        if name:
            base = name.split("[")[0]
            if not fnmatch.filter(functions_in(path), base):
                missing.append(f"{current}::{name}")
    assert checked >= 40
    assert missing == []
