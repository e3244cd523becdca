from django.http import JsonResponse
from django.views.decorators.http import require_safe

from .checks import run_checks


@require_safe
def live(request):
    """The process answers: no I/O, so a slow dependency never gets the pod restarted."""
    return JsonResponse({"status": "ok"})


@require_safe
def ready(request):
    """Every dependency answers: 503 takes the instance out of the load balancer."""
    results = run_checks()
    healthy = all(result["status"] == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
