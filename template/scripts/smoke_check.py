"""Check a deployed service through its public URL, as its users reach it.

    python scripts/smoke_check.py https://api.example.com [--timeout SECONDS]

Passes once /health/ready/ answers 200 (the database and cache answer) and the home page answers
below 400, within --timeout seconds (default: SMOKE_CHECK_TIMEOUT, else 120; a rollout takes a
while to reach every replica). Otherwise exits 1, naming what failed last; the deploy scripts
roll back then.
SMOKE_CHECK_CA_BUNDLE names a CA file for a certificate the system does not trust.
"""

import argparse
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

PATHS = ("/health/ready/", "/")


def status(url, context):
    request = urllib.request.Request(url, headers={"User-Agent": "smoke-check"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, OSError) as error:
        return None, str(getattr(error, "reason", error))


def failures(base, context):
    """What fails now: (url, status or error) for each path that does not pass."""
    found = []
    for path in PATHS:
        code, error = status(base.rstrip("/") + path, context)
        passed = code == 200 if path.startswith("/health/") else code is not None and code < 400
        if not passed:
            found.append((path, code or error))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the service's public URL, e.g. https://api.example.com")
    default_timeout = float(os.environ.get("SMOKE_CHECK_TIMEOUT") or 120)
    parser.add_argument("--timeout", type=float, default=default_timeout)
    arguments = parser.parse_args()
    context = ssl.create_default_context(cafile=os.environ.get("SMOKE_CHECK_CA_BUNDLE") or None)
    deadline = time.monotonic() + arguments.timeout
    while True:
        failed = failures(arguments.url, context)
        if not failed:
            print(f"Smoke check passed: {', '.join(PATHS)} on {arguments.url}")
            return
        if time.monotonic() >= deadline:
            details = "; ".join(f"{path}: {what}" for path, what in failed)
            sys.exit(f"Smoke check failed on {arguments.url}: {details}")
        time.sleep(min(5, max(0.1, deadline - time.monotonic())))


if __name__ == "__main__":
    main()
