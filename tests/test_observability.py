"""Observability, run for real: promtool and amtool on every monitoring stack; a real Prometheus
scraping a project under gunicorn (2 workers) and evaluating every alert rule and dashboard
expression; OpenTelemetry spans sent to a real OTLP/HTTP receiver and joined to the log lines."""

import concurrent.futures
import json
import re
import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest
import yaml

from .helpers import Server, monitoring, require_program
from .matrix import DEFAULTS, PROJECTS


def chosen(param):
    return (DEFAULTS | param.values[0])["observability"]


def projects_observed_with(choice):
    return [param for param in PROJECTS if choice in chosen(param)]


PROMETHEUS_PROJECTS = projects_observed_with("prometheus")
OPENTELEMETRY_PROJECTS = projects_observed_with("opentelemetry")
with_prometheus_projects = pytest.mark.parametrize("project", PROMETHEUS_PROJECTS, indirect=True)
# Served by gunicorn in the tests below, with a real Prometheus scraping them (conftest.py): the
# default project (WSGI) and one with every choice (ASGI, Celery).
SERVED = [
    PROMETHEUS_PROJECTS[0],
    next(p for p in PROMETHEUS_PROJECTS if len(chosen(p)) == 3 and p.values[0].get("asgi")),
]
with_served_projects = pytest.mark.parametrize("scraped", SERVED, indirect=True)
# One WSGI and one ASGI project with OpenTelemetry.
TRACED = [
    next(p for p in OPENTELEMETRY_PROJECTS if not p.values[0].get("asgi")),
    next(p for p in OPENTELEMETRY_PROJECTS if p.values[0].get("asgi")),
]


def load_yaml(path):
    return yaml.safe_load(path.read_text())


# --- what is rendered ---------------------------------------------------------------------------


@pytest.mark.parametrize("project", PROJECTS, indirect=True)
def test_only_the_chosen_observability_is_rendered(project):
    choices = set(project.answers["observability"])
    pyproject = (project.path / "pyproject.toml").read_text()
    rendered = {
        "prometheus": (project.path / project.slug / "metrics").is_dir(),
        "sentry": (project.path / "config" / "sentry.py").is_file(),
        "opentelemetry": (project.path / "config" / "telemetry.py").is_file(),
    }
    packages = {
        "prometheus": "prometheus-client",
        "sentry": "sentry-sdk",
        "opentelemetry": "opentelemetry-sdk",
    }

    assert {name for name, present in rendered.items() if present} == choices
    assert {name for name, package in packages.items() if package in pyproject} == choices
    assert (project.path / "compose.monitoring.yaml").is_file() == ("prometheus" in choices)


# --- the monitoring stack, checked by Prometheus's and Alertmanager's own tools -----------------


@with_prometheus_projects
def test_monitoring_check_passes_promtool(project):
    """make monitoring-check: promtool check config (which checks the rules too) and promtool
    test rules on the rendered unit tests."""
    require_program("promtool")

    result = project.make("monitoring-check")

    assert "SUCCESS" in result.stdout


@with_prometheus_projects
def test_a_broken_alert_rule_fails_its_unit_tests(project, tmp_path):
    require_program("promtool")
    copy = tmp_path / "monitoring"
    shutil.copytree(monitoring(project), copy)
    rules = copy / "alerts.yml"
    rules.write_text(rules.read_text().replace("> 0.05", "> 0.5"))

    result = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yml"], cwd=copy, capture_output=True, text=True
    )

    assert result.returncode != 0
    assert "HighErrorRatio" in result.stdout + result.stderr


def interpolate(text, values=None):
    """compose's ${NAME:-default} and ${NAME:?error}, as compose resolves them from .env."""
    values = values or {}

    def resolve(match):
        name, operator, fallback = match.group(1), match.group(2), match.group(3)
        return values.get(name, fallback if operator == ":-" else f"{name.lower()}-value")

    return re.sub(r"\$\{([A-Z0-9_]+)(:[-?])([^}]*)\}", resolve, text)


