"""Container health check: exit 0 when /health/live/ answers 200, 1 otherwise.

Used by the Dockerfile's HEALTHCHECK and compose's healthcheck; needs nothing but Python (the
runtime image has no curl).
"""

import os
import sys
import urllib.request

URL = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/live/"


def main() -> int:
    try:
        with urllib.request.urlopen(URL, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"{URL}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
