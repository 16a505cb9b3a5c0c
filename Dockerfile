# syntax=docker/dockerfile:1
# One image for the workspace: the four services and the `oversight` CLI. The container command
# chooses what runs, e.g. `command: ["/usr/local/bin/combiner"]` (deploy/k8s/base).
#
#   docker build -t oversight:dev .
#   docker run --rm oversight:dev oversight --help

FROM rust:1-bookworm AS build
WORKDIR /src
# Protos are compiled with protox (pure Rust): no protoc needed.
COPY . .
# The cache mounts keep the registry and target dir between builds; the binaries are copied out
# of the cached target dir in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out/bin /out/data \
    && for b in ingestion cqc-quality nhsi-resources combiner oversight; do \
         cp "target/release/$b" /out/bin/; \
       done

# distroless/cc: glibc, libgcc, CA certificates and nothing else (no shell, no package manager).
# Debian 12 matches the builder's glibc.
FROM gcr.io/distroless/cc-debian12 AS runtime
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build --chown=10001:10001 /out/data /var/lib/oversight
USER 10001:10001
ENV DATA_DIR=/var/lib/oversight \
    RUST_LOG=info
# gRPC: ingestion 50051, cqc-quality 50052, nhsi-resources 50053, combiner 50054;
# metrics 9100 (every service); the combiner's HTML report 8080.
EXPOSE 50051 50052 50053 50054 9100 8080
CMD ["/usr/local/bin/oversight", "--help"]
