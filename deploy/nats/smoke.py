#!/usr/bin/env python3
"""Smoke-check the shipped NATS config and JetStream declarations against a throwaway nats-server.

Starts `nats-server -c deploy/nats/nats-server.conf` on free local ports with a temporary store,
creates every stream in deploy/jetstream as `operator` (with num_replicas 1: one server), lets each
service create its own consumer from deploy/jetstream with its own user (so the pinned
CONSUMER.CREATE permissions and the consumer JSON are both exercised), drives one message along
feeds → evidence → quality → uor → combined, and checks that a sample of forbidden publishes,
subscriptions and consumer creations is refused. The full permission matrix is a Rust test
(tests/tests/nats_permissions.rs, generated from the subject map); this proves the deploy files
work together. The server binary: $NATS_SERVER_BIN, else nats-server on PATH.

Standard library only: speaks the NATS text protocol directly. Usage: smoke.py [REPO_ROOT]
"""

import itertools
import json
import os
import pathlib
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
CONF = ROOT / "deploy/nats/nats-server.conf"
JS_DIR = ROOT / "deploy/jetstream"
PASSWORDS = {  # the dev-only placeholders of nats-server.conf
    "operator": "dev-operator-password",
    "feeds": "dev-feeds-password",
    "ingestion": "dev-ingestion-password",
    "cqc_quality": "dev-cqc-quality-password",
    "nhsi_resources": "dev-nhsi-resources-password",
    "combiner": "dev-combiner-password",
}


class Denied(Exception):
    pass


class Conn:
    """A minimal NATS client: enough for requests, publishes, subscriptions and pulls."""

    _ids = itertools.count(1)

    def __init__(self, port, user):
        self.user = user
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.pending = []
        self.sid = itertools.count(1)
        self.inbox = f"_INBOX.{user}{next(self._ids)}"
        self.line()  # INFO
        connect = {"user": user, "pass": PASSWORDS[user], "verbose": False, "pedantic": False,
                   "headers": True, "no_responders": True, "protocol": 1, "name": f"smoke-{user}"}
        self.send(f"CONNECT {json.dumps(connect)}\r\n")
        self.sync()
        self.inbox_sid = str(next(self.sid))
        self.send(f"SUB {self.inbox}.* {self.inbox_sid}\r\n")
        self.sync()

    def send(self, s):
        self.sock.sendall(s.encode() if isinstance(s, str) else s)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.sock], [], [], left)[0]:
            raise TimeoutError(f"{self.user}: no answer")
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"{self.user}: connection closed")
        self.buf += chunk

    def line(self, deadline=None):
        deadline = deadline or time.monotonic() + 5
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def take(self, n, deadline):
        while len(self.buf) < n + 2:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def event(self, deadline):
        """Next MSG/HMSG as (subject, reply, payload, sid), or ('PONG',) / ('ERR', text)."""
        while True:
            line = self.line(deadline)
            op = line.split(" ", 1)[0]
            if op == "PING":
                self.send("PONG\r\n")
            elif op == "PONG":
                return ("PONG",)
            elif op == "-ERR":
                return ("ERR", line)
            elif op == "MSG":
                parts = line.split()
                reply = parts[3] if len(parts) == 5 else None
                return (parts[1], reply, self.take(int(parts[-1]), deadline), parts[2])
            elif op == "HMSG":
                parts = line.split()
                reply = parts[3] if len(parts) == 6 else None
                raw = self.take(int(parts[-1]), deadline)
                headers, payload = raw[: int(parts[-2])], raw[int(parts[-2]):]
                if b" 503" in headers.split(b"\r\n", 1)[0]:
                    payload = None  # no responders
                return (parts[1], reply, payload, parts[2])
            # +OK, INFO: ignore

    def sync(self):
        """Flush with PING; raise Denied if the server refused anything before the PONG. Messages
        that arrive meanwhile are kept for `request`."""
        self.send("PING\r\n")
        deadline = time.monotonic() + 5
        refusal = None
        while True:
            ev = self.event(deadline)
            if ev[0] == "ERR":
                refusal = refusal or ev[1]  # read on to our PONG so the next sync starts clean
            elif ev[0] == "PONG":
                if refusal:
                    raise Denied(refusal)
                return
            else:
                self.pending.append(ev)

    def pub(self, subject, payload=b"", reply=None, msg_id=None):
        payload = payload.encode() if isinstance(payload, str) else payload
        r = f" {reply}" if reply else ""
        if msg_id:
            hdr = f"NATS/1.0\r\nNats-Msg-Id: {msg_id}\r\n\r\n".encode()
            self.send(f"HPUB {subject}{r} {len(hdr)} {len(hdr) + len(payload)}\r\n".encode() + hdr + payload + b"\r\n")
        else:
            self.send(f"PUB {subject}{r} {len(payload)}\r\n".encode() + payload + b"\r\n")

    def request(self, subject, payload=b"", msg_id=None, timeout=3):
        reply = f"{self.inbox}.{next(self.sid)}"
        self.pub(subject, payload, reply, msg_id)
        self.sync()
        deadline = time.monotonic() + timeout
        while True:
            ev = self.pending.pop(0) if self.pending else self.event(deadline)
            if ev[0] == "ERR":
                raise Denied(ev[1])
            # A reply comes on its inbox subject; a pulled message keeps its stream subject but
            # arrives on the inbox subscription.
            if ev[0] == reply or (ev[0] not in ("PONG",) and ev[3] == self.inbox_sid
                                  and not ev[0].startswith(self.inbox)):
                return ev[:3]

    def js(self, subject, body=None, msg_id=None):
        """A JetStream API call or publish; returns the JSON answer, raising on an API error."""
        payload = b"" if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        _, _, answer = self.request(subject, payload, msg_id)
        if answer is None:
            raise RuntimeError(f"{self.user}: no responders on {subject}")
        doc = json.loads(answer)
        if "error" in doc:
            raise RuntimeError(f"{self.user}: {subject}: {doc['error']}")
        return doc

    def subscribe(self, subject):
        self.send(f"SUB {subject} {next(self.sid)}\r\n")
        self.sync()

    @staticmethod
    def pull_request(stream, durable):
        """A pull of one message; consumers with priority groups (deploy/jetstream: pinned
        clients, nats-server ≥ 2.11) only answer pulls that name their group."""
        req = {"batch": 1, "expires": 2_000_000_000}
        cfg = json.loads((JS_DIR / f"consumer-{stream}-{durable}.json").read_text())
        if cfg.get("priority_groups"):
            req["group"] = cfg["priority_groups"][0]
        return req

    def pull(self, stream, durable):
        _, ack, payload = self.request(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
                                       json.dumps(self.pull_request(stream, durable)), timeout=5)
        if payload is None or ack is None:
            raise RuntimeError(f"{self.user}: nothing pulled from {stream}/{durable}")
        self.pub(ack, "+ACK")
        self.sync()
        return payload


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


