"""Create .env from .env.example, with a fresh random value for every variable left blank there
(DJANGO_SECRET_KEY, the compose database passwords).

Runs once when the project is generated; teammates run it after cloning. It never overwrites an
existing .env, and .env is gitignored, so the secrets never reach the repository.
"""

import re
import secrets
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BLANK_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]*=")


def main() -> int:
    dotenv = PROJECT_DIR / ".env"
    if dotenv.exists():
        print(f"{dotenv} already exists; leaving it untouched.")
        return 0
    lines = (PROJECT_DIR / ".env.example").read_text(encoding="utf-8").splitlines()
    # URL-safe, so a password can go into a DATABASE_URL as it is.
    lines = [
        f"{line}{secrets.token_urlsafe(50)}" if BLANK_VARIABLE.fullmatch(line) else line
        for line in lines
    ]
    dotenv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dotenv.chmod(0o600)
    print(f"Created {dotenv} with new random secrets.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
