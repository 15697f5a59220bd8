"""Run the whole bus on one machine: ``make run`` / ``python -m chalicelib.runtime.local``.

``chalice local`` serves routes only: it never runs ``@app.schedule`` handlers and knows
nothing of the AWS endpoint holding the bus's state.  Around the same ``app``, this process
does what AWS does around the deployed lambdas: it points boto3 at an emulated endpoint
(127.0.0.1:4566, LocalStack's port), starting a moto server there unless something already
answers (and stopping only a server it started), creates the tables from infra/tables.json,
serves the app in-process, and runs on threads the loops EventBridge (later DynamoDB
streams) drive on AWS.  What it makes lives in the state directory (``TLKS_STATE_DIR``,
``.tlks/``): the snapshot of the emulated tables (runtime/snapshot.py: restored at start,
saved every ``TLKS_SNAPSHOT_SECONDS`` when changed and at exit), the admin token (unless
``TLKS_ADMIN_TOKEN`` sets one) and moto's log; ``--fresh`` forgets the first two.  It prepares the environment *before* importing ``app``, because
``config.Settings`` reads it: as the entry point, it writes what config.py reads.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, MutableMapping, Sequence
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
LOG = logging.getLogger("tlks.local")
MOTO_START_SECONDS = 30.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StartupError(Exception):
    """Something the runner needs is missing; the message says what to do."""


@dataclass
class Loop:
    """A background job: ``run`` every ``interval`` seconds until ``stop`` is set.

    A failed run is logged and the next one comes, as on AWS.  The push worker will be
    one more Loop beside the ticker.
    """

    name: str
    interval: float
    run: Callable[[], None]

    def start(self, stop: threading.Event) -> None:
        threading.Thread(target=self._forever, args=(stop,), name=self.name, daemon=True).start()

    def _forever(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.run()
            except Exception:  # noqa: BLE001 - one failed run must not end the loop
                LOG.exception("%s failed; next run in %ss", self.name, self.interval)


def background_loops(env: MutableMapping[str, str]) -> list[Loop]:
    """The jobs AWS runs on a clock (or on stream records), driven by threads here."""
    from chalicelib.bootstrap import get_bus

    tick_seconds = float(env.get("TLKS_TICK_SECONDS") or 60)
    if tick_seconds <= 0:
        raise StartupError(f"TLKS_TICK_SECONDS must be positive, got {tick_seconds}")
    # Schedules fire to the second locally (AWS: to the minute, the tick's rate); their
    # tick reads only the due fire jobs, so a second is cheap.
    schedule_seconds = min(tick_seconds, 1.0)
    return [Loop("ticker", tick_seconds, lambda: get_bus().tick()),
            Loop("schedules", schedule_seconds, lambda: get_bus().schedules.fire_due())]


def start_worker(stop: threading.Event) -> None:
    """The push worker (the DynamoDB stream's job on AWS), woken by publishes."""
    from chalicelib.bootstrap import get_bus
    from chalicelib.runtime.worker import LocalWorker

    worker = LocalWorker(get_bus())
    threading.Thread(target=worker.run, args=(stop,), name="push-worker", daemon=True).start()


def parse_args(argv: Sequence[str] | None, env: MutableMapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.runtime.local",
                                     description="Serve the tlks bus and its ticker locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env.get("PORT") or 8000),
                        help="HTTP port (default: $PORT or 8000; 0 picks a free one)")
    parser.add_argument("--aws-port", type=int,
                        help="local AWS endpoint port (default: $AWS_ENDPOINT_URL or 4566)")
    parser.add_argument("--storage", choices=("dynamodb", "memory", "file", "redis"),
                        default=env.get("TLKS_STORAGE") or "dynamodb")
    parser.add_argument("--fresh", action="store_true",
                        help="forget the saved tables and admin token first (make run FRESH=1)")
    return parser.parse_args(argv)


def chalice_config():
    """Stage ``local`` of .chalice/config.json when present, as `chalice local` reads it."""
    from chalice.config import Config

    path = ROOT / ".chalice" / "config.json"
    on_disk = json.loads(path.read_text()) if path.exists() else {}
    return Config(chalice_stage="local", config_from_disk=on_disk,
                  user_provided_params={"project_dir": str(ROOT)},
                  default_params={"app_name": "tlks-bus"})


def prepare_environment(args: argparse.Namespace, env: MutableMapping[str, str]) -> None:
    """Export what ``Settings.from_env`` reads, keeping what the user already set."""
    env["TLKS_STAGE"] = env.get("TLKS_STAGE") or "local"
    # EMF metric lines are for CloudWatch; locally they would only crowd the log
    env.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    env["TLKS_STORAGE"] = args.storage
    if not env.get("AWS_ACCESS_KEY_ID"):  # beats ~/.aws: no profile's keys go to the emulator
        env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "test"
    env["AWS_DEFAULT_REGION"] = env.get("AWS_DEFAULT_REGION") or "us-east-1"
    if args.aws_port is not None or not env.get("AWS_ENDPOINT_URL"):
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{args.aws_port or 4566}"


def state_dir(settings) -> Path:
    """Where the runner keeps what it makes (``TLKS_STATE_DIR``, relative to the repo)."""
    path = Path(settings.state_dir).expanduser()
    return path if path.is_absolute() else ROOT / path


def snapshot_path(settings) -> Path:
    return state_dir(settings) / f"dynamodb-{settings.table_prefix}.json"


def admin_token_path(settings) -> Path:
    return state_dir(settings) / "admin-token"


def forget_state(settings) -> list[Path]:
    """``--fresh``: remove the saved tables and admin token; returns what was removed."""
    removed = []
    for path in (snapshot_path(settings), admin_token_path(settings)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def kept_admin_token(settings) -> str:
    """The admin token saved in the state directory, made (mode 0600) on first use."""
    path = admin_token_path(settings)
    with contextlib.suppress(FileNotFoundError):
        token = path.read_text().strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    os.replace(tmp, path)
    return token


def endpoint_answers(url: str) -> bool:
    """True when anything speaks HTTP at ``url``: moto and LocalStack both do, any status."""
    try:
        _NO_PROXY.open(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def _die_with_parent() -> Callable[[], int] | None:
    """On Linux, have the kernel SIGTERM moto should this process die uncleanly (kill -9)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def start_moto(url: str, folder: Path) -> subprocess.Popen:
    """Start a moto server at ``url`` (log in ``folder``) and wait until it answers."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    if host not in ("127.0.0.1", "localhost") or not port:
        raise StartupError(f"nothing answers at {url}; moto is only started on 127.0.0.1:<port>")
    log_path = folder / f"moto-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "chalicelib.runtime.emulator", "-H", "127.0.0.1", "-p", str(port)]
    with open(log_path, "wb") as log:  # own session: Ctrl-C reaches us, and we stop moto last
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent())
    deadline = time.monotonic() + MOTO_START_SECONDS
    while not endpoint_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            tail = log_path.read_text(errors="replace")[-2000:]
            raise StartupError(f"moto server did not come up at {url} (exit code "
                               f"{proc.returncode}); {log_path} ends with:\n{tail}")
        time.sleep(0.2)
    return proc


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate ``proc`` (kill it after 5 s); nothing when it has already exited."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def attach_dynamodb(settings, cleanup: contextlib.ExitStack):
    """Make sure the endpoint answers and the tables exist; say where the state lives.

    Returns ``(description, snapshot)``: the snapshot (already restored) when the runner
    started moto itself, else ``None`` (an endpoint of the user's keeps its own state).
    """
    import boto3

    from chalicelib.runtime.snapshot import TableSnapshot
    from infra.tables import ensure_tables

    moto = None
    if not endpoint_answers(settings.endpoint_url):
        moto = start_moto(settings.endpoint_url, state_dir(settings))
        cleanup.callback(stop_process, moto)
    client = boto3.client("dynamodb", endpoint_url=settings.endpoint_url,
                          region_name=settings.region)
    # Locally an in-process worker replaces the stream-fed dispatcher, so no table needs a
    # stream, and moto would copy the whole stream history on every transaction.
    ensure_tables(client, settings.table_prefix, streams=False)
    if moto is None:
        return f"{settings.endpoint_url} (already running, reused: its state is its own)", None
    snapshot = TableSnapshot(client, settings.tables, snapshot_path(settings))
    restored = snapshot.restore()
    # runs after the HTTP server and the loops have stopped, before moto does
    cleanup.callback(_last_snapshot, snapshot)
    return (f"{settings.endpoint_url} (moto server pid {moto.pid}, stopped on exit)\n"
            f"  saved state   {_shown(snapshot.path)} ({restored} items restored; saved "
            + (f"every {settings.snapshot_seconds:g} s when changed, and " if settings.snapshot_seconds > 0
               else "") + "on exit)"), snapshot


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _last_snapshot(snapshot) -> None:
    try:
        snapshot.save()
    except Exception as exc:  # noqa: BLE001 - stopping goes on; the last periodic save stays
        LOG.warning("could not save the tables to %s: %s", snapshot.path, exc)


def serve(app, config, args, cleanup: contextlib.ExitStack):
    """Bind the Chalice local server and serve it on a thread; returns (url, thread)."""
    from chalice.local import create_local_server

    from chalicelib.runtime.gateway import handler_class

    try:
        server = create_local_server(app, config, args.host, args.port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    # what API Gateway does around the lambda: runtime/gateway.py
    server.server.RequestHandlerClass = functools.partial(
        handler_class(config.minimum_compression_size), app_object=app, config=config)
    cleanup.callback(server.server.server_close)
    http = threading.Thread(target=server.server.serve_forever, name="http", daemon=True)
    http.start()
    cleanup.callback(server.shutdown)  # only once serve_forever runs, or shutdown() hangs
    host = "127.0.0.1" if args.host in ("", "0.0.0.0") else args.host
    return f"http://{host}:{server.server.server_port}", http


def _interrupt(signum, frame):
    """SIGTERM, and SIGINT even if inherited as ignored, unwind like Ctrl-C, once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    env, config = os.environ, chalice_config()
    for name, value in config.environment_variables.items():
        env.setdefault(name, str(value))
    args = parse_args(argv, env)
    prepare_environment(args, env)
    if str(ROOT) not in sys.path:  # `app` lives at the repo root
        sys.path.insert(0, str(ROOT))
    from chalicelib.config import Settings

    from chalicelib.observability import ScrubbingFormatter, add_secret

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper())
    for handler in logging.getLogger().handlers:   # no credential in any line (observability)
        handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if args.fresh:
        for path in forget_state(settings):
            print(f"forgot {_shown(path)}", flush=True)
    if not settings.admin_token:
        env["TLKS_ADMIN_TOKEN"] = kept_admin_token(settings)
        settings = Settings.from_env()
    add_secret(settings.admin_token)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # not "Found credentials ..."
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.ExitStack() as cleanup:  # undoes what was started, last first
            aws, snapshot = f"not used (storage {settings.storage})", None
            if settings.storage == "dynamodb":
                aws, snapshot = attach_dynamodb(settings, cleanup)
            from app import app

            url, http = serve(app, config, args, cleanup)
            stop = threading.Event()
            cleanup.callback(stop.set)
            loops = background_loops(env)
            if snapshot is not None and settings.snapshot_seconds > 0:  # 0: on exit only
                loops.append(Loop("snapshot", settings.snapshot_seconds, snapshot.save))
            for loop in loops:
                loop.start(stop)
            start_worker(stop)
            print(f"\ntlks bus (stage {settings.stage}, storage {settings.storage})\n"
                  f"  URL           {url}\n  admin token   {settings.admin_token}\n"
                  f"  AWS endpoint  {aws}\n  try           curl -s {url}/health\n"
                  f"  stop          Ctrl-C\nREADY {url}", flush=True)
            while http.is_alive():  # a timed wait: a signal caught by another thread is
                http.join(0.5)      # handled only when the main thread wakes up
    except KeyboardInterrupt:
        pass
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    print("tlks bus stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
