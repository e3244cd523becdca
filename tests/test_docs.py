"""The docs cannot drift from copier.yml: every question and every choice is documented."""

import pytest
import yaml

from .conftest import TEMPLATE_DIR

QUESTIONS = {
    name: spec
    for name, spec in yaml.safe_load((TEMPLATE_DIR / "copier.yml").read_text()).items()
    if not name.startswith("_")
}
README = (TEMPLATE_DIR / "README.md").read_text()
REFERENCE = (TEMPLATE_DIR / "docs" / "questions.md").read_text()


def reference_section(question):
    """The text under the reference heading that names the question, up to the next heading."""
    sections = REFERENCE.split("\n### ")[1:]
    return next((section for section in sections if f"`{question}`" in section.splitlines()[0]), "")


def choice_values(spec):
    choices = spec.get("choices", [])
    return list(choices.values()) if isinstance(choices, dict) else choices


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_question_is_in_the_readme_table(question):
    assert f"| `{question}` |" in README


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_question_has_a_reference_section(question):
    assert reference_section(question)


@pytest.mark.parametrize(
    ("question", "value"),
    [(name, value) for name, spec in QUESTIONS.items() for value in choice_values(spec)],
)
def test_every_choice_is_documented(question, value):
    assert f"`{value}`" in reference_section(question)