def github_anchor(heading):
    """The id GitHub and GitLab give a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@with_prometheus_projects
def test_every_alert_links_its_section_of_the_projects_runbook(project):
    runbook = (project.path / "docs/runbook.md").read_text()
    anchors = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)}
    rules = yaml.safe_load((project.path / "deploy/monitoring/alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]

    for alert in alerts:
        path, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert path == "docs/runbook.md", alert["alert"]
        assert anchor in anchors, f"docs/runbook.md has no section for {alert['alert']}"


@with_prometheus_projects
def test_alertmanager_config_passes_amtool(project, tmp_path):
    require_program("amtool")
    compose = load_yaml(project.path / "compose.monitoring.yaml")
    config = tmp_path / "alertmanager.yml"
    config.write_text(interpolate(compose["configs"]["alertmanager"]["content"]))

    result = subprocess.run(["amtool", "check-config", config], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr
    routing = yaml.safe_load(config.read_text())
    assert routing["receivers"][0]["email_configs"][0]["to"] == project.answers.get(
        "author_email", "team@example.com"
    )


@with_prometheus_projects
def test_the_alertmanager_smtp_password_comes_from_env(project, tmp_path):
    compose = load_yaml(project.path / "compose.monitoring.yaml")
    content = compose["configs"]["alertmanager"]["content"]

    resolved = yaml.safe_load(interpolate(content, {"EMAIL_HOST_PASSWORD": "from-dotenv"}))

    assert resolved["global"]["smtp_auth_password"] == "from-dotenv"


@with_prometheus_projects
def test_monitoring_images_are_pinned_and_uis_listen_on_loopback(project):
    services = load_yaml(project.path / "compose.monitoring.yaml")["services"]

    for name, service in services.items():
        if "image" in service:
            assert re.search(r":v?\d+\.\d+\.\d+(-alpine)?$", service["image"]), name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), name


@with_prometheus_projects
def test_prometheus_scrapes_every_exporter_the_stack_runs(project):
    services = load_yaml(project.path / "compose.monitoring.yaml")["services"]
    config = load_yaml(monitoring(project) / "prometheus.yml")
    targets = {
        target.split(":")[0]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    exporters = {name for name in services if name.endswith("-exporter")}

    assert exporters <= targets
    assert "web" in targets
    workers = (
        {"critical-worker", "worker"} if project.answers["background_tasks"] != "none" else set()
    )
    assert workers == targets & {"critical-worker", "worker"}


def dashboard(project):
    return json.loads((monitoring(project) / "grafana/dashboards/service.json").read_text())


@with_prometheus_projects
def test_the_dashboard_uses_the_provisioned_data_source(project):
    provisioned = load_yaml(
        monitoring(project) / "grafana/provisioning/datasources/datasources.yml"
    )
    uids = {source["uid"] for source in provisioned["datasources"]}
    panels = dashboard(project)["panels"]
    titles = " ".join(panel["title"] for panel in panels)

    assert {panel["datasource"]["uid"] for panel in panels} <= uids
    assert all(panel["targets"] for panel in panels)
    for subject in ("Requests", "Error ratio", "latency", "query time", "Cache hit ratio"):
        assert subject in titles
    assert ("Tasks" in titles) == (project.answers["background_tasks"] != "none")


@pytest.mark.parametrize(
    "answers", [p for p in PROMETHEUS_PROJECTS if "opentelemetry" in chosen(p)]
)
def test_the_collector_pipelines_use_components_it_defines(installed_projects, answers):
    project = installed_projects(answers)
    config = load_yaml(monitoring(project) / "otel-collector.yml")

    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind])
    compose = load_yaml(project.path / "compose.monitoring.yaml")["services"]
    assert compose["web"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")


@pytest.mark.parametrize("answers", [p for p in PROJECTS if p.values[0].get("kubernetes")])
def test_kubernetes_pods_are_annotated_for_scraping_when_prometheus_is_chosen(
    installed_projects, answers
):
    project = installed_projects(answers)
    k8s = project.path / "deploy" / "k8s"
    deployments = [
        (name, document)
        for name in ("deployment.yaml", "worker-deployment.yaml")
        if (k8s / name).is_file()
        for document in yaml.safe_load_all((k8s / name).read_text())
    ]
    for name, deployment in deployments:
        template = deployment["spec"]["template"]
        annotations = template["metadata"].get("annotations", {})
        container = template["spec"]["containers"][0]
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        if "prometheus" in project.answers["observability"]:
            assert annotations["prometheus.io/scrape"] == "true", name
            assert int(annotations["prometheus.io/port"]) == ports["metrics"], name
        else:
            assert "prometheus.io/scrape" not in annotations, name


# --- a real Prometheus scraping the app under gunicorn ------------------------------------------


@with_served_projects
def test_prometheus_scrapes_the_app(scraped):
    _, _, prometheus, _ = scraped

    prometheus.wait_for('up{job="app"}', 1.0)


@with_served_projects
def test_request_counts_add_up_across_both_workers(scraped, traffic):
    project, _, prometheus, env = scraped

    prometheus.wait_for('sum(django_http_requests_total{view="home", status="200"})', traffic)
    # Each worker's own count, from the files the workers write.
    code = (
        "import glob, json, os\n"
        "from prometheus_client.mmap_dict import MmapedDict\n"
        "counts = {}\n"
        "directory = os.environ['PROMETHEUS_MULTIPROC_DIR']\n"
        "for path in glob.glob(os.path.join(directory, 'counter_*.db')):\n"
        "    for key, value, *_ in MmapedDict.read_all_values_from_file(path):\n"
        "        if 'django_http_requests_total' in key and '\"home\"' in key:\n"
        "            counts[path] = counts.get(path, 0) + value\n"
        "print(json.dumps(sorted(counts.values())))\n"
    )
    per_worker = json.loads(project.uv("python", "-c", code, env=env).stdout)
    assert len(per_worker) == 2, per_worker
    assert all(count > 0 for count in per_worker)
    assert sum(per_worker) == traffic


@with_served_projects
def test_health_probes_and_the_public_port_stay_out_of_the_metrics(scraped, traffic):
    project, server, prometheus, _ = scraped
    server.get("/health/live/", "10.1.2.3:8000")

    response, _ = server.page("/metrics", project)

    assert response.status == 404
    prometheus.wait_for('sum(django_http_requests_total{view="home"})', traffic)
    assert prometheus.value('count(django_http_requests_total{view=~"health.*"})') is None


@with_served_projects
def test_readiness_and_migrations_are_reported(scraped):
    _, server, prometheus, _ = scraped
    server.get("/health/ready/", "10.1.2.3:8000")

    prometheus.wait_for('min(django_health_check_up{check="database"})', 1.0)
    prometheus.wait_for("max(django_migrations_unapplied)", 0.0)
    prometheus.wait_for("sum(rate(django_db_query_duration_seconds_count[1m])) > bool 0", 1.0)


@with_served_projects
def test_every_alert_rule_evaluates_without_error(scraped, traffic):
    _, _, prometheus, _ = scraped
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
        if rules and all(rule.get("lastEvaluation", "").startswith("20") for rule in rules):
            break
        time.sleep(0.5)

    assert rules
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []


@with_served_projects
def test_every_dashboard_expression_evaluates_without_error(scraped, traffic):
    project, server, prometheus, _ = scraped
    expressions = [
        target["expr"] for panel in dashboard(project)["panels"] for target in panel["targets"]
    ]
    prometheus.wait_for('sum(django_http_requests_total{view="home"})', traffic)
    # A rate needs an increase Prometheus saw: a series it has scraped, then more requests (to
    # another view, so the home page's count stays put).
    server.page("/admin/login/", project)
    prometheus.wait_for('sum(django_http_requests_total{view="admin:login"})', 1.0)
    for _ in range(10):
        server.page("/admin/login/", project)
    prometheus.wait_for("sum(rate(django_http_requests_total[5m])) > bool 0", 1.0)

    results = {e: prometheus.api("query", query=e)["result"] for e in expressions}  # "success"

    assert results[expressions[0]], "no request rate by view"


@with_served_projects
def test_the_metrics_output_passes_promtool_check_metrics(scraped, traffic):
    _, _, _, env = scraped
    url = f"http://127.0.0.1:{env['METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read()

    result = subprocess.run(
        [require_program("promtool"), "check", "metrics"], input=text, capture_output=True
    )

    assert b"django_http_requests_total" in text
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == b""


# --- OpenTelemetry: spans to a real OTLP/HTTP receiver, joined to the log lines ------------------


def traced_server(project, receiver, log_path, **otel):
    """The project's gunicorn in production, exporting to the receiver every 100 ms."""
    env = project.production_env(
        DATABASE_SSLMODE="disable",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
        OTEL_BSP_SCHEDULE_DELAY="100",
        **otel,
    )
    project.manage("migrate", "--noinput", env=env)
    project.manage("collectstatic", "--noinput", env=env)
    return Server(project, env, log_path)


