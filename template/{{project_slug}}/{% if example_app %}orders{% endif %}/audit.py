"""Audit entries: who changed an order, from where, and the values before and after.

Every service in services.py takes an Actor and records its changes with it: the user and the
request on the web and the API, the task or the management command otherwise.
"""

import ipaddress
from dataclasses import dataclass
from typing import Any

from ..core.login_limits import client_ip
from ..core.request_id import current_request_id
from .models import AuditEntry


@dataclass(frozen=True)
class Actor:
    user: Any  # the signed-in user; None for a task or a command, which act for the system
    source: str
    request_id: str = ""
    client_address: str | None = None

    @classmethod
    def of_request(cls, request, user):
        """The user who sent the request, from the address the rate limits count."""
        return cls(user, "request", request_id(), valid_address(client_ip(request)))

    @classmethod
    def task(cls, name):
        """A background task, with the ID of the request that queued it."""
        return cls(None, f"task {name}", request_id())

    @classmethod
    def command(cls, name):
        return cls(None, f"command {name}")


def request_id():
    request_id = current_request_id.get()
    return "" if request_id == "-" else request_id


def valid_address(address):
    """Only an IP address, without an IPv6 zone (databases refuse one): a forwarded header can
    carry anything."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return None if getattr(ip, "scope_id", None) else str(ip)


def snapshot(order):
    return {"status": order.status, "total": order.total}


def entry(order, actor, action, before):
    """An unsaved entry for the change, with the order as it is now."""
    return AuditEntry(
        order=order,
        actor=actor.user,
        source=actor.source,
        request_id=actor.request_id,
        client_address=actor.client_address,
        action=action,
        before=before,
        after=snapshot(order),
    )


def record(order, actor, action, before):
    entry(order, actor, action, before).save()
