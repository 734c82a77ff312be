"""Run the split deployment on this machine: ``make split`` (or ``python deploy/split.py``).

One JetStream server (the nats-server binary from the venv) and six ``ticketing serve``
processes, one module each, as deploy/k8s/split runs them: TICKETING_MODULES=<module>,
TICKETING_BUS=nats, one shared JWT key, each module with its own data dir (so its own
SQLite files). In front of them a small router on port 8000 sends every request to the
module that serves it, using the paths of deploy/k8s/split's Ingresses, so the site works
in a browser exactly as behind the Ingress. Ctrl-C stops everything. The Ingress's routing
and the waiting for processes are the test suite's own (``tests/support``).

    router      http://127.0.0.1:8000
    auth        http://127.0.0.1:8001   /api/users, /auth
    tickets     http://127.0.0.1:8002   /api/tickets, /tickets, / (and the rest)
    orders      http://127.0.0.1:8003   /api/orders, /orders, /api/queue, /queue, /waitlist
    expiration  http://127.0.0.1:8004   no public routes: /healthz and /readyz
    payments    http://127.0.0.1:8005   /api/payments, /payments, /api/payouts, /payouts
    mail        http://127.0.0.1:8006   /dev/mail (the .eml files, unless TICKETING_SMTP_URL is set)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test suite's support package, below

from tests.support.ingress import Route, ingress_routes, route_for  # noqa: E402
from tests.support.nats import accepts, server_binary  # noqa: E402
from tests.support.processes import NotServing, wait_ready  # noqa: E402

INGRESSES = sorted((REPO / "deploy" / "k8s" / "split").glob("ingress*.yaml"))
MODULES = ("auth", "tickets", "orders", "expiration", "payments", "mail")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "transfer-encoding", "upgrade"}
STARTUP_TIMEOUT_SECONDS = 60.0


def split_routes() -> list[Route]:
    """The split Ingresses' paths, longest first (the first match wins)."""
    return ingress_routes(doc for file in INGRESSES for doc in yaml.safe_load_all(file.read_text()))


def make_router(routes: list[Route], ports: dict[str, int]) -> type[BaseHTTPRequestHandler]:
    """A request handler that forwards to the module process the Ingress would pick."""

    class Router(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            route = route_for(routes, self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404, "no route")
                return
            module = route.module
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {name: value for name, value in self.headers.items()
                       if name.lower() not in HOP_BY_HOP}
            headers["X-Forwarded-For"] = self.client_address[0]
            connection = http.client.HTTPConnection("127.0.0.1", ports[module], timeout=60)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                if (response.getheader("Content-Type") or "").startswith("text/event-stream"):
                    self.relay_stream(response)
                    return
                payload = response.read()
            except OSError as error:
                self.send_error(502, f"{module} is not answering: {error}")
                return
            finally:
                connection.close()
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def relay_stream(self, response: http.client.HTTPResponse) -> None:
            """A live stream (Server-Sent Events) goes on as it comes, until one side hangs up."""
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            with contextlib.suppress(OSError):
                while chunk := response.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = forward

        def log_message(self, format: str, *args: object) -> None:
            pass  # each module logs its own requests

    return Router


def shared_key(data_dir: Path, name: str = "jwt.key", size: int = 48) -> str:
    """One key for every module's process, kept so sessions (and printed passes) survive
    a restart."""
    key_file = data_dir / name
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(size))
    return key_file.read_text().strip()


