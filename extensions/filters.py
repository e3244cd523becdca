"""Jinja filters used by copier.yml: slug derivation, answer validation, and telling a new
project from an existing one (the filters that write text into files are in text.py).

Each ``*_error`` filter returns an empty string for a valid answer, or the message Copier shows.
"""

import keyword
import re
import unicodedata
from pathlib import Path

from jinja2.ext import Extension

# Names a project package must not take: they would shadow a module the project imports.
RESERVED_SLUGS = frozenset(
    {
        "asyncio",
        "collections",
        "config",
        "csv",
        "datetime",
        "decimal",
        "django",
        "email",
        "environ",
        "functools",
        "gunicorn",
        "http",
        "json",
        "logging",
        "manage",
        "os",
        "pathlib",
        "pytest",
        "pythonjsonlogger",
        "re",
        "secrets",
        "site",
        "socket",
        "string",
        "sys",
        "tests",
        "test",
        "threading",
        "time",
        "types",
        "typing",
        "unittest",
        "uuid",
        "whitenoise",
    }
)
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,29}")
FALSE_WORDS = frozenset({"false", "no", "n", "off", "0"})
BOOLEAN_WORDS = FALSE_WORDS | {"true", "yes", "y", "on", "1"}
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+)")
HOST_LABEL_PATTERN = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


# Letters NFKD does not decompose into ASCII, spelled as their languages write them in ASCII.
TRANSLITERATIONS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "Ð": "D",
    }
)


def slugify(name: str) -> str:
    """Turn any project name into a Python package name: 'Café Orders' -> 'cafe_orders',
    'Über Straße' -> 'uber_strasse'."""
    ascii_name = (
        unicodedata.normalize("NFKD", name.translate(TRANSLITERATIONS))
        .encode("ascii", "ignore")
        .decode()
    )
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or "service"
    if slug[0].isdigit():
        slug = f"service_{slug}"
    slug = slug[:30].rstrip("_")
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug) or slug in RESERVED_SLUGS:
        slug = f"{slug[:22]}_service"
    return slug


def slug_error(slug: str) -> str:
    if not SLUG_PATTERN.fullmatch(slug):
        return (
            f"project_slug {slug!r} is not allowed: use 1 to 30 lowercase letters, digits and "
            "underscores, starting with a letter (e.g. cafe_orders)."
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"project_slug {slug!r} is a Python keyword; choose another name."
    if slug in RESERVED_SLUGS:
        return (
            f"project_slug {slug!r} would shadow a module the project imports; "
            f"choose another name (not one of: {', '.join(sorted(RESERVED_SLUGS))})."
        )
    return ""


def text_error(text: str, question: str) -> str:
    """Names and descriptions land in every file format: one line of printable text."""
    if not text.strip():
        return f"{question} must not be empty."
    if not text.isprintable():
        return (
            f"{question} {text!r} holds a line break or another control character: "
            "use one line of text."
        )
    return ""


def bool_error(answer, question: str) -> str:
    """Copier counts any text but no/false/off/0 as yes: only yes/no forms are answers."""
    if isinstance(answer, bool):
        return ""
    if str(answer).strip().lower() in BOOLEAN_WORDS:
        return ""
    return (
        f"{question}={answer!r} is not a yes/no answer: use true or false "
        f"(or {', '.join(sorted(BOOLEAN_WORDS - {'true', 'false'}))})."
    )


def raw_answer(copier_conf, question: str, default=None):
    """The answer as given (copier copy -d / --data-file), before Copier casts it."""
    return (copier_conf.get("data") or {}).get(question, default)


def inapplicable_error(copier_conf, question: str, applies: bool, why: str) -> str:
    """An answer given for a question the other answers skip would be silently dropped."""
    answer = raw_answer(copier_conf, question)
    given = answer not in (None, False, "") and str(answer).strip().lower() not in FALSE_WORDS
    if given and not applies:
        return f"{question}={answer!r} does not apply here: {why}."
    return ""


def hostname_error(host: str) -> str:
    message = (
        f"domain_name {host!r} is not a valid hostname: use lowercase DNS labels separated by "
        "dots, with no scheme, port or path (e.g. api.example.com)."
    )
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not labels[-1].isalpha():
        return message
    if not all(HOST_LABEL_PATTERN.fullmatch(label) for label in labels):
        return message
    return ""


def email_error(address: str) -> str:
    match = EMAIL_PATTERN.fullmatch(address)
    if match is None or hostname_error(match.group(1).lower()):
        return f"author_email {address!r} is not a valid email address (e.g. team@example.com)."
    return ""


def is_existing_project(copier_conf) -> bool:
    """True while updating a project (it has an answers file already), False for a new one.

    A question added in a later release defaults to the behaviour projects had before it
    existed when they update, and to the recommended value when they are created.
    """
    return (Path(copier_conf["dst_path"]) / copier_conf["answers_file"]).is_file()


class FoundryFilters(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters.update(
            slugify=slugify,
            slug_error=slug_error,
            text_error=text_error,
            bool_error=bool_error,
            raw_answer=raw_answer,
            inapplicable_error=inapplicable_error,
            hostname_error=hostname_error,
            email_error=email_error,
            is_existing_project=is_existing_project,
        )
