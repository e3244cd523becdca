"""The docs cannot drift from copier.yml: every question and every choice is documented."""

import pytest

from .helpers import TEMPLATE_DIR
from .matrix import QUESTIONS

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


def test_the_docs_site_builds_strictly(site):
    assert (site / "index.html").is_file()


def test_the_generated_reference_lists_every_question_and_choice(site):
    reference = (site / "reference" / "index.html").read_text()

    for name, spec in QUESTIONS.items():
        assert f"<code>{name}</code>" in reference
        for value in choice_values(spec):
            assert f"<code>{value}</code>" in reference, (name, value)


def test_every_page_is_in_the_site_navigation():
    nav = (TEMPLATE_DIR / "mkdocs.yml").read_text()
    pages = {path.name for path in (TEMPLATE_DIR / "docs").glob("*.md")}

    assert {page for page in pages if f": {page}" not in nav} == set()