def pipe_log(name: str, process: subprocess.Popen[bytes]) -> None:
    """Print a process's output line by line, prefixed with its name."""
    assert process.stdout is not None
    for line in iter(process.stdout.readline, b""):
        sys.stdout.write(f"{name:>10} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def wait_accepting(name: str, process: subprocess.Popen[bytes], port: int,
                   deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotServing(f"{name} exited with {process.returncode} (is {port} taken?)")
        if accepts(port):
            return
        time.sleep(0.05)
    raise NotServing(f"{name} did not accept connections on {port} in time")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "split",
                        help="where NATS and each module keep their data (default var/split)")
    parser.add_argument("--host", default="127.0.0.1", help="the router's address")
    parser.add_argument("--port", type=int, default=8000, help="the router's port")
    parser.add_argument("--first-module-port", type=int, default=8001,
                        help="auth's port; the other modules follow (default 8001-8006)")
    parser.add_argument("--nats-port", type=int, default=4223,
                        help="the JetStream server's port (default 4223, beside a system 4222)")
    parser.add_argument("--fresh", action="store_true", help="delete the data dir first")
    args = parser.parse_args(argv)

    data_dir: Path = args.data_dir.resolve()
    if args.fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = {module: args.first_module_port + i for i, module in enumerate(MODULES)}
    nats_url = f"nats://127.0.0.1:{args.nats_port}"
    # The caller's other TICKETING_* settings (TICKETING_EXPIRATION_SECONDS=60, say) apply;
    # the split runs on the embedded SQLite default, one data dir per module.
    base_env = {name: value for name, value in os.environ.items()
                if not name.endswith("_DATABASE_URL")}
    base_env.update({"TICKETING_BUS": "nats", "TICKETING_NATS_URL": nats_url,
                     "TICKETING_JWT_KEY": shared_key(data_dir),
                     "TICKETING_PASS_KEY": shared_key(data_dir, "pass.key", 32),
                     "PYTHONUNBUFFERED": "1"})
    # The links in mails lead to the router, not to the module that wrote them.
    public_host = "127.0.0.1" if args.host in ("", "0.0.0.0", "::") else args.host
    public_host = f"[{public_host}]" if ":" in public_host else public_host
    base_env.setdefault("TICKETING_PUBLIC_URL", f"http://{public_host}:{args.port}")

    processes: dict[str, subprocess.Popen[bytes]] = {}

    def stop() -> None:
        """The modules first (they close their NATS connections cleanly), then NATS."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        modules = [p for name, p in processes.items() if name != "nats"]
        for group in (modules, [p for name, p in processes.items() if name == "nats"]):
            for process in group:
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in group:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # Its own session: Ctrl-C reaches only this script, which stops them in order.
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        processes[name] = process
        threading.Thread(target=pipe_log, args=(name, process), daemon=True).start()
        return process

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        nats = start("nats", [str(server_binary()), "-js", "-a", "127.0.0.1",
                              "-p", str(args.nats_port), "-sd", str(data_dir / "nats")], base_env)
        wait_accepting("nats-server", nats, args.nats_port, time.monotonic() + 10)
        for module in MODULES:
            env = {**base_env, "TICKETING_MODULES": module,
                   "TICKETING_DATA_DIR": str(data_dir / module)}
            start(module, [sys.executable, "-m", "ticketing", "serve", "--host", "127.0.0.1",
                           "--port", str(ports[module])], env)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        for module in MODULES:
            wait_ready(module, processes[module], f"http://127.0.0.1:{ports[module]}/readyz",
                       deadline)
        routes = split_routes()
        router = ThreadingHTTPServer((args.host, args.port), make_router(routes, ports))
    except (NotServing, OSError) as error:
        print(f"split: {error}", file=sys.stderr)
        stop()
        return 1
    except KeyboardInterrupt:
        stop()
        return 130

    print(f"\nsplit: ready on http://{args.host}:{args.port} (routed as the Ingress does)")
    for module in MODULES:
        served = sorted({r.path for r in routes if r.module == module}) or ["no public routes"]
        print(f"  {module:<11} http://127.0.0.1:{ports[module]}  {', '.join(served)}")
    print(f"  {'nats':<11} {nats_url}\nCtrl-C stops everything.\n", flush=True)
    threading.Thread(target=router.serve_forever, daemon=True).start()
    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        dead = [name for name, process in processes.items() if process.poll() is not None]
        print(f"split: {', '.join(dead)} stopped; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nsplit: stopping", flush=True)
        return 0
    finally:
        router.shutdown()
        router.server_close()
        stop()


if __name__ == "__main__":
    sys.exit(main())
