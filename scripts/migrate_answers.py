"""Prepare a project for a release that renamed or removed a question or moved a file.

copier.yml's `_migrations` run this in the project, with Copier's Python, before `copier update`
renders the new release (the "before" stage; Copier reads the answers again afterwards):

    migrate_answers.py rename-question OLD NEW   the team's answer moves to the new name
    migrate_answers.py remove-question NAME      an answer nothing asks any more is dropped
    migrate_answers.py move-file OLD NEW         `git mv`, so the team's edits follow the file

Each step does nothing when there is nothing to do, so a migration can run twice.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import yaml


def load(answers_file):
    return yaml.safe_load(answers_file.read_text(encoding="utf-8")) or {}


def save(answers_file, answers):
    text = yaml.safe_dump(answers, allow_unicode=True, sort_keys=False)
    answers_file.write_text(text, encoding="utf-8")


def rename_question(answers_file, old, new):
    answers = load(answers_file)
    if old in answers and new not in answers:
        # Keep the key's position: the answers file stays diff-friendly.
        save(answers_file, {new if key == old else key: value for key, value in answers.items()})


def remove_question(answers_file, name):
    answers = load(answers_file)
    if name in answers:
        del answers[name]
        save(answers_file, answers)


def move_file(old, new):
    if Path(old).exists() and not Path(new).exists():
        Path(new).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "mv", old, new], check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers-file", type=Path, default=Path(".copier-answers.yml"))
    steps = parser.add_subparsers(dest="step", required=True)
    rename = steps.add_parser("rename-question")
    rename.add_argument("old")
    rename.add_argument("new")
    steps.add_parser("remove-question").add_argument("name")
    move = steps.add_parser("move-file")
    move.add_argument("old")
    move.add_argument("new")
    args = parser.parse_args(argv)

    if args.step == "rename-question":
        rename_question(args.answers_file, args.old, args.new)
    elif args.step == "remove-question":
        remove_question(args.answers_file, args.name)
    else:
        move_file(args.old, args.new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
