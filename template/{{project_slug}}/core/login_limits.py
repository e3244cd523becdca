"""A rate limit on login attempts, so password guessing gets a 429 long before it gets far.

Attempts are counted per client IP in the default cache for one period of LOGIN_RATE_LIMIT
(e.g. "5/min"). Without a working cache the limit is not enforced: logins keep working.
"""

import functools

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate):
    """'5/min' -> (5, 60): the period is read from its first letter, as DRF reads it."""
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


def client_ip(request):
    """The client's address as the outermost of our NUM_PROXIES proxies saw it.

    X-Forwarded-For is a list the client may have started itself: only the entries our own
    proxies appended, counted from the end, can be trusted.
    """
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and settings.NUM_PROXIES:
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(settings.NUM_PROXIES, len(addresses))]
    return request.META.get("REMOTE_ADDR", "")


def limit_login_attempts(view):
    """Answer 429 to a client's login POSTs past LOGIN_RATE_LIMIT."""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        if request.method == "POST":
            limit, period = parse_rate(settings.LOGIN_RATE_LIMIT)
            key = f"login-attempts:{client_ip(request)}"
            cache.add(key, 0, period)
            try:
                attempts = cache.incr(key)
            except ValueError:  # expired between add() and incr()
                attempts = 1
            if attempts is not None and attempts > limit:
                return HttpResponse(
                    "Too many login attempts. Try again later.\n",
                    status=429,
                    content_type="text/plain",
                    headers={"Retry-After": str(period)},
                )
        return view(request, *args, **kwargs)

    return limited
