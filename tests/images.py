"""Container images on a machine without a Docker engine or a registry: podman and buildah set up
for it, and local stand-ins for the images the rendered Dockerfile and compose.prod.yaml name.

The stand-ins are NOT the official images, which cannot be pulled here (tests/stand_ins/README.md
says what each is made of). They carry the label STAND_IN_LABEL and are only built where no image
of that name exists: a real one is never replaced.
"""

import fcntl
import os
import re
import resource
import shutil
import subprocess
import tarfile
from contextlib import contextmanager
from pathlib import Path

from .helpers import missing, podman, require_program, run

STAND_IN_LABEL = "io.github.django-foundry.stand-in"
# What python:<version>-slim holds besides CPython: the libraries its extension modules link.
BASE_PACKAGES = [
    "ca-certificates",
    "netbase",
    "tzdata",
    "libssl3",
    "libsqlite3-0",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "zlib1g",
    "libreadline8",
    "libncursesw6",
    "libuuid1",
    "libexpat1",
]
SLIM_EXCLUDES = ["man", "doc", "info", "locale", "lintian", "linda"]
DEBIAN_SOURCES = [
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
]
STAND_INS = Path(__file__).parent / "stand_ins"
STORE = "/var/tmp/django-foundry-tests/containers"
RUN_STORE = "/run/django-foundry-tests/containers"
# Service images of compose.prod.yaml, each from Debian's packages on the Debian stand-in.
SERVICE_STAND_INS = {
    "docker.io/library/nginx:1.27-alpine": "nginx",
    "docker.io/library/postgres:17": "postgres",
    "docker.io/library/redis:7.4-alpine": "redis",
}
DEBIAN_STAND_IN = "localhost/foundry-stand-in/debian:bookworm"


def engine_setup(directory):
    """CONTAINERS_CONF for podman and buildah on this machine, and the flags `podman build`
    needs here (through `make image BUILD_FLAGS=...`). A normal CI runner needs none of this.

    - crun refuses this machine's hybrid cgroups: runc with the cgroupfs manager;
    - compose networks resolve service names with netavark and aardvark-dns (not CNI);
    - podman's default ulimits exceed this sandbox's: the limits this process has;
    - images live in a store of the tests' own (STORE), not the machine's;
    - `uv sync` in the build must trust this machine's CA bundle: the bundle and a uv config
      that reads the system's certificates are mounted for the build's RUN steps only, so
      nothing of them reaches an image layer.
    """
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    conf = directory / "containers.conf"
    conf.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n\n'
        "[network]\n"
        'network_backend = "netavark"\n'
    )
    # A store of their own: the stand-ins never sit under official names in the machine's store,
    # where podman would later take them for the real images. Kept between runs, as a cache.
    storage = directory / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{STORE}/storage"\nrunroot = "{RUN_STORE}"\n'
    )
    uv_config = directory / "uv.toml"
    uv_config.write_text("native-tls = true\n")
    bundle = os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    build_flags = [
        "--pull=never",
        "--network=host",
        f"--volume={bundle}:/etc/ssl/certs/ca-certificates.crt:ro",
        f"--volume={uv_config}:/etc/uv/uv.toml:ro",
    ]
    return {"CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}, build_flags


def base_images(dockerfile):
    """The images the Dockerfile's FROM and COPY --from lines name, its ARGs substituted."""
    text = dockerfile.read_text()
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.MULTILINE))
    names = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    names += re.findall(r"--from=(\S+/\S+:\S+)", text)
    images = set()
    for name in names:
        for argument, value in arguments.items():
            name = name.replace(f"${{{argument}}}", value)
        if ":" in name:  # stage names (FROM builder) have no tag
            images.add(name)
    return images


