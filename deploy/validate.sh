#!/usr/bin/env bash
# Validate the deploy files without a cluster (issue 8):
#   1. render the Kustomize base and each overlay with `kubectl kustomize`;
#   2. validate every rendered resource strictly against the Kubernetes schemas (kubernetes-validate);
#   3. check the policies the manifests promise (non-root, read-only root fs, no capabilities, limits,
#      gRPC probes, 2+ replicas and an HPA per service in prod, no secret values in prod);
#   4. parse the declarative JetStream config;
#   5. check deploy/nats/nats-server.conf with `nats-server -t`, and when nats-server is installed,
#      run deploy/nats/smoke.py: a throwaway server with that config, the JetStream files applied,
#      one message along the whole flow and a sample of forbidden operations refused;
#   6. deploy/monitoring: `promtool check rules` and `promtool test rules` on the alert rules,
#      `promtool check config` on the demo's Prometheus config, the dashboard's JSON and the PromQL
#      of every panel (tests/tests/monitoring.rs checks their metric names against the registry).
# Installs what is missing (kubernetes-validate from PyPI; kubectl from Debian when it has one;
# promtool unpacked from Debian's prometheus package into .tools/, so no Prometheus daemon starts).
# Exits non-zero on any failure. Usage: deploy/validate.sh   (from anywhere)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
ok() { echo "  ok   $*"; passed=$((passed + 1)); }
fail() { echo "  FAIL $*"; failures=$((failures + 1)); }

echo "== tools"
if ! command -v kubectl >/dev/null; then
  echo "  kubectl not on PATH; looking in Debian's packages"
  apt-get update -qq >/dev/null 2>&1 || true
  if apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt-get install -y -qq kubectl >/dev/null
  else
    echo "  Debian has no kubectl here: install kubectl (or kustomize v5) and re-run" >&2
  fi
fi
if command -v kubectl >/dev/null; then
  ok "kubectl: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
else
  fail "kubectl is required to render the overlays"
fi
if ! command -v kubernetes-validate >/dev/null; then
  pip install --quiet kubernetes-validate >/dev/null 2>&1 || python3 -m pip install --quiet kubernetes-validate
fi
if command -v kubernetes-validate >/dev/null; then
  ok "kubernetes-validate $(kubernetes-validate --version 2>&1)"
else
  fail "kubernetes-validate could not be installed"
fi

