# Build a static binary, then run it as an unprivileged user on a minimal base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /accountpw . && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /accountpw /app/accountpw
COPY config.yaml /app/config.yaml
COPY --from=build --chown=nonroot:nonroot /out/data /app/data
# The embedded SQLite default and its generated JWT secret live in /app/data,
# owned by nonroot (uid 65532). A named volume starts with that owner; a
# bind mount keeps the host's, so chown 65532 the host directory first (the
# service says so at start if it cannot write there). With PostgreSQL
# (ACCOUNTPW_DATABASE_URL, then also ACCOUNTPW_AUTH_JWT_SECRET) nothing is
# written here.
VOLUME /app/data
# Memory the Go runtime hands back after a hash stays mapped (MADV_FREE)
# until the kernel needs it: the next argon2id hash then touches warm pages
# instead of faulting in 64 MiB (on a VM that doubles or triples its time
# after a minute idle). The kernel still reclaims it under memory pressure.
ENV GODEBUG=madvdontneed=0
USER nonroot:nonroot
EXPOSE 8080
# The binary checks itself: GET /readyz (the database answers) within 2 s,
# on the configured address, with the container's own environment. The
# start period covers the migrations serve applies before it listens.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/app/accountpw", "healthcheck"]
ENTRYPOINT ["/app/accountpw"]
CMD ["serve"]