@pytest.mark.parametrize("answers", TRACED)
def test_spans_reach_the_collector_and_share_their_trace_id_with_the_log_line(
    installed_projects, answers, receiver, tmp_path
):
    project = installed_projects(answers)
    server = traced_server(
        project,
        receiver,
        tmp_path / "gunicorn.log",
        OTEL_TRACES_SAMPLER="parentbased_always_on",  # every request, so every log line joins
        OTEL_METRIC_EXPORT_INTERVAL="500",
    )
    paths, statuses = [], []

    def server_spans():
        return [(resource, span) for resource, span in receiver.spans() if span.kind == 2]

    def everything_exported():
        spans = server_spans()
        pids = {resource["process.pid"] for resource, _ in spans}
        return len(pids) == 2 and len({span.trace_id for _, span in spans}) >= len(paths)

    try:
        # gunicorn listens before its workers have started; one that is still starting serves
        # nothing, so send rounds of concurrent requests until both workers have exported.
        deadline = time.monotonic() + 60
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while not everything_exported() and time.monotonic() < deadline:
                batch = [f"/no-such-page-{n}/" for n in range(len(paths), len(paths) + 16)]
                paths += batch
                statuses += pool.map(lambda p: server.page(p, project)[0].status, batch)
                time.sleep(0.5)  # the export interval, so the next check sees this round
        server.get("/health/live/", "10.1.2.3:8000")
        time.sleep(0.5)
    finally:
        server.stop()

    assert statuses == [404] * len(paths)
    logged = {
        record["message"].removeprefix("Not Found: "): record["trace_id"]
        for line in (tmp_path / "gunicorn.log").read_text().splitlines()
        if (record := json.loads(line)).get("message", "").startswith("Not Found: ")
    }
    spans = server_spans()
    traces = {span.trace_id.hex() for _, span in spans}
    assert set(logged) == set(paths)
    assert set(logged.values()) <= traces  # every log line joins its request's trace
    # Both workers export (set up after the fork), under the project's service name.
    assert len({resource["process.pid"] for resource, _ in spans}) == 2
    assert {resource["service.name"] for resource, _ in spans} == {project.slug}
    # Probes are not traced. Metrics are exported too, unless Prometheus measures the requests.
    assert not any("/health/" in span.name for _, span in spans)
    prometheus = "prometheus" in project.answers["observability"]
    assert bool(receiver.exports.get("/v1/metrics")) is not prometheus


