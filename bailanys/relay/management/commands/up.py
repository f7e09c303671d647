import fcntl
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from bailanys.accounts.models import Role, User
from bailanys.accounts.services import password_generate, user_create
from bailanys.outages.demo import demo_outages_beat, demo_outages_load
from bailanys.privacy.storage import data_dir_tighten
from bailanys.relay.demo import demo_history, demo_load, demo_pulse, login_lines


def lan_address() -> str:
    """This machine's address on the local network, found without sending anything.

    Connecting a UDP socket only picks the outgoing interface; no packet leaves, so it
    works with no internet (an offline Wi-Fi with a phone gateway on it).
    """
    import socket

    for probe in ("192.168.255.255", "10.255.255.255", "172.31.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                address = sock.getsockname()[0]
        except OSError:
            continue
        if address and not address.startswith("127."):
            return address
    return ""


class Command(BaseCommand):
    help = "Set up the database if needed, then run the web server and a worker together."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Load the demo scenario.")
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to listen on (default: %(default)s)."
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="Port to listen on (default: %(default)s)."
        )
        parser.add_argument("--threads", type=int, default=8, help="Web server threads.")
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start a worker (run one elsewhere)."
        )

    def handle(self, *, demo: bool, host: str, port: int, threads: int, no_worker: bool, **_):
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {port}")
        # Set here, not inherited: started from a non-interactive shell (`up &`, nohup) a
        # process begins with SIGINT ignored, and Ctrl-C or `kill -INT` did nothing.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.stdout.write(f"Data directory: {settings.DATA_DIR}")
        call_command("migrate", interactive=False, verbosity=0)
        # Hashed and gzipped static files for this version (bailanys/static_files.py);
        # one at a time when several web processes share the data directory.
        # With every key in the environment nothing has made the data directory yet.
        Path(settings.DATA_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(Path(settings.DATA_DIR) / "static.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            call_command("collectstatic", interactive=False, verbosity=0)
        for line in data_dir_tighten(Path(settings.DATA_DIR)):
            self.stderr.write(f"WARNING: tightened permissions of {line}")
        self._first_coordinator()
        if demo:
            created, logins = demo_load()
            self.stdout.write(f"Demo scenario: {created} new requests.")
            for line in login_lines(logins):
                self.stdout.write(line)
            rng = random.Random()  # noqa: S311  made-up demo data, not secrets
            demo_history(rng)
            # The demo's shutdown is made up: the worker started below must not poll the
            # live feeds (their answers would overwrite it). Its environment says so.
            os.environ["BAILANYS_OUTAGE_FEEDS"] = ""
            settings.BAILANYS_OUTAGE_FEEDS = []
            demo_outages_load()
            self._demo_beat(rng, settings.BAILANYS_DEMO_PULSE_SECONDS)
            self.stdout.write(
                "Demo: new made-up requests arrive and two demo volunteers call every "
                f"{settings.BAILANYS_DEMO_PULSE_SECONDS} s (the coordinator's dashboard shows it)."
            )
            self.stdout.write(
                "Demo: a made-up shutdown (an hour-old cut in Almaty, Telegram blocked on "
                "Beeline, SMS to Kcell failing) is on /status/; live feeds are not polled."
            )
        self._serve(host, port, threads, start_worker=not no_worker)

    def _demo_beat(self, rng: random.Random, seconds: int) -> None:
        """Keep the demo alive in a background thread while the server runs."""
        from django.db import close_old_connections

        def beat():
            while True:
                time.sleep(seconds)
                for step in (
                    lambda: demo_pulse(
                        rng, requests=rng.choice([0, 1, 1, 2]), calls=rng.choice([1, 2])
                    ),
                    demo_outages_beat,  # the feeds' answers of this moment: never stale
                ):
                    try:
                        step()
                    except Exception as exc:  # the demo must never stop the server
                        self.stderr.write(f"demo beat failed: {type(exc).__name__}")
                    finally:
                        close_old_connections()

        threading.Thread(target=beat, name="demo-beat", daemon=True).start()

    def _first_coordinator(self) -> None:
        if User.objects.filter(role__in=(Role.COORDINATOR, Role.ADMIN)).exists():
            return
        username = os.environ.get("BAILANYS_COORDINATOR_USERNAME") or "coordinator"
        from_env = os.environ.get("BAILANYS_COORDINATOR_PASSWORD")
        password = from_env or password_generate()
        user_create(username=username, role=Role.ADMIN, password=password)
        if from_env:
            self.stdout.write(f"Coordinator account {username!r} created from the environment.")
        else:
            self.stdout.write(
                "Coordinator login (shown once, change it after logging in): "
                f"{username} / {password}"
            )

    def _serve(self, host: str, port: int, threads: int, *, start_worker: bool) -> None:
        from waitress import create_server

        from bailanys.wsgi import application

        try:
            # A body over the limit is refused from its Content-Length, before it is read.
            server = create_server(
                application,
                host=host,
                port=port,
                threads=threads,
                max_request_body_size=settings.BAILANYS_MAX_BODY_BYTES,
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Is something else using it? "
                "Try --port with another number."
            ) from None
        worker = None
        if start_worker:
            # Its own session, so a Ctrl-C in the terminal reaches only us and
            # we stop it once, cleanly.
            # --with-parent: if we are killed outright (kill -9), it stops too, instead of
            # living on beside the worker of the next `bailanys up`.
            worker = subprocess.Popen(
                [sys.executable, "-m", "bailanys", "worker", "--with-parent", str(os.getpid())],
                start_new_session=True,
            )

        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        self.stdout.write(f"Bailanys is running at http://{shown}:{port}/  (Ctrl-C stops it)")
        lan = lan_address()
        if lan and host in ("0.0.0.0", "::"):  # noqa: S104
            self.stdout.write(f"Volunteers on this network open: http://{lan}:{port}/")
        elif lan:
            self.stdout.write(
                f"For volunteers on this network (http://{lan}:{port}/), start it with "
                "--host 0.0.0.0 (docs/sms.md, the offline kit)."
            )
        self.stdout.flush()
        try:
            server.run()
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            server.close()
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        self.stdout.write("Stopped.")
