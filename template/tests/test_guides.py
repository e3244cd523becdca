"""The guides name only what exists: every `make` target they tell you to run is in the Makefile,
and every file AGENTS.md points to is in the project."""

import re

import pytest

from .conftest import PROJECT_DIR

GUIDES = ["README.md", "AGENTS.md", "docs/runbook.md"]
CODE = re.compile(r"`([^`\n]+)`")


def makefile_targets():
    text = (PROJECT_DIR / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.MULTILINE))


def make_targets_named(text):
    """The targets of each `make ...` in inline code (`make lint test`, `make restore FILE=x`)."""
    targets: set[str] = set()
    for code in CODE.findall(text):
        words = code.split()
        if words[:1] == ["make"]:
            targets.update(word for word in words[1:] if "=" not in word)
    return targets


def paths_named(text):
    """Inline code that is a path in the project (`config/`, `tests/factories.py`; no
    placeholders)."""
    return {
        code.rstrip("/")
        for code in CODE.findall(text)
        if re.fullmatch(r"[\w.-]+(/[\w.-]+)*/?", code) and "/" in code
    }


@pytest.mark.parametrize("guide", GUIDES)
def test_every_make_target_a_guide_names_exists(guide):
    named = make_targets_named((PROJECT_DIR / guide).read_text())
    assert named, f"{guide} names no make target"
    assert named <= makefile_targets(), f"not in the Makefile: {named - makefile_targets()}"


def test_every_file_agents_md_points_to_exists():
    named = paths_named((PROJECT_DIR / "AGENTS.md").read_text())
    missing = {path for path in named if not (PROJECT_DIR / path).exists()}
    assert not missing, f"AGENTS.md points to files that do not exist: {missing}"
