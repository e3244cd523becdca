"""The README's commands work exactly as written."""

import re
import subprocess

from .helpers import TEMPLATE_DIR, clean_environment

README = (TEMPLATE_DIR / "README.md").read_text()


def readme_command(section):
    """The first shell command under a README heading."""
    text = README.split(f"## {section}\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", text, flags=re.DOTALL).group(1)
    return block.splitlines()[0]


def test_readme_render_command_works_as_written_from_a_clone(tmp_path):
    clone = tmp_path / "django-foundry"
    subprocess.run(["git", "clone", "-q", str(TEMPLATE_DIR), str(clone)], check=True)

    command = readme_command("Render a project")
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my-service" / "cafe_orders" / "health" / "views.py").is_file()
    assert (tmp_path / "my-service" / ".env").is_file()


def test_ci_runs_the_readme_test_command():
    ci_script = (TEMPLATE_DIR / ".ci" / "run").read_text().splitlines()

    assert readme_command("Test the template") in ci_script
