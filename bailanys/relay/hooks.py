"""What the relay lets the layers above it act on, without knowing them.

The core imports no channel and no conversation. A layer above registers a function
here at start-up (in its AppConfig.ready), and the core calls it explicitly — no Django
signal carries business logic.
"""

from collections.abc import Callable

# Called inside the transaction that opens a case: (case_id=…, kind=…), the kind of its
# first request. What a hook writes commits with the case or not at all; it must be
# quick (the SMS bridge's hook queues a task for the worker and returns).
_CASE_OPENED: list[Callable[..., None]] = []


def case_opened_register(hook: Callable[..., None]) -> None:
    if hook not in _CASE_OPENED:
        _CASE_OPENED.append(hook)


def case_opened(*, case_id: int, kind: str) -> None:
    """Call inside the transaction that opened the case."""
    for hook in list(_CASE_OPENED):
        hook(case_id=case_id, kind=kind)


# Where a contact typed into the web form or the API can also be told: functions that
# take the contact and return [(channel, address)], registered by conversations (which
# know a phone number from a Telegram chat, and whether an SMS gateway is set up).
_CONTACT_ROUTES: list[Callable[[str], list[tuple[str, str]]]] = []


def contact_routes_register(route: Callable[[str], list[tuple[str, str]]]) -> None:
    if route not in _CONTACT_ROUTES:
        _CONTACT_ROUTES.append(route)


def contact_routes(contact: str) -> list[tuple[str, str]]:
    """Every (channel, address) the registered routes find in a contact, each once."""
    found: list[tuple[str, str]] = []
    for route in _CONTACT_ROUTES:
        for pair in route(contact) if contact else []:
            if pair not in found:
                found.append(pair)
    return found
