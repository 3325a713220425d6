# The lab runner image (`egeria-ha-lab/runner`): the `lab` binary, run in the cluster as the
# init-and-report pod by charts/ec-ha-crux. Build and load it into kind with:
#   docker build -t egeria-ha-lab/runner:0.1.0 . && kind load docker-image egeria-ha-lab/runner:0.1.0
# (the tag is the chart's appVersion).

# Build with the workspace's Rust version, on the same Debian release as the runtime (glibc).
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --package lab --bin lab \
    && install -D -m 0755 target/release/lab /out/lab

# Runtime: glibc, libgcc and CA certificates, no shell, non-root.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/lab /usr/local/bin/lab
# Numeric user (distroless "nonroot"), so Kubernetes' runAsNonRoot can check it.
USER 65532:65532
ENTRYPOINT ["lab"]
CMD ["runner"]