@contextmanager
def machine_lock(name):
    """One builder of stand-ins at a time on this machine (xdist workers race otherwise)."""
    # In /tmp: every xdist worker (and every session on this machine) sees the same lock.
    with open(f"/tmp/{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_base_images(images, workdir, env):
    """Build a stand-in for each image the local storage does not have."""
    for program in ("podman", "buildah", "mmdebstrap", "runc"):
        require_program(program)
    with machine_lock("django-foundry-stand-ins"):
        for image in sorted(images):
            if podman("image", "exists", image, env=env, check=False).returncode == 0:
                continue
            if match := re.fullmatch(r"(?:docker\.io/library/)?python:(3\.\d+)-slim", image):
                build_python_stand_in(match.group(1), workdir, env)
            elif match := re.fullmatch(r"ghcr\.io/astral-sh/uv:([\d.]+)", image):
                build_uv_stand_in(match.group(1), workdir, env)
            elif qualified(image) in SERVICE_STAND_INS:
                build_service_stand_in(qualified(image), workdir, env)
            else:
                missing(f"no stand-in is known for the image {image}")


def qualified(image):
    """The name podman stores an image of Docker Hub's library under."""
    return image if "/" in image else f"docker.io/library/{image}"


def build_python_stand_in(version, workdir, env):
    found = subprocess.run(
        ["uv", "python", "find", "--no-project", version], capture_output=True, text=True
    )
    if found.returncode != 0:
        missing(f"no CPython {version} for the python:{version}-slim stand-in")
    prefix = Path(found.stdout.strip()).resolve().parent.parent
    context = workdir / f"python-{version}"
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy(debian_root(workdir, env), context / "rootfs.tar")
    library = f"lib/python{version}"
    skipped = (f"{library}/site-packages/", f"{library}/test/", f"{library}/idlelib/")
    skipped += (f"{library}/tkinter/",)

    def keep(member):
        name = member.name.removeprefix("./")
        if name.startswith(skipped) or "__pycache__" in name or name.endswith(".a"):
            return None
        return member

    with tarfile.open(context / "python.tar", "w") as archive:
        for part in ("bin", "lib", "include"):
            archive.add(prefix / part, arcname=part, filter=keep)
    shutil.copy(STAND_INS / "python" / "Containerfile", context)
    build_stand_in(context, f"docker.io/library/python:{version}-slim", env)


def build_uv_stand_in(version, workdir, env):
    uv = require_program("uv")
    reported = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout
    if reported.split()[1] != version:
        missing(f"the Dockerfile copies uv {version}; this machine has {reported.strip()}")
    context = workdir / f"uv-{version}"
    context.mkdir(parents=True, exist_ok=True)
    for name in ("uv", "uvx"):
        shutil.copy(Path(uv).with_name(name), context / name)
    shutil.copy(STAND_INS / "uv" / "Containerfile", context)
    build_stand_in(context, f"ghcr.io/astral-sh/uv:{version}", env)


def build_service_stand_in(image, workdir, env):
    if podman("image", "exists", DEBIAN_STAND_IN, env=env, check=False).returncode != 0:
        context = workdir / "debian"
        shutil.copytree(STAND_INS / "debian", context, dirs_exist_ok=True)
        shutil.copy(debian_root(workdir, env), context / "rootfs.tar")
        build_stand_in(context, DEBIAN_STAND_IN, env)
    build_stand_in(STAND_INS / SERVICE_STAND_INS[image], image, env)


def build_stand_in(context, name, env):
    label = f"{STAND_IN_LABEL}=a local stand-in for {name}, built by django-foundry's tests"
    command = ["buildah", "bud", "--pull=never", "--format=docker", "--network=host"]
    command += ["--label", label, "--tag", name, str(context)]
    run(command, context, env, timeout=900)


def debian_root(workdir, env):
    """A Debian bookworm minbase root filesystem as a tarball, made once per session."""
    rootfs = workdir / "rootfs.tar"
    if not rootfs.exists():
        command = ["mmdebstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
        command += ['--aptopt=Acquire::Languages "none"']
        # Like Debian's container images (docker-clean): apt keeps no package caches in layers.
        command += ['--aptopt=Dir::Cache::pkgcache ""', '--aptopt=Dir::Cache::srcpkgcache ""']
        # Like Debian's slim images: no manuals, documentation or translations.
        command += [f"--dpkgopt=path-exclude=/usr/share/{part}/*" for part in SLIM_EXCLUDES]
        command += ["--dpkgopt=path-include=/usr/share/doc/*/copyright"]
        command += ["bookworm", str(rootfs), *DEBIAN_SOURCES]
        run(command, workdir, env, timeout=900)
    return rootfs