# Beside Prometheus, the sampler decides before the instrumentation runs
# (config/sampled_tracing.py): under WSGI, as adding opentelemetry to the default [prometheus]
# gives, and under ASGI.
SAMPLED = [
    *TRACED,
    next(
        p
        for p in OPENTELEMETRY_PROJECTS
        if "prometheus" in (DEFAULTS | p.values[0])["observability"] and not p.values[0].get("asgi")
    ),
]


@pytest.mark.parametrize("answers", SAMPLED)
def test_only_the_requests_the_sampler_keeps_are_traced(
    installed_projects, answers, receiver, tmp_path
):
    """Callers that sampled their trace get a server span joined to it, with its route; callers
    that did not get no span at all; and of the requests that start a trace, the ratio sampler
    keeps its share (one it kept twice would be sampled at the square of the ratio)."""
    project = installed_projects(answers)
    server = traced_server(
        project,
        receiver,
        tmp_path / "gunicorn.log",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.5",
    )
    callers = {flags: [uuid.uuid4().hex for _ in range(20)] for flags in ("01", "00")}
    try:
        for flags, trace_ids in callers.items():
            for trace_id in trace_ids:
                traceparent = f"00-{trace_id}-{'ab' * 8}-{flags}"
                headers = {"traceparent": traceparent}
                response, _ = server.page("/admin/login/", project, headers=headers)
                assert response.status == 200
        for _ in range(200):
            assert server.page("/", project)[0].status == 200
        time.sleep(1)  # a few export intervals
    finally:
        server.stop()

    served = [span for _, span in receiver.spans() if span.kind == 2]
    by_trace = {span.trace_id.hex(): span for span in served}
    assert set(callers["01"]) <= set(by_trace)
    assert all(by_trace[t].parent_span_id.hex() == "ab" * 8 for t in callers["01"])
    routes = {
        attribute.value.string_value
        for t in callers["01"]
        for attribute in by_trace[t].attributes
        if attribute.key == "http.route"
    }
    assert routes == {"admin/login/"}
    traced = {span.trace_id.hex() for _, span in receiver.spans()}
    assert not traced & set(callers["00"])
    started_here = len(served) - len(callers["01"])
    assert 75 <= started_here <= 125, started_here  # binomial(200, 0.5); 25 % would give ~50