echo "== kustomize render + strict schema validation"
for target in base overlays/dev overlays/prod; do
  name=${target##*/}
  out="$work/$name.yaml"
  if ! kubectl kustomize "deploy/k8s/$target" >"$out" 2>"$work/$name.err"; then
    fail "render deploy/k8s/$target: $(cat "$work/$name.err")"
    continue
  fi
  count=$(grep -c '^kind:' "$out")
  ok "render deploy/k8s/$target ($count resources)"
  if kubernetes-validate --strict --quiet "$out" >"$work/$name.val" 2>&1; then
    ok "kubernetes-validate --strict deploy/k8s/$target"
  else
    fail "kubernetes-validate --strict deploy/k8s/$target:"
    sed 's/^/         /' "$work/$name.val"
  fi
done

echo "== manifest policies"
python3 - "$work" <<'PY'
import json, pathlib, sys, yaml

work = pathlib.Path(sys.argv[1])
SERVICES = {"ingestion": 50051, "cqc-quality": 50052, "nhsi-resources": 50053, "combiner": 50054}
problems, checked = [], 0


def need(cond, what):
    global checked
    checked += 1
    if not cond:
        problems.append(what)


def docs(name):
    p = work / f"{name}.yaml"
    return [d for d in yaml.safe_load_all(p.read_text()) if d] if p.exists() else []


for overlay in ("dev", "prod"):
    rs = docs(overlay)
    if not rs:
        problems.append(f"{overlay}: nothing rendered")
        continue
    by_kind = {}
    for r in rs:
        by_kind.setdefault(r["kind"], {})[r["metadata"]["name"]] = r
    for kind in ("Deployment", "StatefulSet", "Job"):
        for name, r in by_kind.get(kind, {}).items():
            where = f"{overlay}: {kind} {name}"
            pod = r["spec"]["template"]["spec"]
            psc = pod.get("securityContext", {})
            need(psc.get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
            need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp RuntimeDefault")
            need(pod.get("automountServiceAccountToken") is False, f"{where}: automountServiceAccountToken false")
            for c in pod["containers"]:
                sc = c.get("securityContext", {})
                need(sc.get("allowPrivilegeEscalation") is False, f"{where}/{c['name']}: allowPrivilegeEscalation false")
                need(sc.get("readOnlyRootFilesystem") is True, f"{where}/{c['name']}: readOnlyRootFilesystem")
                need(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}/{c['name']}: drop ALL")
                need({"cpu", "memory"} <= set(c.get("resources", {}).get("limits", {})), f"{where}/{c['name']}: limits")
                need({"cpu", "memory"} <= set(c.get("resources", {}).get("requests", {})), f"{where}/{c['name']}: requests")
    for svc, port in SERVICES.items():
        where = f"{overlay}: {svc}"
        d = by_kind.get("Deployment", {}).get(svc)
        need(d is not None, f"{where}: Deployment")
        if d is None:
            continue
        pod = d["spec"]["template"]["spec"]
        c = pod["containers"][0]
        need(pod["securityContext"].get("runAsUser") == 10001, f"{where}: uid 10001")
        need(c["command"] == [f"/usr/local/bin/{svc}"], f"{where}: command")
        # Readiness follows the dependencies; liveness flips only before the process exits.
        for probe, health in (("livenessProbe", "liveness"), ("readinessProbe", "readiness"),
                              ("startupProbe", "liveness")):
            grpc = c.get(probe, {}).get("grpc", {})
            need(grpc.get("port") == port, f"{where}: {probe} grpc {port}")
            need(grpc.get("service") == health, f"{where}: {probe} asks for health of {health!r}")
        mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
        need({"/tmp", "/var/lib/oversight"} <= mounts, f"{where}: /tmp and /var/lib/oversight mounted")
        env = {e["name"]: e for e in c.get("env", [])}
        need("secretKeyRef" in env.get("NATS_PASSWORD", {}).get("valueFrom", {}), f"{where}: NATS_PASSWORD from a Secret")
        need("secretKeyRef" in env.get("DATABASE_URL", {}).get("valueFrom", {}), f"{where}: DATABASE_URL from a Secret")
        for kind in ("Service", "ServiceAccount", "PodDisruptionBudget"):
            need(svc in by_kind.get(kind, {}), f"{where}: {kind}")
        need(f"{svc}-ingress" in by_kind.get("NetworkPolicy", {}), f"{where}: ingress NetworkPolicy")
        sa = by_kind.get("ServiceAccount", {}).get(svc, {})
        need(sa.get("automountServiceAccountToken") is False, f"{where}: ServiceAccount token not mounted")
        if overlay == "prod":
            need(d["spec"].get("replicas", 1) >= 2, f"{where}: 2+ replicas")
            hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(svc)
            need(hpa is not None and hpa["spec"]["minReplicas"] >= 2
                 and hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu", f"{where}: CPU HPA from 2")
    need("default-deny-all" in by_kind.get("NetworkPolicy", {}), f"{overlay}: default-deny NetworkPolicy")
    # NATS: the server list and the replicas the services declare their streams and consumers with.
    common = next((r for n, r in by_kind.get("ConfigMap", {}).items() if n.startswith("oversight-common")), {})
    data = common.get("data", {})
    servers = [u.strip() for u in data.get("NATS_URL", "").split(",")]
    need(all(u.startswith(("nats://", "tls://")) and u.count(":") == 2 for u in servers),
         f"{overlay}: NATS_URL is a comma-separated list of nats://host:port ({data.get('NATS_URL')!r})")
    replicas = data.get("JETSTREAM_REPLICAS", "")
    want = "3" if overlay == "prod" else "1"
    need(replicas == want, f"{overlay}: JETSTREAM_REPLICAS {want} (got {replicas!r})")
    if overlay == "prod":
        need(len(servers) >= 3, f"prod: NATS_URL lists the cluster's servers (3+), got {len(servers)}")
        for f in sorted(pathlib.Path("deploy/jetstream").glob("*.json")):
            n = json.loads(f.read_text()).get("num_replicas")
            need(str(n) == replicas, f"prod: {f.name} num_replicas {n} = JETSTREAM_REPLICAS {replicas}")
    if overlay == "prod":
        need("Secret" not in by_kind, "prod: no Secret objects (secrets by reference only)")
        need("jetstream-config" in by_kind.get("Job", {}), "prod: JetStream config job")
    else:
        need({"nats", "postgres"} <= set(by_kind.get("StatefulSet", {})), "dev: NATS and Postgres StatefulSets")
print(f"  {checked - len(problems)} of {checked} policy checks hold")
for p in problems:
    print(f"  - {p}")
sys.exit(1 if problems else 0)
PY
if [ $? -eq 0 ]; then ok "manifest policies (dev, prod)"; else fail "manifest policies"; fi

echo "== JetStream declarative config"
for f in deploy/jetstream/*.json; do
  if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d.get("name"), "no name"' "$f" 2>"$work/json.err"; then
    ok "parse $f"
  else
    fail "parse $f: $(cat "$work/json.err" | tail -1)"
  fi
done

echo "== NATS server config"
nats_server=${NATS_SERVER_BIN:-}
[ -n "$nats_server" ] && [ -x "$nats_server" ] || nats_server=$(command -v nats-server || true)
for candidate in .tools/bin/nats-server /usr/sbin/nats-server; do
  [ -n "$nats_server" ] || { [ -x "$candidate" ] && nats_server=$candidate; } || true
done
if [ -n "$nats_server" ]; then
  if "$nats_server" -c deploy/nats/nats-server.conf -t >"$work/nats.out" 2>&1; then
    ok "$("$nats_server" --version): $(cat "$work/nats.out")"
  else
    fail "nats-server -t: $(cat "$work/nats.out")"
  fi
  if NATS_SERVER_BIN="$nats_server" python3 deploy/nats/smoke.py "$root" >"$work/smoke.out" 2>&1; then
    ok "$(tail -1 "$work/smoke.out") (deploy/nats/smoke.py)"
  else
    fail "deploy/nats/smoke.py:"
    grep -v '^  ok ' "$work/smoke.out" | sed 's/^/       /'
  fi
elif [ "${CI:-}" = "true" ]; then
  # CI must not pass without having checked the NATS config (.ci/run sets NATS_SERVER_BIN).
  fail "nats-server not found (NATS_SERVER_BIN, PATH, .tools/bin): the NATS config was not checked"
else
  echo "  skip nats-server not installed: the NATS config was not checked (CI=true makes this a failure)"
fi

echo "== monitoring: alert rules, their unit tests, Prometheus config, dashboard"
promtool=$(command -v promtool || true)
if [ -z "$promtool" ] && [ ! -x .tools/prometheus/usr/bin/promtool ]; then
  # The package itself would also install and start a Prometheus server: unpack it instead.
  apt-get update -qq >/dev/null 2>&1 || true
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1 \
    && dpkg-deb -x prometheus_*.deb "$root/.tools/prometheus") || true
fi
[ -n "$promtool" ] || promtool=.tools/prometheus/usr/bin/promtool
if [ -x "$promtool" ]; then
  ok "$("$promtool" --version 2>&1 | head -n 1)"
  for check in "check rules deploy/monitoring/alerts.yml" "test rules deploy/monitoring/alerts.test.yml" \
      "check config deploy/monitoring/prometheus-demo.yml"; do
    # shellcheck disable=SC2086
    if "$promtool" $check >"$work/promtool.out" 2>&1; then
      ok "promtool $check"
    else
      fail "promtool $check:"
      sed 's/^/         /' "$work/promtool.out"
    fi
  done
  # The dashboard: valid JSON, and every panel's PromQL parses (as recording rules, with the
  # Grafana variables replaced by values).
  if python3 - "$work/dashboard-rules.yml" <<'PY' >"$work/dashboard.out" 2>&1
import json, sys, yaml
d = json.load(open("deploy/monitoring/oversight-dashboard.json"))
k8s = yaml.safe_load(open("deploy/monitoring/prometheus.yml"))
job = k8s["scrape_configs"][0]
assert job["job_name"] == "oversight" and job.get("honor_labels") and "alerts.yml" in k8s["rule_files"], "prometheus.yml"
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
rules = []
for p in panels(d["panels"]):
    for t in p.get("targets", []):
        expr = (t["expr"].replace("$__rate_interval", "5m").replace("$service", ".*"))
        rules.append({"record": f"dashboard:panel{p['id']}:{t['refId']}", "expr": expr})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
print(f"{len(rules)} panel queries")
PY
  then
    if "$promtool" check rules "$work/dashboard-rules.yml" >"$work/promtool.out" 2>&1; then
      ok "dashboard JSON, prometheus.yml, and the PromQL of $(cat "$work/dashboard.out")"
    else
      fail "dashboard PromQL:"
      sed 's/^/         /' "$work/promtool.out"
    fi
  else
    fail "deploy/monitoring: $(tail -n 1 "$work/dashboard.out")"
  fi
else
  fail "promtool is required (Debian package prometheus)"
fi

echo "== $passed passed, $failures failed"
[ "$failures" -eq 0 ]
