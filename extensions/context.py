"""The facts templates use besides the answers, derived once from the complete answers.

Each concern derives its own facts in a module of its own (services, dependencies, cloud,
environment, processes, layout); ``derive`` runs them in that order, each seeing the facts
before it. A template uses a fact by its one name and never re-derives it from the answers. A
name starting with an underscore is handed from one concern to a later one, not to templates.
"""

import json
from functools import cache
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

import yaml
from copier_template_extensions import ContextHook

HERE = Path(__file__).resolve().parent
CONCERNS = ("services", "dependencies", "cloud", "environment", "processes", "layout")


@cache
def load(name):
    """A sibling module, loaded from its file once: Copier loads this one by path, not as a
    package, and an update loads two versions of the template (each its own `load`) in one
    process."""
    spec = spec_from_file_location(f"foundry_extensions_{name}", HERE / f"{name}.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def questions():
    return yaml.safe_load((HERE.parent / "copier.yml").read_text(encoding="utf-8"))


@cache
def labels():
    """Each choice's short label as copier.yml words it: the text before its parenthesis."""
    return {
        name: {value: label.split(" (")[0] for label, value in question["choices"].items()}
        for name, question in questions().items()
        if isinstance(question, dict) and isinstance(question.get("choices"), dict)
    }


def complete(answers):
    """The answers with those Copier skipped (``when`` false) at their copier.yml default."""
    skipped = {
        name: question["default"]
        for name, question in questions().items()
        if isinstance(question, dict) and "when" in question and answers.get(name) is None
    }
    return answers | skipped


def derive(answers):
    """Every derived fact, from the complete answers (Copier asks for them about a thousand times
    a render: each set of answers is derived once)."""
    names = [name for name in questions() if not name.startswith("_")]
    return derived(json.dumps({name: answers.get(name) for name in names}, sort_keys=True))


@cache
def derived(answers_json):
    answers = complete(json.loads(answers_json))
    facts = {"labels": labels()}
    for name in CONCERNS:
        facts |= load(name).derive(answers, facts)
    return {name: value for name, value in facts.items() if not name.startswith("_")}


class DerivedContext(ContextHook):
    def hook(self, context):
        # While prompting, later answers do not exist yet; the files are rendered with all of them.
        if context.get("_copier_phase") == "render":
            context.update(derive(context))
