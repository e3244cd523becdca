"""Summarise a Locust run: `python loadtest/summary.py loadtest-results/run_stats.csv`.

One line per endpoint and one for them all: requests, failures and the 50th, 95th and 99th
percentiles of response time, in milliseconds.
"""

import csv
import sys

COLUMNS = ["Requests", "Failures", "p50 ms", "p95 ms", "p99 ms"]
FIELDS = ["Request Count", "Failure Count", "50%", "95%", "99%"]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        with open(sys.argv[1], newline="") as file:
            rows = list(csv.DictReader(file))
    except FileNotFoundError:
        sys.exit(f"{sys.argv[1]} does not exist: Locust stopped before it ran (see above).")
    if not rows or rows[-1]["Request Count"] == "0":
        sys.exit(f"{sys.argv[1]} holds no requests: did the run reach the service?")
    width = max(len(f"{row['Type']} {row['Name']}".strip()) for row in rows)
    print(f"{'Endpoint':<{width}}  " + "  ".join(f"{column:>8}" for column in COLUMNS))
    for row in rows:
        name = f"{row['Type']} {row['Name']}".strip()
        print(f"{name:<{width}}  " + "  ".join(f"{row[field]:>8}" for field in FIELDS))


if __name__ == "__main__":
    main()
