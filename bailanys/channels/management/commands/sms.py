"""bailanys sms: the SMS gateways (phones and SIMs) Bailanys sends through."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bailanys.channels.sms.gateways import (
    GatewayInvalid,
    gateway_add,
    gateway_switch,
    gateways_configured,
    sent_today,
)
from bailanys.channels.sms.models import SmsGateway


class Command(BaseCommand):
    help = "Add, list and switch SMS gateways (sms-gate.app phones, one per SIM)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add a gateway (an sms-gate.app phone, or one SIM of it).")
        add.add_argument("name")
        add.add_argument(
            "url",
            help="smsgate: the phone, e.g. http://192.168.1.10:8080; gammu: the SMSD spool "
            "folder; http: the provider's API base, e.g. https://api.twilio.com",
        )
        add.add_argument("--kind", choices=[k.value for k in SmsGateway.Kind], default="smsgate")
        add.add_argument("--from-number", default="", help="http: the number SMS come from")
        add.add_argument("--username", default="")
        add.add_argument("--password", default="")
        add.add_argument("--signing-key", default="", help="the app's webhook signing key")
        add.add_argument("--sim", type=int, choices=[1, 2, 3], help="which SIM of the phone")
        add.add_argument(
            "--prefixes", default="", help="the SIM operator's prefixes, e.g. 700,708,775"
        )
        add.add_argument("--per-minute", type=int, default=30)
        add.add_argument("--daily-cap", type=int, default=400)
        sub.add_parser("list", help="Gateways with last heartbeat, battery and today's parts.")
        for name in ("enable", "disable"):
            sub.add_parser(name).add_argument("name")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _add(self, *, name, url, username, password, signing_key, sim, prefixes, **options):
        try:
            gateway_add(
                name=name,
                kind=options["kind"],
                url=url,
                username=username,
                password=password,
                signing_key=signing_key,
                sim=sim,
                prefixes=prefixes,
                per_minute=options["per_minute"],
                daily_cap=options["daily_cap"],
                from_number=options["from_number"],
            )
        except GatewayInvalid as exc:
            raise CommandError(str(exc)) from None
        kind = options["kind"]
        hooks = {
            SmsGateway.Kind.SMSGATE: "its webhook: POST /channels/smsgate/webhook",
            SmsGateway.Kind.HTTP: f"its webhooks: POST /channels/http-sms/{name}/inbound and "
            f"/channels/http-sms/{name}/status",
            SmsGateway.Kind.GAMMU: "the worker reads its spool folder",
        }
        self.stdout.write(f"Gateway {name} added; {hooks[kind]}.")

    def _list(self, **options):
        for gateway in gateways_configured() + list(SmsGateway.objects.filter(enabled=False)):
            seen = (
                timezone.localtime(gateway.last_seen_at).strftime("%Y-%m-%d %H:%M")
                if gateway.last_seen_at
                else "never"
            )
            state = "off" if not gateway.enabled else ("STALE" if gateway.stale_since else "ok")
            self.stdout.write(
                f"{gateway.name}\t{state}\tseen {seen}\tbattery {gateway.battery or '?'}\t"
                f"{gateway.network or '?'}\t{sent_today(gateway)}/{gateway.daily_cap} parts today"
            )

    def _enable(self, *, name, **options):
        self._switch(name, True)

    def _disable(self, *, name, **options):
        self._switch(name, False)

    def _switch(self, name: str, enabled: bool) -> None:
        if not gateway_switch(name=name, enabled=enabled):
            raise CommandError(f"No gateway called {name!r}.")
        self.stdout.write(f"Gateway {name} {'enabled' if enabled else 'disabled'}.")
