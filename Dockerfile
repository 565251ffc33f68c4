# For those with Docker: `make docker-build`. Without a container engine, `make
# image` builds the same layout (a static binary, non-root, entrypoint treue) as a
# tarball with go-containerregistry.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
    -ldflags "-X github.com/treue-dev/treue/internal/version.Version=${VERSION}" -o /treue .

FROM gcr.io/distroless/static:nonroot
COPY --from=build /treue /treue
USER 65532:65532
ENTRYPOINT ["/treue"]
