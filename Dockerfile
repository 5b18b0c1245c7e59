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
# The embedded SQLite default writes to /app/data; mount a volume there, or set
# ACCOUNTPW_DATABASE_URL for PostgreSQL (then also ACCOUNTPW_AUTH_JWT_SECRET).
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/app/accountpw"]
CMD ["serve"]