checks = []


def check(what, fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - report every failure, keep going
        checks.append((False, what, f"{type(e).__name__}: {e}"))
    else:
        checks.append((True, what, ""))


def refused(what, fn):
    def run():
        try:
            fn()
        except Denied:
            return
        raise AssertionError("was allowed")
    check(f"refused: {what}", run)


def main():
    server = os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server") or "/usr/sbin/nats-server"
    store = tempfile.mkdtemp(prefix="oversight-nats-smoke-")
    port = free_port()
    # The shipped config with only the store directory changed (`-sd` may not repeat `store_dir`).
    conf = pathlib.Path(store) / "nats-server.conf"
    text = CONF.read_text()
    assert 'store_dir: "/data/jetstream"' in text, "store_dir line changed: update smoke.py"
    conf.write_text(text.replace('store_dir: "/data/jetstream"', f'store_dir: "{store}/js"'))
    proc = subprocess.Popen([server, "-c", str(conf), "-a", "127.0.0.1", "-p", str(port),
                             "-m", str(free_port())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        run_checks(port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(store, ignore_errors=True)
    for ok, what, why in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}{'  — ' + why if why else ''}")
    failed = sum(not ok for ok, _, _ in checks)
    print(f"nats smoke: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_checks(port):
    op = Conn(port, "operator")
    streams = {}
    for f in sorted(JS_DIR.glob("stream-*.json")):
        cfg = json.loads(f.read_text())
        cfg["num_replicas"] = 1  # one throwaway server
        streams[cfg["name"]] = cfg
        check(f"operator creates stream {cfg['name']} from {f.name}",
              lambda c=cfg: op.js(f"$JS.API.STREAM.CREATE.{c['name']}", c))

    svc = {u: Conn(port, u) for u in ("feeds", "ingestion", "cqc_quality", "nhsi_resources", "combiner")}
    owners = {"ingestion": ["OVERSIGHT_FEEDS", "OVERSIGHT_EVIDENCE"], "cqc_quality": ["OVERSIGHT_QUALITY"],
              "nhsi_resources": ["OVERSIGHT_UOR"], "combiner": ["OVERSIGHT_COMBINED"]}
    for user, owned in owners.items():
        for name in owned + ["OVERSIGHT_DEADLETTER"]:
            # get_or_create_stream: INFO, then CREATE (idempotent with the same config).
            check(f"{user} declares stream {name}", lambda u=user, n=name: (
                svc[u].js(f"$JS.API.STREAM.INFO.{n}"),
                svc[u].js(f"$JS.API.STREAM.CREATE.{n}", streams[n])))

    consumer_user = {"ingestion-feeds": "ingestion", "cqc-quality-evidence": "cqc_quality",
                     "nhsi-resources-evidence": "nhsi_resources", "nhsi-resources-quality": "nhsi_resources",
                     "combiner-quality": "combiner", "combiner-uor": "combiner"}
    for f in sorted(JS_DIR.glob("consumer-*.json")):
        stream, durable = f.stem.removeprefix("consumer-").split("-", 1)
        cfg = json.loads(f.read_text())
        cfg["num_replicas"] = 1  # one throwaway server
        user = consumer_user[durable]
        check(f"{user} declares consumer {stream}/{durable} from {f.name}", lambda s=stream, d=durable, c=cfg, u=user: (
            svc[u].js(f"$JS.API.STREAM.INFO.{s}"),
            svc[u].js(f"$JS.API.CONSUMER.CREATE.{s}.{d}.{c['filter_subject']}",
                      {"stream_name": s, "config": c, "action": ""}),
            svc[u].js(f"$JS.API.CONSUMER.INFO.{s}.{d}")))

    # One message along the whole flow, each hop published with a Nats-Msg-Id and acked.
    flow = [
        ("feeds", "oversight.feeds.submit", "ingestion", "OVERSIGHT_FEEDS", "ingestion-feeds"),
        ("ingestion", "oversight.evidence.quality", "cqc_quality", "OVERSIGHT_EVIDENCE", "cqc-quality-evidence"),
        ("ingestion", "oversight.evidence.resources", "nhsi_resources", "OVERSIGHT_EVIDENCE", "nhsi-resources-evidence"),
        ("cqc_quality", "oversight.quality.rated", "combiner", "OVERSIGHT_QUALITY", "combiner-quality"),
        ("cqc_quality", "oversight.quality.rated", "nhsi_resources", "OVERSIGHT_QUALITY", "nhsi-resources-quality"),
        ("nhsi_resources", "oversight.uor.approved", "combiner", "OVERSIGHT_UOR", "combiner-uor"),
    ]
    published = set()
    for pub, subject, sub, stream, durable in flow:
        def hop(pub=pub, subject=subject, sub=sub, stream=stream, durable=durable):
            body = f"smoke on {subject}"
            # The same Nats-Msg-Id twice: the second publish is dropped by the duplicate window.
            ack = svc[pub].js(subject, body, msg_id=f"smoke-{subject}")
            assert ack.get("duplicate", False) == (subject in published), ack
            published.add(subject)
            got = svc[sub].pull(stream, durable)
            assert got == body.encode(), got
        check(f"{pub} publishes {subject}; {sub} pulls and acks it via {durable}", hop)
    check("combiner publishes oversight.combined.published",
          lambda: svc["combiner"].js("oversight.combined.published", "c", msg_id="smoke-c"))
    for user, service in [("ingestion", "ingestion"), ("cqc_quality", "cqc-quality"),
                          ("nhsi_resources", "nhsi-resources"), ("combiner", "combiner")]:
        check(f"{user} dead-letters on oversight.deadletter.{service}",
              lambda u=user, s=service: svc[u].js(f"oversight.deadletter.{s}", "dl", msg_id=f"dl-{s}"))
    check("combiner subscribes to oversight.quality.rated", lambda: svc["combiner"].subscribe("oversight.quality.rated"))

    # A sample of what each must not do (a refused call leaves the connection usable).
    refused("feeds publishes oversight.evidence.quality", lambda: svc["feeds"].request("oversight.evidence.quality", "x"))
    refused("ingestion publishes oversight.quality.rated", lambda: svc["ingestion"].request("oversight.quality.rated", "x"))
    refused("cqc_quality publishes oversight.uor.approved", lambda: svc["cqc_quality"].request("oversight.uor.approved", "x"))
    refused("nhsi_resources publishes oversight.combined.published",
            lambda: svc["nhsi_resources"].request("oversight.combined.published", "x"))
    refused("combiner publishes oversight.quality.rated", lambda: svc["combiner"].request("oversight.quality.rated", "x"))
    refused("combiner publishes another service's dead letters",
            lambda: svc["combiner"].request("oversight.deadletter.ingestion", "x"))
    refused("cqc_quality subscribes to oversight.evidence.resources",
            lambda: svc["cqc_quality"].subscribe("oversight.evidence.resources"))
    refused("combiner subscribes to oversight.>", lambda: svc["combiner"].subscribe("oversight.>"))
    refused("cqc_quality creates its consumer on resource evidence", lambda: svc["cqc_quality"].request(
        "$JS.API.CONSUMER.CREATE.OVERSIGHT_EVIDENCE.cqc-quality-evidence.oversight.evidence.resources", "{}"))
    refused("cqc_quality pulls nhsi-resources-evidence",
            lambda: svc["cqc_quality"].request("$JS.API.CONSUMER.MSG.NEXT.OVERSIGHT_EVIDENCE.nhsi-resources-evidence", "{}"))
    refused("combiner creates an ephemeral consumer", lambda: svc["combiner"].request(
        "$JS.API.CONSUMER.CREATE.OVERSIGHT_EVIDENCE", "{}"))
    refused("combiner deletes a stream", lambda: svc["combiner"].request("$JS.API.STREAM.DELETE.OVERSIGHT_QUALITY"))
    refused("nhsi_resources creates OVERSIGHT_QUALITY",
            lambda: svc["nhsi_resources"].request("$JS.API.STREAM.CREATE.OVERSIGHT_QUALITY", "{}"))
    refused("feeds reads stream info", lambda: svc["feeds"].request("$JS.API.STREAM.INFO.OVERSIGHT_FEEDS"))


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
