# digitops image: a static binary on a minimal, non-root base.
# Not built on the development machines (no Docker engine there); kept simple
# enough to check by reading.
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
	-ldflags "-s -w -X main.version=${VERSION}" \
	-o /out/digitops ./cmd/digitops

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/digitops /usr/local/bin/digitops
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/digitops"]
CMD ["serve"]
