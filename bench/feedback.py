"""The developer's loop, measured side by side in one run; prints ratios.

(h) the generated suite: `python -m pytest` in the default project and in the largest
    combination (both on SQLite, no services: the README's flow), each against a bare
    `django-admin startproject` whose suite has the same number of tests, each a request through
    the test client, run by the same interpreter and pytest-django;
(i) `manage.py check` from a cold interpreter, the default project against the bare one;
(j) `copier copy` with the default answers.
Each figure is the median of --rounds runs, after one warm-up run that writes the bytecode (as a
developer's second run would find it). PYTHONDONTWRITEBYTECODE is dropped from the environment:
with it set, every run compiles Django from source again.

The other figures of the loop come from their own scripts: task latency (bench/background.py),
telemetry overhead (bench/observability.py), probes (bench/run.py).

Usage: uv run python bench/feedback.py [--rounds N]
Needs uv; no service.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import TEMPLATE_DIR

KITCHEN = [
    "python_version=3.12",
    "database=postgresql",
    "cache=redis",
    "asgi=true",
    "background_tasks=celery",
    "task_broker=redis",
    'observability=["sentry", "opentelemetry", "prometheus"]',
    "api=ninja",
    "cloud=azure",
]
BARE_TESTS = """
import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("n", range({count}))
def test_admin_login_page(client, n):
    assert client.get("/admin/login/").status_code == 200
"""


def environment():
    drop = ("DJANGO_", "VIRTUAL_ENV", "DATABASE_", "CACHE_", "CELERY_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return env | {"UV_PYTHON_DOWNLOADS": "never"}


def timed(command, cwd, rounds):
    """Median wall time of `command` over `rounds` runs, after a warm-up run."""
    times = []
    for _ in range(rounds + 1):
        started = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"{command} failed in {cwd}:\n{result.stdout[-3000:]}")
    return statistics.median(times[1:]), result.stdout


def render(destination, answers):
    command = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet"]
    command += ["--vcs-ref=HEAD", "-d", "project_name=Bench Service"]
    for answer in answers:
        command += ["-d", answer]
    started = time.perf_counter()
    subprocess.run([*command, str(TEMPLATE_DIR), str(destination)], check=True, env=environment())
    elapsed = time.perf_counter() - started
    subprocess.run(["uv", "sync", "--quiet"], cwd=destination, env=environment(), check=True)
    return elapsed


def bare_project(workdir, python, tests):
    """startproject with `tests` requests to its admin login page, run by pytest-django."""
    project = workdir / "bare"
    project.mkdir()
    startproject = [python, "-m", "django", "startproject", "bare_site", str(project)]
    subprocess.run(startproject, check=True, env=environment())
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nDJANGO_SETTINGS_MODULE = "bare_site.settings"\n'
    )
    (project / "tests").mkdir()
    (project / "tests" / "test_pages.py").write_text(BARE_TESTS.format(count=tests))
    return project


def suite(project, python, rounds):
    seconds, output = timed(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, rounds
    )
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|skipped)", output)}
    return seconds, counts.get("passed", 0) + counts.get("skipped", 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-feedback-"))

    renders = [render(workdir / f"default{n}", []) for n in range(args.rounds + 1)]
    default = workdir / "default0"
    kitchen = workdir / "kitchen"
    render(kitchen, KITCHEN)
    python = str(default / ".venv" / "bin" / "python")

    default_seconds, default_tests = suite(default, python, args.rounds)
    bare = bare_project(workdir, python, default_tests)
    bare_seconds, _ = suite(bare, python, args.rounds)
    kitchen_python = str(kitchen / ".venv" / "bin" / "python")
    kitchen_seconds, kitchen_tests = suite(kitchen, kitchen_python, args.rounds)
    kitchen_bare = bare_project(workdir / "kitchen", kitchen_python, kitchen_tests)
    kitchen_bare_seconds, _ = suite(kitchen_bare, kitchen_python, args.rounds)
    check = [python, "manage.py", "check"]
    check_seconds, _ = timed(check, default, args.rounds)
    bare_check_seconds, _ = timed(check, bare, args.rounds)

    print(f"medians of {args.rounds} runs after a warm-up run")
    print(
        f"(h) default project's suite ({default_tests} tests): {default_seconds:.2f}s vs bare "
        f"startproject with {default_tests} requests {bare_seconds:.2f}s: "
        f"ratio {default_seconds / bare_seconds:.2f}x (target <= 5 s)"
    )
    print(
        f"(h) largest combination's suite ({kitchen_tests} tests): {kitchen_seconds:.2f}s vs "
        f"bare {kitchen_bare_seconds:.2f}s: ratio {kitchen_seconds / kitchen_bare_seconds:.2f}x "
        "(target <= 15 s)"
    )
    print(
        f"(i) manage.py check, cold: {check_seconds:.2f}s vs bare startproject "
        f"{bare_check_seconds:.2f}s: ratio {check_seconds / bare_check_seconds:.2f}x"
    )
    copy = statistics.median(renders[1:])
    print(
        f"(j) copier copy, default answers: median {copy:.2f}s "
        f"(min {min(renders[1:]):.2f}s, max {max(renders[1:]):.2f}s; target <= 1.0 s)"
    )


if __name__ == "__main__":
    main()
