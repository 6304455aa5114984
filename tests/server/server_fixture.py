"""Starts `flashmem serve` on a loopback port for a test and stops it (kill -9 on request)."""
import http.client
import json
import os
import re
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("FLASHMEM_BINARY", os.path.join(ROOT, "build", "flashmem"))
MODEL = os.environ.get("FLASHMEM_MODEL", os.path.join(ROOT, "models", "gemma3-270m-q4_k_m.gguf"))


def model_available():
    return os.path.exists(MODEL) and os.path.exists(BINARY)


class Server:
    def __init__(self, *args, log_path=None):
        self.args = list(args)
        self.log_path = log_path
        self.proc = None
        self.port = None

    def command(self):
        return [BINARY, "serve", "-m", MODEL, "--port", "0", "-t", "2"]

    def start(self, timeout=120):
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.command() + self.args,
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        deadline = time.time() + timeout
        self.log_lines = []
        while time.time() < deadline:
            line = self.proc.stderr.readline().decode("utf-8", "replace")
            if not line:
                raise RuntimeError("server exited: " + "".join(self.log_lines))
            self.log_lines.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            raise RuntimeError("server did not start")
        # Keep draining stderr so the server never blocks on a full pipe.
        import threading

        def drain():
            for raw in self.proc.stderr:
                self.log_lines.append(raw.decode("utf-8", "replace"))
                if log is not subprocess.DEVNULL:
                    log.write(raw)
        threading.Thread(target=drain, daemon=True).start()
        return self

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def request(self, method, path, body=None, headers=None, timeout=300):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, dict(resp.getheaders()), data

    def post_json(self, path, body, headers=None):
        status, hdrs, data = self.request("POST", path, body, headers)
        return status, hdrs, json.loads(data) if data else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return "".join(self.log_lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Router(Server):
    """`flashmem route` in front of servers: args are its --prefill/--decode options."""

    def command(self):
        return [BINARY, "route", "--port", "0"]
