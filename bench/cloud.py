"""What the storage readiness check costs, measured side by side in one run; prints ratios.

(g) requests/s of /health/ready/ for a project rendered with each cloud, served by the same
    gunicorn config (2 sync workers, base settings, SQLite, no cache), once with media on
    the cloud's local emulator (moto, gcp-storage-emulator, Azurite: each probe writes and
    deletes an object there) and once with media on the local disk (the same check, against
    FileSystemStorage), beside a cloud=none project whose probe checks the database only. Rounds
    are interleaved. An emulator on loopback answers in well under a millisecond: a real bucket
    adds its network round trips, which no figure here includes.

Usage: uv run python bench/cloud.py [--rounds N] [--seconds S]
Needs wrk (Debian package), uv and, for Azure, azurite-blob (npm); no other service.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.background import base_env, render
from bench.run import free_port, start_gunicorn, wrk
from tests.helpers import EMULATOR_COMMANDS, cloud_environment

ANSWERS = ["-d", "database=sqlite", "-d", "cache=none", "-d", "background_tasks=none"]
ANSWERS += ["-d", "observability=[]"]
HEADERS = {"Host": "bench-service.example.com"}
CLOUDS = ["aws", "gcp", "azure"]


def start_emulator(cloud):
    port = free_port()
    tools = Path(sys.executable).parent
    command = [part.format(tools=tools, port=port) for part in EMULATOR_COMMANDS[cloud]]
    command[0] = shutil.which(command[0]) or command[0]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    return process, port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-cloud-"))
    processes = []
    servers = {}  # name: port
    try:
        for cloud in ["none", *CLOUDS]:
            project = workdir / cloud
            render(project, [*ANSWERS, "-d", f"cloud={cloud}"])
            # base settings for all: production ones would refuse to start without a bucket.
            env = base_env(
                DATABASE_URL=f"sqlite:///{project / 'db.sqlite3'}",
                DJANGO_SETTINGS_MODULE="config.settings.base",
            )
            env.pop("CACHE_URL")
            python = str(project / ".venv/bin/python")
            subprocess.run(
                [python, "manage.py", "migrate", "-v0"], cwd=project, env=env, check=True
            )
            variants = {cloud: env} if cloud == "none" else {f"{cloud}, local disk": env}
            if cloud != "none":
                emulator, port = start_emulator(cloud)
                processes.append(emulator)
                on_emulator = env | cloud_environment(cloud, port, "bench")
                subprocess.run(
                    [python, "scripts/create_buckets.py"],
                    cwd=project,
                    env=on_emulator,
                    check=True,
                    capture_output=True,
                )
                variants[f"{cloud}, emulator"] = on_emulator
            for name, variant_env in variants.items():
                port = free_port()
                processes.append(start_gunicorn(project, variant_env, port))
                servers[name] = port
        time.sleep(5)
        for port in servers.values():
            wrk(f"http://127.0.0.1:{port}/health/ready/", 2, HEADERS)  # warm up
        rates = {name: [] for name in servers}
        for _ in range(args.rounds):  # interleaved, so drift hits all alike
            for name, port in servers.items():
                rates[name].append(
                    wrk(f"http://127.0.0.1:{port}/health/ready/", args.seconds, HEADERS)
                )
    finally:
        for process in processes:
            process.terminate()
            process.wait()
    print(
        f"(g) /health/ready/, medians of {args.rounds} x {args.seconds}s, gunicorn 2 workers, "
        "wrk -t2 -c16"
    )
    baseline = statistics.median(rates["none"])
    print(f"  cloud=none (database only): {baseline:.0f} req/s")
    for cloud in CLOUDS:
        disk = statistics.median(rates[f"{cloud}, local disk"])
        emulator = statistics.median(rates[f"{cloud}, emulator"])
        print(
            f"  {cloud}: local disk {disk:.0f} req/s ({disk / baseline:.2f}x none), "
            f"emulator {emulator:.0f} req/s ({emulator / baseline:.2f}x none, "
            f"{emulator / disk:.2f}x disk)"
        )


if __name__ == "__main__":
    main()
