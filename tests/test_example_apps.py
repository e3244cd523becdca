"""The example apps are deletable: deleted exactly as a project's README says, the project still
passes its checks, migrations, own tests, layer contracts and image smoke test."""

import pytest

from .matrix import TRIMMED_PROJECTS

with_each_trimmed_project = pytest.mark.parametrize(
    "trimmed_project", TRIMMED_PROJECTS, indirect=True
)


@with_each_trimmed_project
def test_the_readme_commands_delete_every_example_app(trimmed_project):
    package = trimmed_project.path / trimmed_project.slug

    assert not (package / "orders").exists()
    assert not (package / "notifications").exists()
    assert not list((trimmed_project.path / "tests").glob("*order*"))


@with_each_trimmed_project
def test_check_passes_without_the_example_apps(trimmed_project):
    result = trimmed_project.manage("check", "--fail-level", "WARNING")

    assert "no issues" in result.stdout


@with_each_trimmed_project
def test_no_migration_is_missing_without_the_example_apps(trimmed_project):
    trimmed_project.manage("makemigrations", "--check", "--dry-run")


@with_each_trimmed_project
def test_the_database_migrates_without_the_example_apps(trimmed_project):
    result = trimmed_project.manage("migrate", "--noinput")

    assert "orders" not in result.stdout


@with_each_trimmed_project
def test_the_projects_own_tests_pass_without_the_example_apps(trimmed_project):
    result = trimmed_project.uv("pytest", "-q", check=False)

    assert result.returncode == 0, result.stdout[-3000:]


@with_each_trimmed_project
def test_make_lint_passes_without_the_example_apps(trimmed_project):
    trimmed_project.make("lint")


@with_each_trimmed_project
def test_the_layer_contract_refuses_an_import_up_the_layers(trimmed_project):
    leak = trimmed_project.path / trimmed_project.slug / "core/leak.py"
    leak.write_text("from ..health import checks  # noqa: F401\n")
    try:
        result = trimmed_project.uv("lint-imports", "--no-cache", check=False)
    finally:
        leak.unlink()

    assert result.returncode != 0
    assert f"{trimmed_project.slug}.core is not allowed to import" in result.stdout


@with_each_trimmed_project
def test_the_cycle_contract_refuses_two_modules_importing_each_other(trimmed_project):
    core = trimmed_project.path / trimmed_project.slug / "core"
    (core / "cycle_a.py").write_text("from . import cycle_b  # noqa: F401\n")
    (core / "cycle_b.py").write_text("from . import cycle_a  # noqa: F401\n")
    try:
        result = trimmed_project.uv("lint-imports", "--no-cache", check=False)
    finally:
        (core / "cycle_a.py").unlink()
        (core / "cycle_b.py").unlink()

    assert result.returncode != 0
    assert "No import cycles between the modules of a package BROKEN" in result.stdout


@pytest.mark.parametrize("trimmed_project", TRIMMED_PROJECTS[:1], indirect=True)
def test_make_image_smoke_passes_without_the_example_apps(trimmed_image):
    assert "HEALTHCHECK passed, uid 10001" in trimmed_image.smoke.stdout
