# digitops — the two commands a new machine needs are `make demo` and `make test`.
SHELL := bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/digitops
TESTENV_BUILD := hack/testenv/build.sh --extras

.PHONY: all build test unit lint testenv demo bench clean dist image release-check

all: build

build: ## build bin/digitops
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/digitops

testenv: ## build the control-plane binaries once (cached, keyed by version)
	@$(TESTENV_BUILD) >/dev/null && $(TESTENV_BUILD)

lint: ## gofmt check + go vet
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/testenv/'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags bench ./bench/micro/

# CGO_ENABLED=0 as the release build: with cgo, kustomize's import of
# "plugin" (through Helm's client) makes every test binary link externally,
# about twice as slow.
unit: ## tests that need no control plane
	CGO_ENABLED=0 $(GO) test -short ./...

# build first: TestImage builds the release binary with the same flags, so it only links.
test: testenv lint build ## unit and control-plane tests (CI runs this)
	CI=$${CI:-} $(GO) test -timeout 60m ./...

demo: testenv build ## the main job on a local control plane
	./hack/demo.sh

include bench/Makefile.inc

bench: testenv build bench-peers ## benchmarks against helmfile, the deployer's way and the floor
	$(BENCH_RUN) -digitops $(BIN)

dist: ## release binaries for linux/darwin x amd64/arm64, checksums.txt and an SPDX SBOM, in dist/
	$(GO) run ./hack/release dist -version $(VERSION) -out dist

image: ## the container image without Docker: dist/image/oci (OCI layout, amd64+arm64) and docker-loadable tarballs
	$(GO) run ./hack/release image -version $(VERSION) -out dist

release-check: dist image ## build every release artifact (CI runs it after make test)
	cd dist && sha256sum --check --quiet checksums.txt

clean:
	rm -rf bin .demo dist
