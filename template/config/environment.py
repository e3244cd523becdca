"""django-environ, strict: a malformed or out-of-range value stops startup with an
ImproperlyConfigured that names the variable and says what it expects, instead of a bare
ValueError, a KeyError from deep inside a library, or a silent fallback."""

import math
import re
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

NOTSET = environ.Env.NOTSET
BOOLEANS = {
    **dict.fromkeys(("true", "yes", "on", "1"), True),
    **dict.fromkeys(("false", "no", "off", "0"), False),
}
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What Django, DRF and the login limit accept: "5/min", "100/hour", ...
RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


class Env(environ.Env):
    def bool(self, var, default=NOTSET):
        text = self._text(var, default)
        if text is None or isinstance(text, bool):
            return text
        if text.strip().lower() not in BOOLEANS:
            raise invalid(var, text, "true or false (or yes/no, on/off, 1/0)")
        return BOOLEANS[text.strip().lower()]

    def int(self, var, default=NOTSET, *, minimum=None, maximum=None):
        return self._number(var, default, int, "a whole number", minimum, maximum)

    def float(self, var, default=NOTSET, *, minimum=None, maximum=None):
        return self._number(var, default, float, "a number", minimum, maximum)

    def choice(self, var, choices, default=NOTSET):
        value = self._text(var, default)
        if value not in choices:
            raise invalid(var, value, f"one of {', '.join(choices)}")
        return value

    def rate(self, var, default=NOTSET):
        value = self._text(var, default)
        if not RATE.fullmatch(value):
            raise invalid(var, value, "a rate such as 5/min (n/s, n/min, n/hour or n/day)")
        return value

    def url_path(self, var, default=NOTSET):
        value = self._text(var, default)
        if not re.fullmatch(r"([A-Za-z0-9._~-]+/)+", value):
            raise invalid(var, value, "a URL path that ends with / and does not start with one")
        return value

    def hosts(self, var, default=NOTSET):
        """Hostnames the service answers on: never "*", which would let any Host header in."""
        hosts = [host.strip() for host in self.list(var, default=default)]
        if not hosts or "*" in hosts or not all(hosts):
            raise invalid(var, ",".join(hosts), "comma-separated hostnames, without *")
        return hosts

    def origins(self, var, default=NOTSET):
        origins = [origin.strip() for origin in self.list(var, default=default)]
        for origin in origins:
            if not well_formed(origin, ("http", "https")) or urlsplit(origin).path:
                raise invalid(var, origin, "comma-separated origins such as https://example.com")
        return origins

    def service_url(self, var, schemes, default=NOTSET):
        """The URL of a service the project talks to, in one of these schemes, naming a host."""
        url = self.str(var, default=default)
        if url and url != default and not well_formed(url, schemes):
            raise invalid(var, redacted(url), f"a URL such as {schemes[0]}://host:port")
        return url

    def db_url(self, var="DATABASE_URL", default=NOTSET, engine=None, *, schemes=()):
        url = self.str(var, default=default)
        if not url.startswith("sqlite:") and not well_formed(url, schemes, path=True):
            example = f"{schemes[0]}://user:password@host:port/name" if schemes else "sqlite:///"
            raise invalid(var, redacted(url), f"a database URL such as {example}")
        return self.db_url_config(url, engine)

    db = db_url

    def _text(self, var, default):
        """The variable's text, or the default when it is unset or empty."""
        text = self.ENVIRON.get(var, "")
        if text.strip():
            return text
        if default is NOTSET:
            raise ImproperlyConfigured(f"Set the {var} environment variable.")
        return default

    def _number(self, var, default, kind, expected, minimum, maximum):
        text = self._text(var, default)
        if not isinstance(text, str):
            return text
        if minimum is not None and maximum is not None:
            bounds = f"from {minimum} to {maximum}"
        elif minimum is not None:
            bounds = f"at least {minimum}"
        else:
            bounds = f"at most {maximum}" if maximum is not None else ""
        try:
            value = kind(text)
        except ValueError:
            raise invalid(var, text, f"{expected} {bounds}".strip()) from None
        out_of_range = (minimum is not None and value < minimum) or (
            maximum is not None and value > maximum
        )
        if out_of_range or not math.isfinite(value):
            raise invalid(var, text, f"{expected} {bounds}")
        return value


def well_formed(url, schemes, path=False):
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return False
    named = parts.path.strip("/") if path else True
    return parts.scheme in schemes and bool(parts.hostname) and bool(named)


def redacted(url):
    """A URL as an error message may show it: without its password."""
    try:
        password = urlsplit(url).password
    except ValueError:  # not a URL: whatever precedes an @ may be a password
        return url.rpartition("@")[2]
    return url.replace(f":{password}@", ":***@", 1) if password else url


def invalid(var, value, expected):
    return ImproperlyConfigured(f"{var}={value!r} is not valid: expected {expected}.")
