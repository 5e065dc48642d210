# syntax=docker/dockerfile:1
# portpath: TCP SYN traceroute and Prometheus exporter, as a container.
#
#   docker build -t portpath:0.1.0 .        (or: buildah bud / podman build)
#   docker run --cap-add NET_RAW -p 9750:9750 \
#     -v "$PWD/portpath.yaml:/etc/portpath/config.yaml:ro" portpath:0.1.0
#
# Three stages on Debian 12: the binary is built with the Debian packages the
# project builds with; the public IP-to-ASN data is fetched by the project's own
# script (pinned, integrity-checked); the runtime image holds the binary (file
# capability cap_net_raw+ep, nothing else), its shared libraries, the ASN data
# with its CC BY 4.0 notice, and runs as an unprivileged user.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ make cmake pkg-config ccache \
      libpcap-dev libspdlog-dev libfmt-dev libyaml-cpp-dev prometheus-cpp-dev libcivetweb-dev \
      libmaxminddb-dev libcli11-dev libssl-dev libcrypt-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The sources only (.dockerignore keeps the rest of the tree out).
COPY . .
# ccache in a build cache mount: a rebuild after a small change recompiles only
# what changed (BuildKit, buildah and podman keep the mount between builds).
RUN --mount=type=cache,id=portpath-ccache,target=/root/.cache/ccache \
    cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DPORTPATH_BUILD_TESTS=OFF \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && cmake --build /build --target portpath -j"$(nproc)" \
 && strip /build/portpath

FROM debian:bookworm-slim AS asn
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm ca-certificates openssl \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/fetch-asn-data.sh /usr/local/bin/fetch-asn-data.sh
# Behind a TLS-intercepting proxy, give npm its CA:
#   --secret id=npm_cafile,src=/path/to/ca-bundle.crt   (docker, buildah, podman)
RUN --mount=type=secret,id=npm_cafile \
    if [ -s /run/secrets/npm_cafile ]; then export npm_config_cafile=/run/secrets/npm_cafile; fi \
 && fetch-asn-data.sh /out/asn

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="portpath" \
      org.opencontainers.image.description="TCP SYN traceroute and Prometheus exporter: where on the path a TCP port is blocked, and whose network that is" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim" \
      org.opencontainers.image.documentation="README.md, docs/runbook.md"
# The binary's shared libraries, and setcap for one step below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpcap0.8 libspdlog1.10 libfmt9 libyaml-cpp0.7 libprometheus-cpp-core1.0 \
      libcivetweb1 libmaxminddb0 libssl3 libcrypt1 zlib1g libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 portpath \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin portpath
COPY --from=build /build/portpath /usr/bin/portpath
COPY --from=asn /out/asn /usr/share/portpath/asn
COPY config/container.yaml /etc/portpath/config.yaml
# Raw sockets without root: the capability lives on the file (the container must
# be allowed NET_RAW: docker run --cap-add NET_RAW; Kubernetes add: [NET_RAW]).
# portpath keeps it only until its sockets are open.
# (It runs once before: with the capability on the file, exec needs NET_RAW in
# the bounding set, which a build step may not have.)
RUN portpath --version \
 && setcap cap_net_raw+ep /usr/bin/portpath \
 && dpkg --purge libcap2-bin
USER 65532:65532
EXPOSE 9750
ENTRYPOINT ["portpath", "serve", "--config", "/etc/portpath/config.yaml"]
CMD ["--web.listen-address=:9750"]
