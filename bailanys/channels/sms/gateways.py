"""The SIM pool: which gateway sends next, within its per-minute rate and daily cap."""

import re
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from bailanys.channels.events import Heartbeat, emit
from bailanys.channels.sms.models import SmsGateway

ENV_NAME = "env"


def gateway_env() -> SmsGateway | None:
    """The gateway described by BAILANYS_SMSGATE_*, created or brought up to date; None if unset."""
    if not settings.BAILANYS_SMSGATE_URL:
        return None
    wanted = {
        "url": settings.BAILANYS_SMSGATE_URL,
        "username": settings.BAILANYS_SMSGATE_USERNAME,
        "password": settings.BAILANYS_SMSGATE_PASSWORD,
        "signing_key": settings.BAILANYS_SMSGATE_SIGNING_KEY,
        "per_minute": settings.BAILANYS_SMS_PER_MINUTE,
        "daily_cap": settings.BAILANYS_SMS_DAILY_CAP,
    }
    gateway = SmsGateway.objects.filter(name=ENV_NAME).first()
    if gateway is None:
        gateway, _created = SmsGateway.objects.get_or_create(
            name=ENV_NAME, defaults={**wanted, "from_env": True}
        )
    changed = [field for field, value in wanted.items() if getattr(gateway, field) != value]
    if changed:
        for field in changed:
            setattr(gateway, field, wanted[field])
        gateway.save(update_fields=changed)
    return gateway


def gateways_configured() -> list[SmsGateway]:
    gateway_env()
    return list(SmsGateway.objects.filter(enabled=True).order_by("pk"))


# Whether any gateway is on, asked on every new case (does the SMS bridge start?):
# remembered for a few seconds per process instead of read each time. A change made in
# this process (a gateway added, switched, the settings) is seen at once; another
# process's, within GATEWAYS_KNOWN_SECONDS.
GATEWAYS_KNOWN_SECONDS = 10
_gateways_known: tuple[float, bool] | None = None


def gateways_any() -> bool:
    global _gateways_known
    now = time.monotonic()
    if _gateways_known is None or now - _gateways_known[0] >= GATEWAYS_KNOWN_SECONDS:
        _gateways_known = (now, bool(gateways_configured()))
    return _gateways_known[1]


def gateways_forget(**_signal) -> None:
    """Read the gateways again on the next gateways_any() (a change here, or a setting)."""
    global _gateways_known
    _gateways_known = None


def sent_today(gateway: SmsGateway) -> int:
    """SMS parts handed to this gateway since local midnight."""
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    total = gateway.deliveries.filter(created_at__gte=midnight).aggregate(n=Sum("segments"))["n"]
    return total or 0


# A stale HTTP provider is tried again (one message, as a probe) this long after it last
# failed: it sends no heartbeat, so only a send can tell that it is back.
PROBE_AFTER = timedelta(minutes=1)


def probe_due(gateway: SmsGateway, now=None) -> bool:
    """A stale HTTP provider whose probe is due: PROBE_AFTER since it last failed."""
    if gateway.kind != SmsGateway.Kind.HTTP or gateway.stale_since is None:
        return False
    return gateway.stale_since <= (now or timezone.now()) - PROBE_AFTER


def usable(gateway: SmsGateway) -> bool:
    """Not stale, or an HTTP provider due for a probe: a stale phone or modem is sent
    nothing until it is heard from again (a heartbeat, a report, a received SMS)."""
    return gateway.stale_since is None or probe_due(gateway)


def send_order(
    to_e164: str, segments: int, *, avoid=(), share: int = 100
) -> tuple[list[list[SmsGateway]], bool]:
    """Gateways that may take `segments` more parts today, in tiers of equally good ones,
    best tier first (within a tier, the one that has sent least today first), and whether
    any other one was left out only because it is stale.

    `share`: the percent of each gateway's daily cap this message may fill (a bulk message
    gets BAILANYS_SMS_BULK_SHARE, so the rest of the day's budget stays for urgent ones).

    Gateways in `avoid` (those that already failed this message) come last; then a SIM on
    the recipient's operator first (cheaper, and more likely to arrive), then the one that
    has sent least today, then a stale HTTP provider due for its probe. Stale gateways are
    never in the list otherwise.
    """
    national = to_e164[2:] if to_e164.startswith("+7") else ""
    candidates = []
    stale_left_out = False
    for gateway in gateways_configured():
        used = sent_today(gateway)
        if (used + segments) * 100 > gateway.daily_cap * share:
            continue
        if not usable(gateway):
            stale_left_out = True
            continue
        same_operator = bool(national) and any(national.startswith(p) for p in gateway.prefixes())
        candidates.append(
            (
                gateway.pk in avoid,
                gateway.stale_since is not None,
                not same_operator,
                used,
                gateway.pk,
            )
        )
    by_pk = {g.pk: g for g in SmsGateway.objects.filter(pk__in=[c[-1] for c in candidates])}
    tiers: dict[tuple, list[SmsGateway]] = {}
    for c in sorted(candidates):
        tiers.setdefault(c[:3], []).append(by_pk[c[-1]])  # avoided, stale, other operator
    return list(tiers.values()), stale_left_out


def gateway_heard(gateway: SmsGateway, **health) -> None:
    """The gateway spoke (a heartbeat, a report, a received SMS): it is not stale.

    Emitted as a Heartbeat event (battery and network when it told them), for whoever
    watches which gateways work (the shutdown's state).
    """
    fields = {"last_seen_at": timezone.now(), "stale_since": None, **health}
    SmsGateway.objects.filter(pk=gateway.pk).update(**fields)
    emit(Heartbeat(channel="sms", gateway_id=gateway.pk, details=health))


