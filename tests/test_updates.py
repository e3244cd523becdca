"""`copier update` is safe: a project made at any release, with its team's edits, updates to the
current template without conflicts, keeps every edit byte for byte, and still passes its own
tests. Copier exits 0 even when it leaves conflicts, so the tests look for them."""

import json
import re
import sys
import tomllib

import pytest
import yaml

from .helpers import (
    CREATE_DATABASE,
    NEXT_RELEASE_CMD,
    SERVICES,
    TEMPLATE_DIR,
    clean_environment,
    copier,
    database_name,
    git,
    releases,
    require_service,
    run,
    service_environment,
)

# Answers every release knows.
ANSWER_SETS = [
    {"project_name": "Café Orders", "database": "postgresql", "cache": "redis"},
    {"project_name": "Kiosk", "database": "sqlite", "cache": "none", "ci": "gitlab"},
]
# What a team adds to a project: appended to files the template renders, and a file of its own.
APPENDED = {
    "config/settings/base.py": "\n# Added by the team.\nUSE_THOUSAND_SEPARATOR = True\n",
    "{slug}/core/views.py": (
        '\n\ndef about(request):\n    return render(request, "core/home.html")\n'
    ),
    "README.md": "\n## Team notes\n\nOn call: the orders team, #orders-oncall.\n",
}
NEW_FILES = {"{slug}/core/pricing.py": '"""Pricing rules of the team."""\n\nVAT_RATE = 0.2\n'}
# Questions added after a release: a project made before them keeps its behaviour on update.
BEHAVIOUR_BEFORE = {
    "asgi": "false",
    "background_tasks": "none",
    "observability": "[]",
    "api": "none",
    "example_app": "false",
    # A database that already references auth.User cannot switch to another user model.
    "custom_user_model": "false",
}


def render_at(repository, ref, answers, destination):
    data = [arg for name, value in answers.items() for arg in ("-d", f"{name}={value}")]
    copier("copy", "--trust", "--defaults", "--vcs-ref", ref, *data, repository, destination)
    git("init", "-q", cwd=destination)
    git("add", "-A", cwd=destination)
    git("commit", "-qm", f"rendered at {ref}", cwd=destination)
    return destination


def make_team_edits(project, slug):
    for name, text in APPENDED.items():
        path = project / name.format(slug=slug)
        path.write_text(path.read_text() + text)
    for name, text in NEW_FILES.items():
        (project / name.format(slug=slug)).write_text(text)
    git("add", "-A", cwd=project)
    git("commit", "-qm", "team edits", cwd=project)


def update(project, *args):
    return copier("update", "--trust", "--defaults", "--conflict", "inline", *args, project)


def conflicts(project):
    """What the project's own detector (scripts/check_conflicts.py, run by `make template-update`)
    finds left unfinished: conflict markers, .rej files, unmerged paths."""
    result = run(["python3", "scripts/check_conflicts.py"], project, check=False)
    return [line.strip() for line in result.stderr.splitlines()[1:]]


def run_project_tests(project, answers):
    """The project's own suite, on the real services it chose."""
    for service in {answers["database"], answers["cache"]} & SERVICES.keys():
        require_service(service)
    env = clean_environment(**service_environment(answers, project, pgbouncer=None, emulator=None))
    run(["uv", "sync"], project, clean_environment(), timeout=900)
    if answers["database"] in CREATE_DATABASE:
        code = CREATE_DATABASE[answers["database"]].format(name=database_name(answers))
        run(["uv", "run", "python", "-c", code], project, env)
    result = run(["make", "test"], project, env)
    assert "skipped" not in result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("release", list(releases()))
@pytest.mark.parametrize("answers", ANSWER_SETS, ids=lambda answers: answers["database"])
def test_a_project_from_a_release_updates_cleanly_and_keeps_the_teams_edits(
    release_history, release, answers, tmp_path
):
    project = render_at(release_history, release, answers, tmp_path / "project")
    slug = re.search(r"^project_slug: (\S+)$", (project / ".copier-answers.yml").read_text(), re.M)[
        1
    ]
    make_team_edits(project, slug)

    update(project, "--vcs-ref", "HEAD")

    assert conflicts(project) == []
    for name, text in APPENDED.items():
        assert (project / name.format(slug=slug)).read_text().endswith(text), name
    for name, text in NEW_FILES.items():
        assert (project / name.format(slug=slug)).read_text() == text
    answers_file = (project / ".copier-answers.yml").read_text()
    assert f"_commit: {release}\n" not in answers_file, "the update did not happen"
    known_then = git("show", f"{release}:copier.yml", cwd=release_history).stdout
    for question, value in BEHAVIOUR_BEFORE.items():
        if f"\n{question}:" not in known_then:
            assert f"\n{question}: {value}\n" in answers_file
    # The release is part of the key: each test gets a database of its own, even in parallel.
    run_project_tests(project, answers | {"project_slug": slug, "updated_from": release})


def project_with_a_conflicting_edit(next_release, destination):
    """A project whose team changed the runtime CMD line, which the next release changes too."""
    repository, publish = next_release
    project = render_at(repository, "HEAD", ANSWER_SETS[1], destination)
    dockerfile = project / "Dockerfile"
    text = dockerfile.read_text()
    command = [line for line in text.splitlines() if line.startswith("CMD ")][-1]
    dockerfile.write_text(text.replace(command, 'CMD ["gunicorn", "--workers", "4"]'))
    git("commit", "-qam", "team: four workers", cwd=project)
    publish("99.0.0")
    return project


