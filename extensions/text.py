"""Jinja filters that write answers into files: each format's string literal, and Markdown
paragraphs reflowed as a person would write them, whatever the conditionals left."""

import json
import re
import textwrap

import markupsafe
from jinja2.ext import Extension

WIDTH = 100
# Lines that start a Markdown block of their own: never joined with the lines around them.
BLOCK_START = re.compile(r"(#|\||```|<|>|\s{4})")
LIST_ITEM = re.compile(r"(\s*)([-*] |\d+\. )")
CODE_SPAN = re.compile(r"`[^`]*`")


def json_string(text: str) -> str:
    """A JSON string with every printable character written as itself, as a person would."""
    return json.dumps(text, ensure_ascii=False)


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes, but every printable character written as itself
    (TOML refuses the surrogate-pair escapes JSON writes for an emoji) and DEL escaped."""
    return json_string(text).replace("\x7f", "\\u007F")


def html_text(text: str) -> str:
    """Text for a Django template: HTML-escaped, and with braces as entities, so a name such as
    "{{ x }}" or "{% now %}" is shown as typed, never run as template code."""
    return str(markupsafe.escape(text)).replace("{", "&#123;").replace("}", "&#125;")


def python_string(text: str) -> str:
    """A Python string literal of text, written as ruff format writes it: in double quotes unless
    the text holds more double quotes than single ones."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return quote + "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped) + quote


def wrap(words, first_prefix, prefix):
    # A code span is never broken across lines: its spaces are hidden from textwrap.
    text = CODE_SPAN.sub(lambda match: match.group().replace(" ", "\0"), " ".join(words))
    lines = textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first_prefix,
        subsequent_indent=prefix,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace("\0", " ") for line in lines]


def markdown_reflow(markdown: str) -> str:
    """Each paragraph and list item refilled to WIDTH columns, one blank line between blocks;
    code, tables, headings and HTML left as they are."""
    output, paragraph, in_code = [], None, False

    def flush():
        nonlocal paragraph
        if paragraph is not None:
            output.extend(wrap(*paragraph))
        paragraph = None

    for line in markdown.split("\n"):
        if line.startswith("```"):
            flush()
            in_code = not in_code
            output.append(line)
        elif not in_code and not line.strip():
            flush()
            if output and output[-1].strip():  # one blank line between blocks, never two
                output.append("")
        elif in_code or BLOCK_START.match(line):
            flush()
            output.append(line)
        elif item := LIST_ITEM.match(line):
            flush()
            indent = item.group(1)
            paragraph = (
                [line[item.end() :]],
                indent + item.group(2),
                indent + " " * len(item.group(2)),
            )
        elif paragraph is not None:
            paragraph[0].append(line.strip())
        else:
            paragraph = ([line.strip()], "", "")
    flush()
    return "\n".join(output)


class TextFilters(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters.update(
            json_string=json_string,
            toml_string=toml_string,
            html_text=html_text,
            python_string=python_string,
            markdown_reflow=markdown_reflow,
        )
