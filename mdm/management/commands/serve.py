"""`make run`: migrate, create the demo organization on first start, then run the web server,
a Celery worker and Celery beat together until Ctrl-C or SIGTERM stops them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from devices.choices import Platform
from devices.services import enrollment_token_create
from mdm.models import Organization
from mdm.services import bootstrap
from mdm.stack import PROCESSES

DEMO_ORG = "Demo"
DEMO_EMAIL = "admin@example.com"
STOP_GRACE_SECONDS = 25


class Command(BaseCommand):
    help = "Run the whole server (web + Celery worker + beat); stops them all on Ctrl-C or SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo organization.")
        parser.add_argument(
            "--demo-agents",
            type=int,
            default=0,
            help="Also run this many simulated devices (the reference agent) enrolled in the demo organization.",
        )

    def handle(self, *args, no_demo, demo_agents, **options):
        call_command("migrate", interactive=False, verbosity=0)
        credentials = self._demo_credentials(create=not no_demo)
        url = f"http://{settings.HOST}:{settings.PORT}" if settings.PRODUCTION else settings.MDM_ISSUER
        self.stdout.write(self.style.SUCCESS(f"MDM server ({settings.MDM_MODE}) starting at {url}/console/"))
        self.stdout.write(f"  database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        self.stdout.write(f"  broker:   {settings.CELERY_BROKER_URL.split('://', 1)[0]}")
        if credentials:
            self.stdout.write(f"  sign in:  {credentials}")
            self.stdout.write(f"  saved in: {shown_path(settings.VAR_DIR / 'demo-credentials.txt')}")
        if settings.EMAIL_BACKEND == "mdm.mail.DevelopmentEmailBackend":
            self.stdout.write(
                f"  e-mail:   written to {shown_path(settings.MDM_MAIL_DIR)}/ (invitation links are in there)"
            )
        self.stdout.flush()
        supervisor = Supervisor(self.stdout)
        if demo_agents and not settings.PRODUCTION:
            threading.Thread(target=start_demo_agents, args=(supervisor, demo_agents), daemon=True).start()
        sys.exit(supervisor.run())

    def _demo_credentials(self, *, create: bool) -> str | None:
        """On the first start of a development server, a demo organization and its owner."""
        if settings.PRODUCTION:
            return None
        path = settings.VAR_DIR / "demo-credentials.txt"
        if create and not Organization.objects.exists():
            result = bootstrap(org_name=DEMO_ORG, email=DEMO_EMAIL)
            line = f"{result.user.email} / {result.password}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(line + "\n")
        return path.read_text().strip() if path.exists() else None


def shown_path(path: str | os.PathLike) -> str:
    """A path as a newcomer types it: relative to where the server was started when it lies
    inside (`var/mail`), else as it is."""
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


def start_demo_agents(supervisor: Supervisor, count: int) -> None:
    """Enroll `count` reference agents in the demo organization (once; their state is kept in
    var/demo/) and run each as a device would, so a new user sees a live console at once."""
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{settings.PORT}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    folder = settings.VAR_DIR / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    organization = Organization.objects.filter(name=DEMO_ORG).first()
    if organization is None:
        return
    models = ["Pixel 8", "Galaxy S24", "iPhone 15", "Pixel 7a", "iPad Air", "Galaxy A55"]

    def agent(state, *args: str) -> None:
        argv = [sys.executable, "-m", "agent", "--state", str(state), *args]
        subprocess.run(argv, cwd=settings.BASE_DIR, capture_output=True, check=False, timeout=60)

    for index in range(count):
        state = folder / f"device-{index + 1}"
        model = models[index % len(models)]
        if not (state / "state.json").exists():
            qr_payload = json.dumps(enrollment_token_create(organization=organization, note="make demo").qr_payload)
            platform = Platform.IOS if model.startswith("iP") else Platform.ANDROID
            agent(state, "enroll", "--qr-payload", qr_payload, "--model", model, "--platform", platform)
            agent(state, "sync")
            agent(state, "put-file", "--side", "personal", "holiday.txt", "--text", "beach photos")
            agent(state, "put-file", "--side", "work", "q3-plan.txt", "--text", "quarterly numbers")
        supervisor.start(f"dev{index + 1}", [sys.executable, "-m", "agent", "--state", str(state), "run"], core=False)
    connection.close()


class Supervisor:
    """Starts the processes, prefixes their output, and stops all of them if a core one stops."""

    def __init__(self, out):
        self.out = out
        self.children: dict[str, subprocess.Popen] = {}
        self.core: set[str] = set()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def _pump(self, name: str, stream) -> None:
        for line in iter(stream.readline, ""):
            with self.lock:
                self.out.write(f"{name:<6}| {line.rstrip()}")
                self.out.flush()

    def _signal(self, signum, frame) -> None:
        self.stopping.set()

    def start(self, name: str, argv: list[str], *, core: bool = True) -> None:
        if self.stopping.is_set():
            return
        # A session of its own: Ctrl-C in the terminal reaches only us, and we stop the children
        # in order instead of each one dying on its own.
        child = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
            cwd=settings.BASE_DIR,
        )
        with self.lock:
            self.children[name] = child
            if core:
                self.core.add(name)
        threading.Thread(target=self._pump, args=(name, child.stdout), daemon=True).start()

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._signal)
        signal.signal(signal.SIGTERM, self._signal)
        for name, argv in PROCESSES.items():
            self.start(name, [sys.executable if argv[0] == "python" else argv[0], *argv[1:]])
        exit_code = 0
        while not self.stopping.wait(0.5):
            with self.lock:
                dead = [name for name in self.core if self.children[name].poll() is not None]
            if dead:
                self.out.write(f"{', '.join(dead)} stopped unexpectedly; stopping the rest.")
                exit_code = 1
                break
        self._stop_all()
        return exit_code

    def _stop_all(self) -> None:
        self.out.write("Stopping web, worker and beat...")
        self.stopping.set()
        with self.lock:
            children = dict(self.children)
        for child in children.values():
            if child.poll() is None:
                # To the leader only: gunicorn and Celery stop their own workers gracefully.
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.out.write(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it.")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.out.write("Stopped.")