def gateway_failed(gateway: SmsGateway) -> None:
    """It did not answer a send: others take its work until it is heard again.

    An HTTP provider is heard only through a send that works, so each failed probe starts
    its wait (probe_due) again; a phone or modem keeps the time it first went stale.
    """
    gateways = SmsGateway.objects.filter(pk=gateway.pk)
    if gateway.kind != SmsGateway.Kind.HTTP:
        gateways = gateways.filter(stale_since__isnull=True)
    gateways.update(stale_since=timezone.now())


def gateways_mark_stale() -> list[SmsGateway]:
    """Gateways silent for BAILANYS_SMS_STALE_MINUTES become stale. Returns the newly stale."""
    cutoff = timezone.now() - timedelta(minutes=settings.BAILANYS_SMS_STALE_MINUTES)
    # HTTP providers send no heartbeat: only a failed send makes them stale.
    silent = SmsGateway.objects.filter(
        enabled=True, stale_since__isnull=True, last_seen_at__lt=cutoff
    ).exclude(kind=SmsGateway.Kind.HTTP)
    newly = list(silent)
    silent.update(stale_since=timezone.now())
    return newly


def gateway_health() -> list[dict]:
    """What coordinators see of every gateway: alive or not, battery, network, today's counts."""
    from bailanys.channels.sms.models import SmsDelivery

    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    gateway_env()
    rows = []
    for gateway in SmsGateway.objects.order_by("-enabled", "name"):
        today = gateway.deliveries.filter(created_at__gte=midnight)
        rows.append(
            {
                "name": gateway.name,
                "kind": gateway.get_kind_display(),
                "state": "off"
                if not gateway.enabled
                else ("stale" if gateway.stale_since else "ok"),
                "stale_since": gateway.stale_since,
                "last_seen_at": gateway.last_seen_at,
                "battery": gateway.battery,
                "network": gateway.network,
                "sent_today": sent_today(gateway),
                "daily_cap": gateway.daily_cap,
                "failed_today": today.filter(state=SmsDelivery.State.FAILED).count(),
                "delivered_today": today.filter(state=SmsDelivery.State.DELIVERED).count(),
            }
        )
    return rows


class GatewayInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def gateway_add(
    *,
    name: str,
    kind: str,
    url: str,
    username: str = "",
    password: str = "",
    signing_key: str = "",
    sim: int | None = None,
    prefixes: str = "",
    per_minute: int = 30,
    daily_cap: int = 400,
    from_number: str = "",
    by=None,
) -> SmsGateway:
    """Add a gateway (console or CLI). Raises GatewayInvalid naming every bad field."""
    from django.utils.translation import gettext as _

    from bailanys import phones
    from bailanys.privacy.audit import actor_label, audit_record

    errors = {}
    name = (name or "").strip()
    if not re.fullmatch(r"[\w.-]{1,60}", name):
        errors["name"] = _("Letters, digits, dots and dashes; at most 60.")
    elif SmsGateway.objects.filter(name=name).exists():
        errors["name"] = _("A gateway with this name exists already.")
    if kind not in SmsGateway.Kind.values:
        errors["kind"] = _("Choose one of: %(choices)s.") % {
            "choices": ", ".join(SmsGateway.Kind.values)
        }
    url = (url or "").strip().rstrip("/")
    if kind != SmsGateway.Kind.GAMMU and not url.startswith(("http://", "https://")):
        errors["url"] = _("The address must start with http:// or https://.")
    elif not url:
        errors["url"] = _("This field is required.")
    if kind == SmsGateway.Kind.HTTP and not from_number:
        errors["from_number"] = _("An HTTP provider needs the number SMS come from.")
    if from_number:
        # The gateway's own number, which nobody calls: any valid kind.
        try:
            from_number = phones.normalize(from_number, any_type=True)
        except phones.InvalidPhone as exc:
            errors["from_number"] = str(exc)
    if sim not in (None, 1, 2, 3):
        errors["sim"] = _("Choose one of: %(choices)s.") % {"choices": "1, 2, 3"}
    if not re.fullmatch(r"(\d{3}(,\d{3})*)?", prefixes.replace(" ", "")):
        errors["prefixes"] = _("Three-digit prefixes separated by commas, e.g. 705,777.")
    if not (1 <= per_minute <= 100000):
        errors["per_minute"] = _("At least 1.")
    if not (1 <= daily_cap <= 10_000_000):
        errors["daily_cap"] = _("At least 1.")
    if errors:
        raise GatewayInvalid(errors)
    gateway = SmsGateway.objects.create(
        name=name,
        kind=kind,
        url=url,
        username=username,
        password=password,
        signing_key=signing_key,
        sim_number=sim,
        operator_prefixes=prefixes.replace(" ", ""),
        per_minute=per_minute,
        daily_cap=daily_cap,
        from_number=from_number,
    )
    audit_record(
        actor=actor_label(by) if by else "cli",
        action="sms.gateway.add",
        object_type="sms_gateway",
        object_id=gateway.pk,
    )
    return gateway


def gateway_switch(*, name: str, enabled: bool, by=None) -> bool:
    from bailanys.privacy.audit import actor_label, audit_record

    gateway = SmsGateway.objects.filter(name=name).first()
    if gateway is None:
        return False
    SmsGateway.objects.filter(pk=gateway.pk).update(enabled=enabled)
    gateways_forget()
    audit_record(
        actor=actor_label(by) if by else "cli",
        action="sms.gateway.enable" if enabled else "sms.gateway.disable",
        object_type="sms_gateway",
        object_id=gateway.pk,
    )
    return True
