"""Where a request came from: the one reading of the client's address.

Flood limits, login throttling and the audit log all ask here. Without a proxy the
address is REMOTE_ADDR. Behind your own reverse proxy, set
BAILANYS_TRUST_X_FORWARDED_FOR=true: the address is then the last X-Forwarded-For
hop, the one your proxy appended (earlier hops are whatever the client claimed). Never
set it when clients reach Bailanys directly: anyone could then pick their own address
and slip past every limit (docs/deploy.md).
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address as text, or None when what we were given is not one."""
    candidate = request.META.get("REMOTE_ADDR", "")
    if settings.BAILANYS_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            candidate = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
