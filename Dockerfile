# syntax=docker/dockerfile:1
# Multi-arch image of `vitals` (linux/amd64, linux/arm64):
#   docker buildx build --platform linux/amd64,linux/arm64 -t IMAGE:TAG .             # static (musl)
#   docker buildx build --platform linux/amd64,linux/arm64 --target gnu -t IMAGE:TAG-gnu .
# The build stages run in the official Rust image of the target platform (natively, or
# under QEMU via binfmt). `static` (the default, last stage) is a musl binary on
# distroless/static: store and agent without GPU. `gnu` is the glibc build on Debian slim:
# a static musl binary cannot dlopen the NVIDIA driver's libnvidia-ml.so, so GPU agents
# (deploy/kubernetes/components/gpu) use this one.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build-musl
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
    && cargo build --release --locked --bin vitals --target "$target" \
    && cp "target/$target/release/vitals" /vitals && strip /vitals

FROM rust:${RUST_VERSION}-bookworm AS build-gnu
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vitals \
    && cp target/release/vitals /vitals && strip /vitals

FROM debian:bookworm-slim AS gnu
COPY --from=build-gnu /vitals /usr/bin/vitals
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/bin/vitals"]
CMD ["store", "--storage.tsdb.path=/data", "--web.listen-address=0.0.0.0:9090"]

FROM gcr.io/distroless/static-debian12:nonroot AS static
COPY --from=build-musl /vitals /usr/bin/vitals
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/bin/vitals"]
CMD ["store", "--storage.tsdb.path=/data", "--web.listen-address=0.0.0.0:9090"]