def test_a_conflicting_edit_leaves_inline_markers_that_are_detected(next_release, tmp_path):
    project = project_with_a_conflicting_edit(next_release, tmp_path / "project")

    result = update(project)
    found = conflicts(project)

    assert result.returncode == 0  # Copier reports success: only the detector notices
    assert "Dockerfile: conflict markers" in found
    assert all(where.startswith("Dockerfile:") for where in found)


@pytest.mark.parametrize(
    ("answers", "change"),
    [
        (
            {"project_name": "Switch Cache", "database": "postgresql", "cache": "redis"},
            {"cache": "memcached"},
        ),
        (
            {
                "project_name": "Switch Tasks",
                "database": "sqlite",
                "cache": "none",
                "background_tasks": "none",
            },
            {"background_tasks": "django_tasks"},
        ),
    ],
    ids=["cache=memcached", "background_tasks=django_tasks"],
)
def test_changing_an_answer_switches_the_backend_cleanly(
    release_history, answers, change, tmp_path
):
    project = render_at(release_history, "HEAD", answers, tmp_path / "project")
    data = [arg for name, value in change.items() for arg in ("-d", f"{name}={value}")]

    update(project, "--vcs-ref=:current:", *data)

    assert conflicts(project) == []
    recorded = (project / ".copier-answers.yml").read_text()
    for name, value in change.items():
        assert f"{name}: {value}" in recorded
    run_project_tests(project, answers | change)


def test_make_template_update_pulls_the_newest_release(next_release, tmp_path):
    repository, publish = next_release
    project = render_at(repository, "HEAD", ANSWER_SETS[1], tmp_path / "project")
    publish("99.0.0")

    check = run(["make", "--silent", "template-check"], project, clean_environment())
    run(["make", "template-update"], project, clean_environment())

    assert json.loads(check.stdout)["update_available"] is True
    assert NEXT_RELEASE_CMD in (project / "Dockerfile").read_text()
    assert "_commit: 99.0.0" in (project / ".copier-answers.yml").read_text()


def test_make_template_update_fails_while_conflicts_remain(next_release, tmp_path):
    project = project_with_a_conflicting_edit(next_release, tmp_path / "project")

    result = run(["make", "template-update"], project, clean_environment(), check=False)

    assert result.returncode != 0
    assert "Dockerfile: conflict markers" in result.stderr


RENAME_MIGRATIONS = """_migrations:
  - version: "99.0.0"
    when: "{{ _stage == 'before' }}"
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/scripts/migrate_answers.py",
              "rename-question", "author_name", "owner_name"]
  - version: "99.0.0"
    when: "{{ _stage == 'before' }}"
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/scripts/migrate_answers.py",
              "move-file", "scripts/backup.py", "scripts/db_backup.py"]
"""


def publish_rename_release(repository, version):
    """A release that renames the question author_name to owner_name and moves
    scripts/backup.py to scripts/db_backup.py, with migrations for both."""
    copier_yml = repository / "copier.yml"
    text = copier_yml.read_text().replace("author_name", "owner_name")
    copier_yml.write_text(text.replace("_migrations: []\n", RENAME_MIGRATIONS))
    template = repository / "template"
    for name in ("pyproject.toml.jinja", "Makefile.jinja", "README.md.jinja"):
        path = template / name
        text = path.read_text().replace("author_name", "owner_name")
        path.write_text(text.replace("scripts/backup.py", "scripts/db_backup.py"))
    git(
        "mv",
        "template/scripts/backup.py.jinja",
        "template/scripts/db_backup.py.jinja",
        cwd=repository,
    )
    git("commit", "-qam", f"release {version}", cwd=repository)
    git("tag", version, cwd=repository)


def test_a_renamed_question_keeps_the_teams_answer(next_release, tmp_path):
    repository, _ = next_release
    answers = ANSWER_SETS[1] | {"author_name": "Zoë O'Brien"}
    project = render_at(repository, "HEAD", answers, tmp_path / "project")
    publish_rename_release(repository, "99.0.0")

    update(project)

    assert conflicts(project) == []
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert recorded["owner_name"] == "Zoë O'Brien"
    assert "author_name" not in recorded
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["authors"][0]["name"] == "Zoë O'Brien"


def test_a_moved_file_takes_the_teams_edits_along(next_release, tmp_path):
    """The migration moves the edited file first; what the team changed stays in it, marked for
    review wherever it differs from the new release (the detector fails the update until then)."""
    repository, _ = next_release
    project = render_at(repository, "HEAD", ANSWER_SETS[1], tmp_path / "project")
    team_line = "# Team: also copy backups to the NAS."
    backup = project / "scripts" / "backup.py"
    backup.write_text(backup.read_text() + team_line + "\n")
    git("commit", "-qam", "team edit", cwd=project)
    publish_rename_release(repository, "99.0.0")

    update(project)

    moved = project / "scripts" / "db_backup.py"
    assert not backup.exists()
    assert team_line in moved.read_text().splitlines()
    assert all(where.startswith("scripts/db_backup.py:") for where in conflicts(project))


def test_answer_migrations_change_nothing_when_run_again(tmp_path):
    answers_file = tmp_path / ".copier-answers.yml"
    answers_file.write_text("_commit: 0.1.0\nauthor_name: Zoë\ncache: redis\nretired: x\n")
    script = [sys.executable, str(TEMPLATE_DIR / "scripts" / "migrate_answers.py")]
    steps = [["rename-question", "author_name", "owner_name"], ["remove-question", "retired"]]

    for _ in range(2):
        for step in steps:
            run([*script, "--answers-file", answers_file, *step], tmp_path)

    assert answers_file.read_text() == "_commit: 0.1.0\nowner_name: Zoë\ncache: redis\n"
