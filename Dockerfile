# Hexabase control plane: the FastCGI handlers, each a spawn-fcgi +
# multiwatch pool on a unix socket, with nginx in front on port 8080, and
# the jobs (jobs/migrate).  PostgreSQL, Redis and NATS JetStream run
# elsewhere.
#
#   docker build -t hexabase/control-plane:dev .
#   docker run --rm -p 8080:8080 \
#       -e HXB_DATABASE_URL='host=db dbname=hexabase user=hxb_app' \
#       -e HXB_DATABASE_PASSWORD_FILE=/run/secrets/pg_app \
#       -e HXB_REDIS_ADDR=redis:6379 \
#       -e HXB_REDIS_PASSWORD_FILE=/run/secrets/redis \
#       -e HXB_NATS_URL=nats://nats:4222 \
#       -e HXB_NATS_TOKEN_FILE=/run/secrets/nats \
#       -v "$PWD/secrets:/run/secrets:ro" \
#       hexabase/control-plane:dev
#   docker run --rm \
#       -e HXB_DATABASE_URL='host=db dbname=hexabase user=hxb_owner' \
#       -e HXB_DATABASE_PASSWORD_FILE=/run/secrets/pg_owner \
#       -v "$PWD/secrets:/run/secrets:ro" \
#       hexabase/control-plane:dev migrate
#
# Configuration: the HXB_* variables of shared/config.c, plus the few of
# the entrypoint (k8s/docker-entrypoint.sh: HXB_WORKERS, HXB_HTTP_PORT,
# HXB_MIGRATE_ON_START, ...).
#
# Secrets are never part of the image, nor plain environment variables:
# every secret setting has a *_FILE twin naming a file that holds it (a
# mounted Kubernetes Secret, a docker secret, a read-only bind mount):
#   HXB_DATABASE_PASSWORD_FILE           password of HXB_DATABASE_URL's role
#   HXB_REDIS_PASSWORD_FILE              Redis AUTH password
#   HXB_NATS_TOKEN_FILE                  NATS token
#   HXB_MIGRATE_DATABASE_PASSWORD_FILE   password of the owner role, for
#                                        migrate (with HXB_MIGRATE_DATABASE_URL)
#   HXB_MASTER_KEY_FILE                  the key sealing the signing keys
#   HXB_STRIPE_SECRET_KEY_FILE           Stripe API key (billing)
#   HXB_STRIPE_WEBHOOK_SECRET_FILE       the webhook's signing secret (and
#                                        ..._PREVIOUS_FILE during a rotation)
# The files must be readable by uid 10001.
#
# The image runs as uid/gid 10001 ("hexabase") and writes only under
# /run/hexabase (HXB_RUN_DIR), so it works with a read-only root file
# system when a volume is mounted there (Kubernetes: an emptyDir; docker:
# --read-only --tmpfs /run/hexabase:uid=10001,gid=10001).  Logs: JSON
# lines; nginx's access log on stdout, everything else on stderr.

ARG DEBIAN_IMAGE=debian:bookworm-slim

# --- build -------------------------------------------------------------------

FROM ${DEBIAN_IMAGE} AS build

# Compiler, make, pkg-config and the -dev packages of the Makefile's PKGS
# (fcgi libpq hiredis libnats jansson libcrypto).  gcc provides cc.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gcc libc6-dev make pkg-config \
        libfcgi-dev libpq-dev libhiredis-dev libnats-dev libjansson-dev \
        libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what `make` reads, so that edits elsewhere keep the build cached.
COPY Makefile ./
COPY shared/ shared/
COPY handlers/ handlers/
COPY jobs/ jobs/
COPY t/bench/hello.c t/bench/

# The Makefile hides pkg-config's errors; say which package is missing here.
# `make` builds build/handlers/*, build/jobs/* and build/t/bench/hello; the
# image takes one binary per handlers/*.c and jobs/*.c.
RUN pkg-config --exists --print-errors fcgi libpq hiredis libnats jansson libcrypto \
 && make -j"$(nproc)" \
 && mkdir -p /out/handlers /out/jobs \
 && for src in handlers/*.c jobs/*.c; do \
        dir=${src%%/*}; name=${src##*/}; name=${name%.c}; \
        install -m 0755 "build/$dir/$name" "/out/$dir/$name" || exit 1; \
    done

# --- runtime -----------------------------------------------------------------

FROM ${DEBIAN_IMAGE}

# nginx, the FastCGI process managers, tini as PID 1, and the shared
# libraries the binaries link: libfcgi.so.0 libpq.so.5 libhiredis.so.0.14
# libnats.so.3.4 libjansson.so.4 libcrypto.so.3.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        nginx-light spawn-fcgi multiwatch tini ca-certificates \
        libfcgi0ldbl libpq5 libhiredis0.14 libnats3.4 libjansson4 libssl3 \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /out/handlers/ /opt/hexabase/handlers/
COPY --from=build /out/jobs/ /opt/hexabase/jobs/
COPY nginx/ /opt/hexabase/nginx/
COPY sql/ /opt/hexabase/sql/
COPY k8s/docker-entrypoint.sh /opt/hexabase/bin/docker-entrypoint.sh

# The user, the one writable directory, and a check that every binary finds
# its libraries (a missing runtime package fails the build, not the pod).
RUN groupadd --gid 10001 hexabase \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin hexabase \
 && install -d -o 10001 -g 10001 -m 0755 /run/hexabase \
 && chmod 0755 /opt/hexabase/bin/docker-entrypoint.sh \
 && for bin in /opt/hexabase/handlers/* /opt/hexabase/jobs/*; do \
        if ldd "$bin" | grep 'not found'; then echo "$bin: missing libraries" >&2; exit 1; fi; \
    done \
 && nginx -v && spawn-fcgi -v >/dev/null && test -x /usr/bin/multiwatch

ENV HXB_HOME=/opt/hexabase \
    HXB_RUN_DIR=/run/hexabase \
    HXB_MIGRATIONS_DIR=/opt/hexabase/sql \
    HXB_HTTP_PORT=8080

WORKDIR /opt/hexabase
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/hexabase/bin/docker-entrypoint.sh"]
CMD ["serve"]
