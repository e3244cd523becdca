"""A newcomer's first minutes, as the README tells them: right after `copier copy`, with no
service and no environment, the "Run it" and "Test it" commands work as written.

Run on the fewest projects that together give every question each of its values (the rest of
a project's code is the same with or without services, and test_projects.py runs every
project's suite against real services).
"""

import os
import re
import signal
import subprocess
import urllib.request

import pytest

from .helpers import clean_environment, free_port, run, wait_until_listening
from .matrix import EVERY_VALUE_ONCE

pytestmark = pytest.mark.parametrize("project", EVERY_VALUE_ONCE, indirect=True)


def newcomer_environment():
    """What a newcomer has right after `copier copy`: no DATABASE_URL, CACHE_URL,
    CELERY_BROKER_URL, DJANGO_SETTINGS_MODULE, cloud or CI variable; only the project's .env."""
    return {name: value for name, value in clean_environment().items() if name != "CI"}


def test_readme_run_commands_work_with_no_services(project, newcomer_database):
    """The README's "Run it" line as written (the test picks runserver's port), then probes."""
    [command] = project.readme_commands("Run it")
    assert command.endswith("manage.py runserver")
    env = newcomer_environment()
    check = project.uv("python", "manage.py", "check", env=env)
    assert "System check identified no issues" in check.stdout

    port = free_port()
    server = subprocess.Popen(
        ["bash", "-c", f"{command} --noreload 127.0.0.1:{port}"],
        cwd=project.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # one process group: uv, manage.py and runserver stop together
    )
    try:
        wait_until_listening(port, server, "migrate && runserver", timeout=120)
        home = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready/", timeout=10)
        assert home.status == 200
        assert ready.status == 200
        assert newcomer_database.is_file()  # migrate ran on the fallback SQLite database
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_readme_test_command_passes_with_no_services(project, newcomer_database):
    """The README's "Test it" command as written: green, and every skip says why."""
    [command] = project.readme_commands("Test it")
    assert command == "uv run pytest"

    result = run(["bash", "-c", command], project.path, newcomer_environment(), check=False)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "error" not in summary, summary
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all(re.match(r"SKIPPED \[\d+\] \S+:\d+: \S", line) for line in skips), skips
