"""What django-axes keys failed logins on: a keyed hash of the username, and the address
(bailanys.privacy.network.client_ip, the same reading as the flood limits and the audit).

Axes stores the "username" of every failed attempt. People type passwords
into the username field, and a list of names tried is personal data, so axes
only ever sees an HMAC of what was typed: the same name still gives the same
key (the lock works), but the table holds no name.
"""

from django.http import HttpRequest
from django.utils.crypto import salted_hmac


def username_key(request: HttpRequest | None, credentials: dict | None = None) -> str | None:
    if credentials:
        raw = credentials.get("username")
    elif request is not None:
        raw = getattr(request, "POST", {}).get("username")
    else:
        raw = None
    if not raw:
        return None
    return "h:" + salted_hmac("bailanys.login-throttle", str(raw)).hexdigest()[:40]
