"""Plain helpers that more than one test module uses (fixtures are in conftest.py)."""

import base64
import itertools
import json
import logging
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import translation
from django.utils.translation import gettext

from tests.conftest import bailanys_executable

# --- Finding personal data in raw bytes (canaries) -----------------------------


def _base64_inner(data: bytes) -> list[bytes]:
    """The base64 characters that encode `data` alone, at each of the three alignments."""
    found = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data)
        first = -(-8 * pad // 6)
        last = (8 * (pad + len(data))) // 6
        inner = encoded[first:last]
        if len(inner) >= 8:
            found.append(inner)
    return found


def canary_forms(canary: str) -> list[tuple[bytes, bool]]:
    """What would betray `canary`: (bytes, whether case is ignored).

    UTF-8 and JSON \\u escapes, ignoring the case of ASCII letters; base64 at
    each alignment, exactly.
    """
    raw = canary.encode()
    escaped = json.dumps(canary)[1:-1].encode()
    forms = [(raw, raw.isascii()), (escaped, True)]
    forms += [(inner, False) for inner in _base64_inner(raw)]
    return forms


def hits_in(blob: bytes, canaries) -> list[str]:
    """The `canaries` (strings) found in `blob`, in any form of `canary_forms`."""
    lowered = blob.lower()
    return [
        canary
        for canary in canaries
        if any(
            (form.lower() in lowered) if fold else (form in blob)
            for form, fold in canary_forms(canary)
        )
    ]


# --- Capturing every log record -------------------------------------------------


def capture_everything(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("django.request", "django.server", "django.db.backends", "bailanys"):
        caplog.set_level(logging.DEBUG, logger=name)


def log_text(caplog) -> bytes:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts).encode()


# --- An embedded installation: `bailanys` on SQLite in a data directory ---------


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an embedded installation: SQLite in `data_dir`, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAILANYS_")}
    env.pop("DATABASE_URL", None)
    # No outside feed is polled from a test (docs/status.md): a test sets its own fakes.
    env.update(BAILANYS_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", BAILANYS_OUTAGE_FEEDS="")
    env.update(extra)
    return env


def migrated_sqlite(tmp_path_factory, data_dir: Path) -> Path:
    """A data directory holding a migrated, empty database and no keys yet.

    `bailanys migrate` runs once per session; each test gets a copy of its result.
    """
    template = tmp_path_factory.getbasetemp() / "bailanys-migrated"
    database = template / "bailanys.sqlite3"
    if not database.exists():
        subprocess.run(
            [bailanys_executable(), "migrate", "-v0"],
            env=child_env(template),
            check=True,
            capture_output=True,
            timeout=120,
        )
    assert not (template / "master.keys").exists(), "migrating makes no keys"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(database, data_dir / database.name)
    return data_dir


# Routes the walks leave out, and why.
SKIPPED = {"i18n/": "Django's set_language: no data, only a redirect"}


def all_routes(patterns=None, prefix: str = ""):
    """Every route of the root URLconf, as Django's resolver_match.route spells it."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route in SKIPPED:
                continue
            if route == "admin/":
                yield route  # the admin's own pages are walked only at /admin/
                continue
            yield from all_routes(pattern.url_patterns, route)
        else:
            yield route


# --- Texting the fake sms-gate.app phone --------------------------------------------

SMSGATE_WEBHOOK = "/channels/smsgate/webhook"
_sms_numbers = itertools.count(3_000_000)
_sms_clock = itertools.count(1)


def new_number() -> str:
    """A Kazakh mobile number no other test in this session texts from."""
    return f"+7701{next(_sms_numbers)}"


def texted(fake, phone: str, text: str, **kwargs) -> None:
    """`phone` texts `text` to the fake phone, which posts it to our webhook; each SMS at
    its own millisecond, as a person's SMS arrive."""
    kwargs.setdefault(
        "received_at", datetime.now(UTC) + timedelta(milliseconds=next(_sms_clock) % 1000)
    )
    body, headers = fake.build_received(phone, text, **kwargs)
    response = Client().post(
        SMSGATE_WEBHOOK, data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 200, response.content


def texts_to(fake, phone: str) -> list[str]:
    """Every SMS the fake phone sent to `phone`, in order."""
    return [m["text"] for m in fake.outbox if phone in m["phoneNumbers"]]


def answer_to(fake, phone: str, text: str) -> list[str]:
    """What `phone` is sent after texting `text`, once the worker has emptied the outbox."""
    from tests.conftest import outbox_drain

    before = len(texts_to(fake, phone))
    texted(fake, phone, text)
    outbox_drain()
    return texts_to(fake, phone)[before:]


def said(language: str, msgid: str, **values) -> str:
    """`msgid` as the catalogue of `language` has it, with `values` filled in."""
    with translation.override(language):
        text = gettext(msgid)
    return text % values if values else text
