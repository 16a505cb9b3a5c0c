#!/bin/sh
# Apply the declarative JetStream config in this directory with the `nats` CLI, idempotently:
# a stream or consumer that exists is edited to match its file, one that does not is added.
#
#   NATS_URL=nats://nats.example:4222 NATS_USER=operator NATS_PASSWORD=… ./apply.sh [DIR]
#
# DIR defaults to this script's directory. Streams first, then consumers (consumer files are named
# consumer-<STREAM>-<durable>.json). Streams and consumers are 3 replicas each, as the services
# declare them with JETSTREAM_REPLICAS=3. Set REPLICAS to override num_replicas of both (e.g.
# REPLICAS=1 for a single server); it needs `jq`. NATS_URL may list several servers, comma-separated.
set -eu
dir=${1:-$(dirname "$0")}
command -v nats >/dev/null || { echo "apply.sh: the nats CLI is required" >&2; exit 2; }

config() { # file → file to use (with num_replicas overridden when REPLICAS is set)
  if [ -n "${REPLICAS:-}" ]; then
    out="${TMPDIR:-/tmp}/$(basename "$1")"
    jq --argjson r "$REPLICAS" '.num_replicas = $r' "$1" >"$out"
    echo "$out"
  else
    echo "$1"
  fi
}

for f in "$dir"/stream-*.json; do
  name=$(basename "$f" .json); name=${name#stream-}
  cfg=$(config "$f")
  if nats stream info "$name" >/dev/null 2>&1; then
    echo "stream $name: exists, editing to match $f"
    nats stream edit "$name" --config "$cfg" --force
  else
    echo "stream $name: adding from $f"
    nats stream add "$name" --config "$cfg"
  fi
done

for f in "$dir"/consumer-*.json; do
  base=$(basename "$f" .json); base=${base#consumer-}
  stream=${base%%-*}; durable=${base#*-}
  cfg=$(config "$f")
  if nats consumer info "$stream" "$durable" >/dev/null 2>&1; then
    echo "consumer $stream/$durable: exists, editing to match $f"
    nats consumer edit "$stream" "$durable" --config "$cfg" --force
  else
    echo "consumer $stream/$durable: adding from $f"
    nats consumer add "$stream" "$durable" --config "$cfg"
  fi
done
echo "JetStream config applied from $dir"
