"""The sandbox's Nagios web interface (tools/sandbox_monitoring_host.yml), looked at as an operator does:
in a browser, Debian's headless `chromium`, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL on its fds 3 and 4), so that neither a browser
download nor a websocket library is needed, and the password is on no command line."""

import base64
import json
import os
import select
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PORT = int(os.environ.get("PYOPS_SANDBOX_NAGIOS_PORT", "8444"))
NAGIOS = f"https://127.0.0.1:{PORT}"
STATUS_PAGE = "/nagios4/cgi-bin/status.cgi?host=all&limit=0"
USER = "nagiosadmin"
# Where tools/sandbox_monitoring_host.yml keeps the password it made (tools/sandbox.sh info says so too).
PASSWORD_FILE = Path.home() / ".cache" / "pyops" / "sandbox" / "nagios-web-password"
COMMAND_FILE = "/var/lib/nagios4/rw/nagios.cmd"
CERTIFICATE = "/etc/ssl/certs/pyops-nagios-web.pem"

# Each service link of a status.cgi page, with the Status cell and the Status Information cell of
# the table row it is in (the link sits in tables nested in that row's Service cell).
_SERVICE_ROWS = """(() => {
  const states = new Set(["OK", "WARNING", "CRITICAL", "UNKNOWN", "PENDING"]);
  const rows = {};
  for (const link of document.querySelectorAll("a[href*='extinfo.cgi?type=2']")) {
    const query = new URL(link.href).searchParams;
    let row = link.closest("tr");
    while (row && ![...row.children].some((cell) => states.has(cell.innerText.trim()))) {
      row = row.parentElement.closest("tr");
    }
    if (!row) continue;
    const cells = [...row.children].map((cell) => cell.innerText.trim());
    rows[query.get("host") + "\\n" + query.get("service")] = {
      host: query.get("host"), service: query.get("service"),
      state: cells.find((text) => states.has(text)), output: cells[cells.length - 1],
    };
  }
  return JSON.stringify(Object.values(rows));
})()"""


def password():
    return PASSWORD_FILE.read_text().split()[0]


def request(path, user=None, secret=None):
    """(status, headers) of a GET of path, with basic credentials when given; the certificate is not
    checked here (certificate() compares it)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    headers = {}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(NAGIOS + path, headers=headers), timeout=10, context=context
        ) as reply:
            return reply.status, dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def served_certificate():
    return ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", PORT)))


def force_checks(monitor, hosts):
    """Asks Nagios, through its external command file, to check the hosts and all their services now."""
    now = int(monitor.check_output("date +%s"))
    lines = []
    for host in hosts:
        lines += [
            f"[{now}] SCHEDULE_FORCED_HOST_CHECK;{host};{now}",
            f"[{now}] SCHEDULE_FORCED_HOST_SVC_CHECKS;{host};{now}",
        ]
    monitor.run_expect([0], "printf '%s\\n' " + " ".join(f"'{line}'" for line in lines) + f" > {COMMAND_FILE}")


class Chromium:
    """One headless Chromium with a fresh profile; page(path) loads a page of the interface with the
    credentials (an Authorization header on every request of the tab) and returns its service rows."""

    def __init__(self, user, secret, timeout=30):
        self._timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="pyops-chromium-")
        argv = [
            shutil.which("chromium") or "/usr/bin/chromium",
            "--headless",
            # Chromium's sandbox needs user namespaces it cannot have as root here.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            # The sandbox's certificate is self-signed: served_certificate() is compared with it instead.
            "--ignore-certificate-errors",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile}",
            "about:blank",
        ]
        # Our pipes to its stdin and stdout become its fds 3 and 4.
        self._process = subprocess.Popen(
            ["sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null', "sh", *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._buffer = b""
        self._last_id = 0
        self._events = []
        try:
            target = self._call("Target.createTarget", url="about:blank")["targetId"]
            self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            token = base64.b64encode(f"{user}:{secret}".encode()).decode()
            self._call("Network.enable", tab=True)
            self._call("Network.setExtraHTTPHeaders", tab=True, headers={"Authorization": f"Basic {token}"})
            self._call("Page.enable", tab=True)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._process.poll() is None:
            try:
                self._send({"id": self._last_id + 1, "method": "Browser.close"})
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _send(self, message):
        self._process.stdin.write(json.dumps(message).encode() + b"\0")
        self._process.stdin.flush()

    def _receive(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if not select.select([self._process.stdout], [], [], max(left, 0))[0]:
                raise TimeoutError(f"chromium did not answer within {self._timeout} s")
            chunk = os.read(self._process.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError(f"chromium closed its pipe (exit status {self._process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _call(self, method, tab=False, **params):
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if tab:
            message["sessionId"] = self._session
        self._send(message)
        deadline = time.monotonic() + self._timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self._events.append(reply)

    def _wait_for(self, method, deadline):
        while True:
            for event in self._events:
                if event["method"] == method and event.get("sessionId") == self._session:
                    return event
            self._events.append(self._receive(deadline))

    def page(self, path):
        """(HTTP status of the document, [{host, service, state, output}] of its service rows)."""
        self._events.clear()
        navigated = self._call("Page.navigate", tab=True, url=NAGIOS + path)
        assert "errorText" not in navigated, navigated
        deadline = time.monotonic() + self._timeout
        self._wait_for("Page.loadEventFired", deadline)
        status = next(
            e["params"]["response"]["status"]
            for e in self._events
            if e["method"] == "Network.responseReceived" and e["params"].get("type") == "Document"
        )
        found = self._call("Runtime.evaluate", tab=True, expression=_SERVICE_ROWS, returnByValue=True)
        return status, json.loads(found["result"]["value"])
