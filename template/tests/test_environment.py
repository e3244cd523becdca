"""The environment contract: .env.example and the README document exactly what the code reads."""

import ast
import re

from .conftest import PROJECT_DIR

READERS = [*sorted((PROJECT_DIR / "config").rglob("*.py")), PROJECT_DIR / "gunicorn.conf.py"]
READER_CALLS = re.compile(r"env|env\.\w+|env_int|os\.environ\.get|os\.getenv")
COMPOSE_FILES = sorted(PROJECT_DIR.glob("compose*.yaml"))
# Read by Django or by the platform rather than by our code.
READ_ELSEWHERE = {"DJANGO_SETTINGS_MODULE"}


def variables_read_by_code():
    """Names passed as the first argument to env(...), env.<type>(...) or os.environ.get(...)."""
    names = set()
    for path in READERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if READER_CALLS.fullmatch(ast.unparse(node.func)):
                names.add(first.value)
    return names


def variables_read_by_compose():
    """Names compose interpolates from .env: ${NAME}, ${NAME:?message}, ..."""
    text = "".join(path.read_text() for path in COMPOSE_FILES)
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


def variables_read():
    return variables_read_by_code() | variables_read_by_compose()


def variables_in_env_example():
    text = (PROJECT_DIR / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_env_example_lists_every_variable_the_code_reads():
    missing = variables_read() - variables_in_env_example()

    assert not missing, f"add these to .env.example: {sorted(missing)}"


def test_env_example_lists_no_variable_nothing_reads():
    unused = variables_in_env_example() - variables_read() - READ_ELSEWHERE

    assert not unused, f"nothing reads these .env.example entries: {sorted(unused)}"


def test_readme_documents_every_variable():
    readme = (PROJECT_DIR / "README.md").read_text()

    undocumented = {name for name in variables_in_env_example() if f"`{name}`" not in readme}

    assert not undocumented, f"document these in README.md: {sorted(undocumented)}"


def test_the_contract_scanners_find_what_the_settings_and_compose_read():
    # Guards the tests above against a scanner that silently finds nothing.
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "GUNICORN_WORKERS"} <= variables_read_by_code()
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"} <= variables_read_by_compose()
