"""Rendering is deterministic, keeps the secret out of tracked files, and survives an update."""

import subprocess
import sys

import pytest
import yaml

from .helpers import TEMPLATE_DIR, copier, git, render

ANSWERS = {"project_name": "Café Orders"}


def tracked_files(project):
    """What `git add -A` would commit in the rendered project."""
    subprocess.run(["git", "init", "-q"], cwd=project.path, check=True)
    listing = subprocess.run(
        ["git", "ls-files", "--others", "--cached", "--exclude-standard"],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=True,
    )
    return {project.path / name for name in listing.stdout.splitlines()}


def test_rendering_twice_gives_identical_files(template_renderer):
    first = render(template_renderer, ANSWERS).path
    second = render(template_renderer, ANSWERS).path

    def contents(root):
        return {
            path.relative_to(root): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.name != ".env"
        }

    assert contents(first) == contents(second)


def test_copy_writes_a_random_secret_key_into_env_only(template_renderer):
    project = render(template_renderer, ANSWERS)
    env_lines = (project.path / ".env").read_text().splitlines()
    secret = next(line for line in env_lines if line.startswith("DJANGO_SECRET_KEY="))
    secret = secret.removeprefix("DJANGO_SECRET_KEY=")

    assert len(secret) >= 50
    files = tracked_files(project)
    assert project.path / ".env" not in files
    assert all(secret not in path.read_text(errors="replace") for path in files)


def test_each_copy_gets_its_own_secret_key(template_renderer):
    first = (render(template_renderer, ANSWERS).path / ".env").read_text()
    second = (render(template_renderer, ANSWERS).path / ".env").read_text()

    assert first != second


def test_answers_file_records_an_absolute_template_path(template_renderer):
    project = render(template_renderer, ANSWERS)

    answers = (project.path / ".copier-answers.yml").read_text()

    assert "_src_path: /" in answers


def test_update_keeps_env_and_runs_no_task(template_renderer):
    project = render(template_renderer, ANSWERS)
    git("init", "-q", cwd=project.path)
    git("add", "-A", cwd=project.path)
    git("commit", "-qm", "Start from django-foundry", cwd=project.path)
    env_before = (project.path / ".env").read_text()

    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--vcs-ref=HEAD"],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert "create_dotenv" not in result.stdout + result.stderr
    assert (project.path / ".env").read_text() == env_before


@pytest.mark.parametrize(
    "preset", sorted((TEMPLATE_DIR / "presets").glob("*.yml")), ids=lambda p: p.stem
)
def test_a_preset_file_answers_the_questions_it_names(template_snapshot, preset, tmp_path):
    """`copier copy --data-file presets/<name>.yml`, as docs/presets.md tells teams to run it."""
    copier(
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref=HEAD",
        "--data-file",
        preset,
        "-d",
        "project_name=Preset Check",
        template_snapshot,
        tmp_path,
    )

    recorded = yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())

    assert recorded | yaml.safe_load(preset.read_text()) == recorded
