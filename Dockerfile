# The lab runner image (`egeria-ha-lab/runner`): the `lab` binary, run in the cluster as the
# init-and-report pod by charts/ec-ha-crux. Build and load it into kind with:
#   docker build -t egeria-ha-lab/runner:0.1.0 . && kind load docker-image egeria-ha-lab/runner:0.1.0
# (the tag is the chart's appVersion).

# Base images pinned by digest, so a rebuild builds on the same bytes. The digests are
# those published for these tags (as recorded in public Dockerfiles pinning them; no
# registry was reachable where this file was written): refresh both together with
#   docker buildx imagetools inspect <image:tag>
# Build with the workspace's Rust version, on the same Debian release as the runtime (glibc).
FROM rust:1.95.0-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --package lab --bin lab \
    && install -D -m 0755 target/release/lab /out/lab

# Runtime: glibc, libgcc and CA certificates, no shell, non-root.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=build /out/lab /usr/local/bin/lab
# Numeric user (distroless "nonroot"), so Kubernetes' runAsNonRoot can check it.
USER 65532:65532
ENTRYPOINT ["lab"]
CMD ["runner"]
