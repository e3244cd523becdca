"""Fail while `copier update` has left work unfinished: conflict markers, .rej files or unmerged
paths. Copier itself exits 0 when it leaves conflicts; `make template-update` runs this after it.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

# The lines `copier update --conflict inline` (and git) open and close a conflict with.
MARKER = re.compile(r"^(<{7}|>{7}) ", re.MULTILINE)


def git(*args):
    command = [shutil.which("git") or "git", *args]
    # A fixed program with fixed arguments: nothing comes from outside.
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603


def unfinished():
    found = {f"{line.split(chr(9))[-1]}: unmerged" for line in git("ls-files", "-u").splitlines()}
    for name in git("ls-files", "--cached", "--others", "--exclude-standard").splitlines():
        path = Path(name)
        if path.suffix == ".rej":
            found.add(f"{name}: rejected changes")
        elif path.is_file() and MARKER.search(path.read_text(errors="replace")):
            found.add(f"{name}: conflict markers")
    return sorted(found)


def main() -> int:
    if problems := unfinished():
        print("The template update left conflicts; resolve them, then commit:", file=sys.stderr)
        print("\n".join(f"  {problem}" for problem in problems), file=sys.stderr)
        return 1
    print("No conflicts.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
