"""Create .env from .env.example with a fresh random DJANGO_SECRET_KEY.

Runs once when the project is generated; teammates run it after cloning. It never overwrites an
existing .env, and .env is gitignored, so the key never reaches the repository.
"""

import secrets
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main() -> int:
    dotenv = PROJECT_DIR / ".env"
    if dotenv.exists():
        print(f"{dotenv} already exists; leaving it untouched.")
        return 0
    lines = (PROJECT_DIR / ".env.example").read_text(encoding="utf-8").splitlines()
    secret_key = secrets.token_urlsafe(50)
    lines = [
        f"DJANGO_SECRET_KEY={secret_key}" if line.startswith("DJANGO_SECRET_KEY=") else line
        for line in lines
    ]
    dotenv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dotenv.chmod(0o600)
    print(f"Created {dotenv} with a new DJANGO_SECRET_KEY.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
