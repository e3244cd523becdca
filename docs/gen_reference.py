"""Build docs/reference.md from copier.yml when the site is built (mkdocs-gen-files): the
reference cannot drift from the questions Copier asks."""

from pathlib import Path

import mkdocs_gen_files
import yaml

COPIER_YML = Path(__file__).resolve().parent.parent / "copier.yml"


def choices(spec):
    options = spec.get("choices")
    if isinstance(options, dict):
        return "<br>".join(f"`{value}`: {label}" for label, value in options.items())
    if options:
        return ", ".join(f"`{value}`" for value in options)
    return "`true`, `false`" if spec.get("type") == "bool" else "text"


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def reference(config):
    lines = [
        "# Reference",
        "",
        "Generated from `copier.yml` when this site is built. What each answer renders is in",
        "[What each answer renders](questions.md).",
        "",
        "| Question | Asks | Values | Default | Asked when |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, spec in config.items():
        if name.startswith("_"):
            continue
        default = spec.get("default", "required")
        when = spec.get("when", "always")
        lines.append(
            f"| `{name}` | {cell(spec.get('help', ''))} | {choices(spec)} "
            f"| `{cell(default)}` | `{cell(when)}` |"
        )
    return "\n".join(lines) + "\n"


with mkdocs_gen_files.open("reference.md", "w") as page:
    page.write(reference(yaml.safe_load(COPIER_YML.read_text())))
