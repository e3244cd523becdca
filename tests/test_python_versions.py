"""Python 3.14 renders correctly; its test run belongs to the rendered project's own CI.

These machines have no 3.14 interpreter (uv may not download one), so this checks what can be
checked without one: the interpreter pin, requires-python, the ruff target, and lint on the
rendered code with that target. 3.12 and 3.13 projects are installed and tested in
test_projects.py.
"""

import sys
import tomllib

from .helpers import render, run


def test_python_3_14_project_pins_its_interpreter_and_tooling(template_renderer):
    project = render(template_renderer, {"project_name": "Orders", "python_version": "3.14"})

    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.14"
    assert pyproject["tool"]["ruff"]["target-version"] == "py314"
    assert (project.path / ".python-version").read_text().strip() == "3.14"
    run([sys.executable, "-m", "ruff", "check", "."], project.path)
    run([sys.executable, "-m", "ruff", "format", "--check", "."], project.path)
