"""A small OSV-compatible advisory service for the deploy gate's tests (stdlib only).

    python3 osv_server.py ADVISORIES.json PORT_FILE

Serves what pip-audit's ``osv`` service asks (``POST /v1/query`` with ``{"package": {"name",
"ecosystem"}, "version"}``, answered ``{"vulns": [...]}`` or ``{}``) and what the gate reads for a
severity (``GET /v1/vulns/<id>``). ADVISORIES.json is a list of OSV records, read again on every
request (a test rewrites it between deploys); a record affects the versions its ``affected[].versions``
list. The server listens on 127.0.0.1 on a free port, which it writes to PORT_FILE once it listens,
and logs each query to stderr. With OSV_BASIC_AUTH=user:password in its environment, it answers 401 to
any request without that HTTP basic authentication.
"""

import base64
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def matching(advisories, name, version):
    """The records of ``advisories`` that affect PyPI package ``name`` at ``version``."""
    found = []
    for record in advisories:
        for affected in record.get("affected", []):
            package = affected.get("package", {})
            if (
                package.get("ecosystem") == "PyPI"
                and _canonical(package.get("name", "")) == _canonical(name)
                and version in affected.get("versions", [])
            ):
                found.append(record)
                break
    return found


class Handler(BaseHTTPRequestHandler):
    advisories_path = None
    basic_auth = None

    def _denied(self):
        """True (after answering 401) when the server wants basic authentication and the request lacks it."""
        if self.basic_auth is None:
            return False
        expected = "Basic " + base64.b64encode(self.basic_auth.encode()).decode()
        if self.headers.get("Authorization") == expected:
            return False
        self._answer(401, {"message": "authentication required"})
        return True

    def _advisories(self):
        with open(self.advisories_path, encoding="utf-8") as handle:
            return json.load(handle)

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - the name http.server calls
        if self._denied():
            return None
        if self.path != "/v1/query":
            return self._answer(404, {"message": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            query = json.loads(self.rfile.read(length))
            name, version = query["package"]["name"], query["version"]
        except (ValueError, KeyError, TypeError):
            return self._answer(400, {"message": "bad query"})
        found = matching(self._advisories(), name, version)
        return self._answer(200, {"vulns": found} if found else {})

    def do_GET(self):  # noqa: N802
        if self._denied():
            return None
        match = re.fullmatch(r"/v1/vulns/([A-Za-z0-9._:-]+)", self.path)
        if not match:
            return self._answer(404, {"message": "not found"})
        for record in self._advisories():
            if match.group(1) == record["id"] or match.group(1) in record.get("aliases", []):
                return self._answer(200, record)
        return self._answer(404, {"message": "not found"})


def main():
    advisories, port_file = sys.argv[1], sys.argv[2]
    Handler.advisories_path = advisories
    Handler.basic_auth = os.environ.get("OSV_BASIC_AUTH")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
