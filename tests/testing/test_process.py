"""satlearn.testing.process: a server in a child process, ready before use, always stopped."""

from __future__ import annotations

import socket
import sys
import urllib.request

import pytest

from satlearn.testing.process import free_port, running_server, start_server, stop_process

# A server that answers 200 on /ready only after a delay, and exits 0 on SIGTERM.
SLOW_SERVER = """
import http.server, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
time.sleep(float(sys.argv[2]))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ready" else 404)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        print("request", self.path, flush=True)
print("listening", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_free_port_can_be_bound_on_loopback():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_running_server_waits_until_ready_and_stops_it(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-c", SLOW_SERVER, str(port), "0.5"]
    url = f"http://127.0.0.1:{port}"
    with running_server(command, ready_url=f"{url}/ready", log=log, timeout_s=30) as process:
        with urllib.request.urlopen(f"{url}/ready", timeout=5) as answer:
            assert answer.status == 200
        assert process.poll() is None
    assert process.returncode == 0  # SIGTERM, handled: a graceful stop
    assert "listening" in log.read_text()


def test_a_server_that_exits_is_reported_with_its_log(tmp_path):
    command = [sys.executable, "-c", "import sys; print('bad settings'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match=r"exited with 3: bad settings"):
        start_server(command, ready_url=f"http://127.0.0.1:{free_port()}/", log=tmp_path / "l")


def test_a_server_that_never_gets_ready_is_killed(tmp_path):
    port = free_port()
    command = [sys.executable, "-c", SLOW_SERVER, str(port), "60"]
    with pytest.raises(RuntimeError, match=r"did not answer .*/ready in 1 s"):
        start_server(
            command, ready_url=f"http://127.0.0.1:{port}/ready", log=tmp_path / "l", timeout_s=1
        )


IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def test_stop_process_kills_what_ignores_sigterm():
    import subprocess

    process = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE)
    with process.stdout:
        process.stdout.readline()  # the handler is in place
        assert stop_process(process, timeout_s=0.5) == -9
