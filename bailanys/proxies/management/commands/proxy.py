"""bailanys proxy: the pool of proxies Bailanys hands out (docs/proxies.md)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from bailanys.proxies.links import LinkError
from bailanys.proxies.models import Pool, Proxy
from bailanys.proxies.services import (
    proxies_import,
    proxies_overview,
    proxies_release,
    proxy_block,
    proxy_find,
    proxy_retire,
    shutdown_set,
)

MAX_FILE = 10 * 1024 * 1024


class Command(BaseCommand):
    help = "Add, import, list, release, block and retire the proxies Bailanys hands out."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        pools = [p.value for p in Pool]
        add = sub.add_parser(
            "add", help="Add one link (tg://proxy, https://t.me/proxy, tg://socks)."
        )
        add.add_argument("link")
        add.add_argument("--pool", choices=pools, default=Pool.PUBLIC)
        imp = sub.add_parser("import", help="Add the links of a file, one a line ('-': stdin).")
        imp.add_argument("file")
        imp.add_argument("--pool", choices=pools, default=Pool.PUBLIC)
        sub.add_parser("list", help="Counts by pool and state (never an address).")
        release = sub.add_parser("release", help="Release a wave of N reserved proxies.")
        release.add_argument("count", type=int)
        release.add_argument("--to", choices=[Pool.PUBLIC, Pool.TRUSTED], default=Pool.PUBLIC)
        for name, text in (
            ("block", "This proxy is blocked: its bucket's requesters get new ones."),
            ("retire", "Take this proxy out (its server is gone); nobody is blamed."),
        ):
            sub.add_parser(name, help=text).add_argument("link")
        switch = sub.add_parser(
            "shutdown", help="Full shutdown on/off: proxies cannot help, the stock is kept."
        )
        switch.add_argument("state", choices=["on", "off"])

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _report(self, result) -> None:
        self.stdout.write(f"added {result.added}, already there {result.duplicates}")
        for number, reason in result.errors:
            self.stderr.write(f"line {number}: {reason}")
        if result.errors:
            raise CommandError(f"{len(result.errors)} line(s) refused; the others were added")

    def _add(self, *, link, pool, **options):
        result = proxies_import([link], pool=pool)
        if result.errors:  # one link: its reason, not "line 1" and "the others were added"
            raise CommandError(f"not a proxy link: {result.errors[0][1]}")
        self._report(result)

    def _import(self, *, file, pool, **options):
        try:
            if file == "-":
                data = sys.stdin.buffer.read(MAX_FILE + 1)
            else:
                with open(file, "rb") as handle:
                    data = handle.read(MAX_FILE + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        if len(data) > MAX_FILE:
            raise CommandError(f"{file} is larger than {MAX_FILE // 1024 // 1024} MB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text (byte {exc.start})") from None
        self._report(proxies_import(text.splitlines(), pool=pool))

    def _list(self, **options):
        overview = proxies_overview()
        states = list(Proxy.State.values)
        self.stdout.write("pool      " + " ".join(f"{s:>8}" for s in states) + "     down")
        for row in overview["pools"]:
            counts = " ".join(f"{row['states'][s]:>8}" for s in states)
            self.stdout.write(f"{row['pool']:<9} {counts} {row['down']:>8}")
        self.stdout.write(
            f"requesters {overview['requesters']} (vouched {overview['vouched']}), "
            f"buckets {overview['buckets']} (blocked {overview['buckets_blocked']}), "
            f"full shutdown: {'on' if overview['full_shutdown'] else 'off'}"
        )

    def _release(self, *, count, to, **options):
        if count < 1:
            raise CommandError("release at least 1 proxy")
        released = proxies_release(count, to=to, actor="cli")
        self.stdout.write(f"released {released} reserved proxies to {to}")

    def _proxy(self, link: str) -> Proxy:
        try:
            proxy = proxy_find(link)
        except LinkError as exc:
            raise CommandError(f"not a proxy link: {exc}") from None
        if proxy is None:
            raise CommandError("no such proxy in the pool")
        return proxy

    def _block(self, *, link, **options):
        proxy_block(self._proxy(link), actor="cli")
        self.stdout.write("blocked; its bucket's requesters get new proxies when they ask")

    def _retire(self, *, link, **options):
        proxy_retire(self._proxy(link), actor="cli")
        self.stdout.write("retired")

    def _shutdown(self, *, state, **options):
        shutdown_set(on=state == "on", actor="cli")
        self.stdout.write(f"full shutdown {state}")
