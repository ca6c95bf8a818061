# Muster: build the release binary, then run it on a slim Debian as an unprivileged user.
#
#   docker build -t muster .
#   docker run -p 8080:8080 -v muster-data:/data muster
#
# The event log lives in the /data volume. Bound to 0.0.0.0, the image starts WITHOUT
# the demo centre (its passwords are published); mount your own settings and procedures
# over /app/config. To try the demo: `docker run -p 127.0.0.1:8080:8080 -e MUSTER_DEMO=1 muster`.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# SQLite is compiled in (rusqlite's `bundled`), so the runtime needs no libsqlite3.
RUN cargo build --release --locked -p muster \
 && cp target/release/muster /usr/local/bin/muster

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin muster \
 && mkdir -p /app /data \
 && chown muster:muster /data
WORKDIR /app
COPY --from=builder /usr/local/bin/muster /usr/local/bin/muster
# Settings, the centre's procedures and the demo seed; paths in them are relative to /app.
COPY config/ /app/config/
# The binary carries its own copy of the web apps; MUSTER_WEB_DIR=/app/web serves these
# files instead (e.g. a customised copy mounted over them).
COPY web/ /app/web/

# MUSTER_DEMO=0 says it outright (a non-loopback bind alone already keeps the demo off);
# `-e MUSTER_DEMO=1` turns it on.
ENV MUSTER_BIND=0.0.0.0:8080 \
    MUSTER_DEMO=0 \
    MUSTER_DATA_DIR=/data \
    MUSTER_CONFIG=/app/config/muster.toml \
    RUST_LOG=info
USER muster
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/muster"]
CMD ["serve"]
