"""The runtime image: its size against its base, build times and time to ready, in one run.

(h) for each answer set: the runtime image's size and the base image's (the project's own layers
    are the difference); a build without the layer cache, and a rebuild after a source-only
    change (the edit-build loop); seconds from `podman run` to /health/ready/ answering 200.

Usage: uv run python bench/image.py [--rounds N]
Needs podman, buildah and mmdebstrap (see .ci/run), uv, and the loopback PostgreSQL and Redis the
template tests use. The base images are the local stand-ins tests/images.py builds (no registry
is reachable here): sizes are of those, not of the official images.
"""

import argparse
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE_DIR))

from bench.run import free_port  # noqa: E402
from tests.images import base_images, engine_setup, ensure_base_images  # noqa: E402

ANSWER_SETS = {
    "default answers": [],
    "mysql (mysqlclient compiled)": ["-d", "database=mysql", "-d", "cache=none"],
}
DATABASES = {
    "default answers": "postgres://postgres@127.0.0.1:5432/foundry_bench_image",
    "mysql (mysqlclient compiled)": "mysql://root@127.0.0.1:3306/foundry_bench_image",
}


def timed(command, cwd, env):
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def size_mb(image, env):
    output = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Size}}", image],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(output) / 1e6


def ready_after(image, env, database_url):
    """Seconds from `podman run` until /health/ready/ answers 200."""
    port = free_port()
    command = ["podman", "run", "--detach", "--network", "host", "--read-only", "--tmpfs", "/tmp"]
    variables = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "bench.example.com",
        "DATABASE_URL": database_url,
        "DATABASE_SSLMODE": "disable",
        "CACHE_URL": "redis://127.0.0.1:6379/13",
        "PORT": str(port),
        "METRICS_PORT": str(free_port()),
    }
    for name, value in variables.items():
        command += ["--env", f"{name}={value}"]
    started = time.perf_counter()
    container = subprocess.run(
        [*command, image], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        while time.perf_counter() - started < 60:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/health/ready/", headers={"Host": "10.1.2.3:8000"})
                if connection.getresponse().status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{image} did not get ready within 60 s")
    finally:
        subprocess.run(["podman", "rm", "--force", container], env=env, capture_output=True)


def create_database(url):
    name = url.rsplit("/", 1)[1]
    if url.startswith("postgres"):
        command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
        statements = [f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"]
    else:
        command = ["mariadb", "-h", "127.0.0.1", "-u", "root", "-e"]
        statements = [f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"]
    for statement in statements:
        subprocess.run([*command, statement], check=True, capture_output=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="foundry-bench-image-"))
    engine_env, build_flags = engine_setup(workdir)
    env = os.environ | engine_env | {"UV_PYTHON_DOWNLOADS": "never"}
    print(f"(h) runtime image, {args.rounds} rounds each (stand-in bases: tests/images.py)")
    for label, answers in ANSWER_SETS.items():
        project = workdir / label.split()[0]
        copier = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet"]
        copier += ["-d", "project_name=Bench Image", *answers, str(TEMPLATE_DIR), str(project)]
        subprocess.run(copier, check=True, capture_output=True)
        subprocess.run(["uv", "lock", "--quiet"], cwd=project, env=env, check=True)
        ensure_base_images(base_images(project / "Dockerfile"), workdir, env)
        image = f"localhost/foundry-bench/{project.name}:latest"
        build = ["podman", "build", "--target", "runtime", "--format", "docker", *build_flags]
        cold, warm, ready = [], [], []
        create_database(DATABASES[label])
        for _ in range(args.rounds):
            cold.append(timed([*build, "--no-cache", "--tag", image, "."], project, env))
            (project / "config" / "urls.py").write_text(
                (project / "config" / "urls.py").read_text() + "\n# edited\n"
            )
            warm.append(timed([*build, "--tag", image, "."], project, env))
            migrate = ["podman", "run", "--rm", "--network", "host"]
            migrate += ["--env", f"DATABASE_URL={DATABASES[label]}"]
            migrate += ["--env", "DJANGO_SETTINGS_MODULE=config.settings.base", image]
            migrate += ["python", "manage.py", "migrate", "-v0"]
            subprocess.run(migrate, env=env, check=True, capture_output=True)
            ready.append(ready_after(image, env, DATABASES[label]))
        base = next(name for name in base_images(project / "Dockerfile") if "python" in name)
        image_size, base_size = size_mb(image, env), size_mb(base, env)
        cold_s, warm_s = statistics.median(cold), statistics.median(warm)
        print(
            json.dumps(
                {
                    "answers": label,
                    "image_mb": round(image_size),
                    "base_mb": round(base_size),
                    "own_layers_mb": round(image_size - base_size),
                    "build_no_cache_s": round(cold_s, 1),
                    "rebuild_after_source_edit_s": round(warm_s, 1),
                    "rebuild_ratio": round(warm_s / cold_s, 2),
                    "run_to_ready_s": round(statistics.median(ready), 2),
                }
            )
        )
        subprocess.run(["podman", "rmi", "--force", image], env=env, capture_output=True)


if __name__ == "__main__":
    main()
