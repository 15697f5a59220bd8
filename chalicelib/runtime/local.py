"""Run the whole bus on one machine: ``make run`` / ``python -m chalicelib.runtime.local``.

``chalice local`` serves routes only: it never runs ``@app.schedule`` handlers and
knows nothing of the AWS endpoint the bus keeps its state in.  This process does,
around the same ``app``, what AWS does around the deployed lambdas:

* points boto3 at an emulated endpoint (127.0.0.1:4566, LocalStack's port) and starts
  a moto server there unless something already answers (LocalStack in Docker, or a
  moto server of another run), and stops only a server it started itself;
* creates the tables from infra/tables.json, as the deployment does;
* serves the Chalice app in-process (threaded), and
* runs the background loops that EventBridge (and later DynamoDB streams) drive on AWS.

The environment is prepared *before* ``app`` is imported because ``config.Settings``
reads it.  As the process entry point this is the one module besides config.py that
touches ``os.environ``: it writes what config.py reads, as .chalice/config.json does
on AWS.
"""
from __future__ import annotations

import argparse
import ctypes
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

ROOT = Path(__file__).resolve().parents[2]
LOG = logging.getLogger("tlks.local")
ENDPOINT_START_SECONDS = 30.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StartupError(Exception):
    """Something the runner needs is missing; the message says what to do."""


@dataclass
class Loop:
    """A background job: ``run`` every ``interval`` seconds until ``stop`` is set.

    An error is logged and the loop goes on, as the next scheduled invocation on
    AWS would.  The push worker will be one more Loop beside the ticker.
    """

    name: str
    interval: float
    run: Callable[[], None]

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self._forever, args=(stop,), name=self.name, daemon=True)
        thread.start()
        return thread

    def _forever(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.run()
            except Exception:  # noqa: BLE001 - a failed run must not end the loop
                LOG.exception("%s failed; next run in %ss", self.name, self.interval)


def background_loops(env: MutableMapping[str, str]) -> list[Loop]:
    """The jobs AWS runs on a clock or on stream records, driven by threads here."""
    from chalicelib.bootstrap import get_bus

    tick_seconds = float(env.get("TLKS_TICK_SECONDS") or 60)
    if tick_seconds <= 0:
        raise StartupError(f"TLKS_TICK_SECONDS must be positive, got {tick_seconds}")
    return [Loop("ticker", tick_seconds, lambda: get_bus().tick())]


def parse_args(argv: Sequence[str] | None, env: MutableMapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.runtime.local",
                                     description="Serve the tlks bus with its ticker on this machine.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env.get("PORT") or 8000),
                        help="HTTP port (default: $PORT or 8000; 0 picks a free one)")
    parser.add_argument("--aws-port", type=int, default=None,
                        help="port of the local AWS endpoint (default: $AWS_ENDPOINT_URL or 4566)")
    parser.add_argument("--storage", choices=("dynamodb", "memory"),
                        default=env.get("TLKS_STORAGE") or "dynamodb")
    return parser.parse_args(argv)


def chalice_config():
    """The Chalice config of stage ``local``, read from .chalice/config.json when present."""
    from chalice.config import Config

    path = ROOT / ".chalice" / "config.json"
    on_disk = json.loads(path.read_text()) if path.exists() else {}
    return Config(chalice_stage="local", config_from_disk=on_disk,
                  user_provided_params={"project_dir": str(ROOT)},
                  default_params={"app_name": "tlks-bus"})


def prepare_environment(args: argparse.Namespace, env: MutableMapping[str, str]) -> None:
    """Export what ``Settings.from_env`` reads, keeping what the user already set."""
    env["TLKS_STAGE"] = env.get("TLKS_STAGE") or "local"
    env["TLKS_STORAGE"] = args.storage
    if not env.get("AWS_ACCESS_KEY_ID"):  # never sign local requests with real keys
        env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "test"
    env["AWS_DEFAULT_REGION"] = env.get("AWS_DEFAULT_REGION") or "us-east-1"
    if args.aws_port is not None or not env.get("AWS_ENDPOINT_URL"):
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{args.aws_port or 4566}"
    env["TLKS_ADMIN_TOKEN"] = env.get("TLKS_ADMIN_TOKEN") or secrets.token_urlsafe(24)


def endpoint_answers(url: str) -> bool:
    """True when anything speaks HTTP at ``url`` (moto, LocalStack: any status will do)."""
    try:
        _NO_PROXY.open(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def _die_with_parent() -> Callable[[], int] | None:
    """On Linux, have the kernel SIGTERM moto if this process is killed (-9) uncleanly."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def start_moto(url: str) -> subprocess.Popen:
    """Start a moto server for ``url`` and wait until it answers; its log goes to .tlks/."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
        raise StartupError(f"nothing answers at {url}, and a moto server is only started on 127.0.0.1:<port>")
    log_path = ROOT / ".tlks" / f"moto-{parts.port}.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(parts.port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent())  # Ctrl-C reaches us, not moto
    deadline = time.monotonic() + ENDPOINT_START_SECONDS
    while not endpoint_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            tail = log_path.read_text(errors="replace")[-2000:]
            raise StartupError(f"moto server did not come up on {url} within "
                               f"{ENDPOINT_START_SECONDS:.0f}s (exit code {proc.returncode}).\n"
                               f"--- {log_path} ---\n{tail}")
        time.sleep(0.2)
    return proc


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def create_tables(settings) -> None:
    import boto3
    from infra.tables import ensure_tables

    client = boto3.client("dynamodb", endpoint_url=settings.endpoint_url, region_name=settings.region)
    ensure_tables(client, settings.table_prefix)


def print_banner(url: str, settings, endpoint_note: str) -> None:
    print(f"\ntlks bus (stage {settings.stage}, storage {settings.storage})\n"
          f"  URL           {url}\n"
          f"  admin token   {settings.admin_token}\n"
          f"  AWS endpoint  {endpoint_note}\n"
          f"  try           curl -s {url}/health\n"
          f"  stop          Ctrl-C\n"
          f"READY {url}", flush=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, through the cleanup below


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ
    config = chalice_config()
    for name, value in config.environment_variables.items():
        env.setdefault(name, str(value))
    args = parse_args(argv, env)
    prepare_environment(args, env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    from chalicelib.config import Settings

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    stop, moto, server, http = threading.Event(), None, None, None
    try:
        endpoint_note = f"not used (storage {settings.storage})"
        if settings.storage == "dynamodb":
            endpoint_note = f"{settings.endpoint_url} (already running, reused)"
            if not endpoint_answers(settings.endpoint_url):
                moto = start_moto(settings.endpoint_url)
                endpoint_note = f"{settings.endpoint_url} (moto server pid {moto.pid}, stopped on exit)"
            create_tables(settings)

        from chalice.local import create_local_server
        from app import app

        try:
            server = create_local_server(app, config, args.host, args.port)
        except OSError as exc:
            raise StartupError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
        for loop in background_loops(env):
            loop.start(stop)
        http = threading.Thread(target=server.server.serve_forever, name="http", daemon=True)
        http.start()
        shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        print_banner(f"http://{shown_host}:{server.server.server_address[1]}", settings, endpoint_note)
        http.join()
    except KeyboardInterrupt:
        pass
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cleanup finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop.set()
        if http is not None:
            server.shutdown()
        if server is not None:
            server.server.server_close()
        if moto is not None:
            stop_process(moto)
    print("tlks bus stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
