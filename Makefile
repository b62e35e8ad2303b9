# kubernetai: build the Rust core into a WebAssembly component, embed it in
# the Go CoreDNS plugin, build CoreDNS with it, and test every layer.
#
#   make run    build everything and serve the example clusters on 127.0.0.1:1053
#   make test   every test (what CI runs)
#
# Both install what they need (rustup target, wasm-tools, Go modules) and
# cache it outside the repository; run them again at no cost.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
CACHE := $(or $(KUBERNETAI_CACHE),$(HOME)/.cache/kubernetai)
# Wraps a core module into a component (tools/componentize: the one
# function of wasm-tools we need, from a crate the workspace already builds).
COMPONENTIZE := target/debug/kubernetai-componentize
CARGO_HOME ?= $(HOME)/.cargo
WASM_TARGET := wasm32-unknown-unknown

COMPONENTS := target/components
CORE_WASM := target/$(WASM_TARGET)/release/kubernetai.wasm
COMPONENT := $(COMPONENTS)/kubernetai.wasm
TEST_GUEST := $(COMPONENTS)/test-guest.wasm
# The core built with the swap-probe feature, for the hot-swap tests. Its own
# cargo target directory: built in the shared one, it would overwrite
# $(CORE_WASM) (features do not change the artifact's path).
PROBE_TARGET := target/swap-probe
PROBE := $(COMPONENTS)/kubernetai-probe.wasm
EMBEDDED := host-go/kubernetai.wasm
COREDNS := bin/coredns
HOST_MODULE := github.com/kubernetai/kubernetai/host-go

# Paths compiled into the component (panic locations) are made the same on
# every machine, so that rebuilding from the same sources gives the same
# bytes and CI can check the embedded component is current.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS := \
	--remap-path-prefix=$(ROOT)=/kubernetai --remap-path-prefix=$(CARGO_HOME)=/cargo

RUST_SOURCES := $(shell find plugin-rs/src wit -type f) Cargo.toml Cargo.lock plugin-rs/Cargo.toml
# What bin/coredns is built from (the image writer is not part of it).
GO_SOURCES := $(shell find host-go -name '*.go' -not -path '*/testdata/*' \
	-not -path 'host-go/builder/image/*' -not -path 'host-go/cmd/kubernetai-image/*') host-go/go.mod host-go/go.sum

.PHONY: help
help:
	@echo "make run     build CoreDNS with kubernetai and serve examples/ on 127.0.0.1:1053"
	@echo "make test    every test: Rust, component, Go, end to end (what CI runs)"
	@echo "make coredns build bin/coredns with the builder"
	@echo "make image   write bin/kubernetai-image.tar: bin/coredns as an OCI image (docker/podman"
	@echo "             load, crane/skopeo push), built without a container engine"
	@echo "make embed   refresh the component embedded in the Go plugin"
	@echo "make generate  regenerate the Go side of the canonical ABI from wit/"
	@echo "make fuzz FUZZTIME=1h  each fuzz target for FUZZTIME: Go (host-go) FuzzServeDNS (query"
	@echo "             bytes through CoreDNS's server to the real core), FuzzCorefile (setup of"
	@echo "             kubernetai blocks), FuzzSnapshot (snapshot files); Rust (plugin-rs) the"
	@echo "             fuzz test of lookup, apply, transfer and configure. make test runs the Go"
	@echo "             targets briefly (about a minute in all)"
	@echo "make bench   benchmarks (see BENCHMARKS.md)"
	@echo "make bench-versus  kubernetai against stock CoreDNS under dnsperf load"
	@echo "make bench-shadow  what a wasm_shadow module costs under dnsperf load"

# ---------------------------------------------------------------- tools

.PHONY: tools
tools: $(COMPONENTIZE) | rust-target

.PHONY: rust-target
rust-target:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

$(COMPONENTIZE): $(shell find tools/componentize -type f) Cargo.lock
	cargo build --locked -p kubernetai-componentize

# ---------------------------------------------------------------- builds

.PHONY: component
component: $(COMPONENT)

$(CORE_WASM): $(RUST_SOURCES) | rust-target
	cargo build --locked -p kubernetai --release --target $(WASM_TARGET)

$(COMPONENT): $(CORE_WASM) $(COMPONENTIZE)
	@mkdir -p $(COMPONENTS)
	$(COMPONENTIZE) $(CORE_WASM) $@

$(PROBE): $(RUST_SOURCES) $(COMPONENTIZE) | rust-target
	cargo build --locked -p kubernetai --release --target $(WASM_TARGET) --features swap-probe --target-dir $(PROBE_TARGET)
	@mkdir -p $(COMPONENTS)
	$(COMPONENTIZE) $(PROBE_TARGET)/$(WASM_TARGET)/release/kubernetai.wasm $@

$(TEST_GUEST): $(shell find tools/test-guest -type f) $(shell find wit -type f) $(COMPONENTIZE) | rust-target
	cargo build --locked -p kubernetai-test-guest --release --target $(WASM_TARGET)
	@mkdir -p $(COMPONENTS)
	$(COMPONENTIZE) target/$(WASM_TARGET)/release/kubernetai_test_guest.wasm $@

# The Go plugin embeds a copy of the component (go:embed), committed so
# that the Go module builds on its own. `embed` refreshes it;
# `check-embed` fails when it does not match the sources.
.PHONY: embed
embed: $(COMPONENT)
	@cmp -s $(COMPONENT) $(EMBEDDED) || cp $(COMPONENT) $(EMBEDDED)

.PHONY: check-embed
check-embed: $(COMPONENT)
	@cmp -s $(COMPONENT) $(EMBEDDED) || { \
		echo "$(EMBEDDED) does not match the Rust sources: run 'make embed' and commit it" >&2; exit 1; }
	@echo "embedded component is current ($$(sha256sum $(EMBEDDED) | cut -c1-16))"

# The Go side of the canonical ABI (types, layouts, lowering, lifting, the
# core exports) is generated from the WIT by host-go/internal/witgen and
# committed. `generate` refreshes it; `check-generate` fails when it does
# not match the WIT or the generator.
GENERATED := host-go/internal/engine/wit_gen.go
WITGEN := go run ./internal/witgen -wit ../wit/kubernetai.wit -package engine -receiver instance

.PHONY: generate
generate:
	cd host-go && $(WITGEN) -out internal/engine/wit_gen.go

.PHONY: check-generate
check-generate:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		(cd host-go && $(WITGEN) -out "$$tmp/wit_gen.go") && \
		cmp -s "$$tmp/wit_gen.go" $(GENERATED) || { \
		echo "$(GENERATED) does not match wit/kubernetai.wit: run 'make generate' and commit it" >&2; exit 1; }
	@echo "generated ABI glue is current"

.PHONY: coredns
coredns: $(COREDNS)

$(COREDNS): $(GO_SOURCES) $(EMBEDDED)
	cd host-go && go run ./cmd/kubernetai-build --with $(HOST_MODULE)=. --output $(ROOT)/$(COREDNS)

# The same CoreDNS release without kubernetai (stock kubernetes plugin), built
# the same way, for the end-to-end tests that compare the two.
COREDNS_STOCK := bin/coredns-stock

.PHONY: coredns-stock
coredns-stock: $(COREDNS_STOCK)

$(COREDNS_STOCK): $(shell find host-go/builder host-go/cmd/kubernetai-build -name '*.go' -not -path '*/testdata/*') host-go/go.mod host-go/go.sum
	cd host-go && go run ./cmd/kubernetai-build --stock --output $(ROOT)/$(COREDNS_STOCK)

# ---------------------------------------------------------------- image

# bin/coredns as a container image tarball (host-go/builder/image; no
# container engine): the binary, the build machine's CA certificates
# (Debian's ca-certificates, installed if missing), user nonroot. See
# README.md, "The image". SOURCE_DATE_EPOCH, when set, dates it.
IMAGE := bin/kubernetai-image.tar
CA_CERTS := /etc/ssl/certs/ca-certificates.crt

.PHONY: image
image: $(IMAGE)

$(IMAGE): $(COREDNS) $(CA_CERTS) $(shell find host-go/builder/image host-go/cmd/kubernetai-image -name '*.go')
	cd host-go && go run ./cmd/kubernetai-image --binary $(ROOT)/$(COREDNS) --ca-certs $(CA_CERTS) --output $(ROOT)/$(IMAGE)

$(CA_CERTS):
	apt-get update -qq && apt-get install -y -qq ca-certificates >/dev/null

# ---------------------------------------------------------------- run

.PHONY: run
run: embed $(COREDNS)
	@command -v dig >/dev/null || { apt-get update -qq && apt-get install -y -qq dnsutils >/dev/null; }
	@echo
	@echo "Serving examples/cluster-a.yaml and examples/cluster-b.yaml (zone cluster.local) on 127.0.0.1:1053."
	@echo "Try, from another shell:"
	@echo
	@echo "    dig @127.0.0.1 -p 1053 web.shop.svc.cluster.local A"
	@echo "    dig @127.0.0.1 -p 1053 only-b.shop.svc.cluster.local A   # served by the second cluster"
	@echo
	cd examples && exec $(ROOT)/$(COREDNS) -conf Corefile

# ---------------------------------------------------------------- tests

.PHONY: test
test: test-rust test-go test-e2e

.PHONY: test-rust
test-rust: $(COMPONENT)
	cargo fmt --all --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo clippy --locked -p kubernetai --target $(WASM_TARGET) -- -D warnings
	KUBERNETAI_COMPONENT=$(ROOT)/$(COMPONENT) cargo test --locked -p kubernetai

.PHONY: test-go
test-go: check-embed check-generate $(TEST_GUEST)
	cd host-go && test -z "$$(gofmt -l .)" || { gofmt -l .; echo "host-go: gofmt needed" >&2; exit 1; }
	cd host-go && go vet ./...
	cd host-go && KUBERNETAI_TEST_GUEST=$(ROOT)/$(TEST_GUEST) go test -race -count=1 ./...
	$(MAKE) --no-print-directory go-fuzz FUZZ_TARGETS="$(GO_FUZZ_SHORT)"

.PHONY: test-e2e
test-e2e: check-embed $(COREDNS) $(PROBE) $(TEST_GUEST) $(IMAGE)
	cd e2e && test -z "$$(gofmt -l .)" && go vet ./...
	cd e2e && KUBERNETAI_COREDNS=$(ROOT)/$(COREDNS) KUBERNETAI_IMAGE=$(ROOT)/$(IMAGE) KUBERNETAI_PROBE=$(ROOT)/$(PROBE) KUBERNETAI_TEST_GUEST=$(ROOT)/$(TEST_GUEST) KUBERNETAI_STOCK_COREDNS=$(ROOT)/$(COREDNS_STOCK) go test -count=1 -v ./... 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT)'

# Stock CoreDNS, for the differential tests.
test-e2e: $(COREDNS_STOCK)

# Real kube-apiservers and etcd for the live-cluster tests (built, cached).
include e2e/kube.mk

# ---------------------------------------------------------------- fuzz

# The Go fuzz targets, as package:target:time, the time being what `make
# test` gives each. It includes starting the workers (each compiles the
# real core, slowly under the fuzzer's instrumentation), hence more for
# the targets that use the core. Their seeds run in every `go test`.
GO_FUZZ_SHORT := .:FuzzServeDNS:25s .:FuzzCorefile:15s ./internal/feed:FuzzSnapshot:5s
# `make fuzz FUZZTIME=1h` runs each Go target and the Rust fuzz test for
# FUZZTIME (h, m and s units: 1h, 90m, 1h30m, 600s).
FUZZTIME ?= 10m
# The Rust targets run one after the other (FUZZTIME each), built with the
# `fuzz` profile: optimised, with overflow checks, without the release
# profile's LTO (which makes the test build take minutes more).
RUST_FUZZ = KUBERNETAI_FUZZ_SECONDS=$(1) cargo test --locked --profile fuzz -p kubernetai --test fuzz -- --nocapture --test-threads=1

.PHONY: fuzz
fuzz: check-embed
	@[[ "$(FUZZTIME)" =~ ^([0-9]+h)?([0-9]+m)?([0-9]+s)?$$ && -n "$(FUZZTIME)" ]] || \
		{ echo "FUZZTIME=$(FUZZTIME): want a duration such as 1h, 90m, 1h30m or 600s" >&2; exit 1; }
	$(MAKE) --no-print-directory go-fuzz FUZZ_TARGETS="$(foreach t,$(GO_FUZZ_SHORT),$(word 1,$(subst :, ,$(t))):$(word 2,$(subst :, ,$(t))):$(FUZZTIME))"
	seconds=$$(( $$(sed -E 's/([0-9]+)h/\1*3600+/; s/([0-9]+)m/\1*60+/; s/([0-9]+)s/\1+/; s/$$/0/' <<< "$(FUZZTIME)") )); \
		$(call RUST_FUZZ,$$seconds)

# go-fuzz runs each of FUZZ_TARGETS (package:target:time) in turn. An
# input that fails is written to the package's testdata/fuzz/<target>/:
# commit it with the fix, as a seed.
.PHONY: go-fuzz
go-fuzz:
	cd host-go && for t in $(FUZZ_TARGETS); do \
		IFS=: read -r pkg target time <<< "$$t"; \
		echo "go fuzz $$pkg $$target for $$time"; \
		go test -run '^$$' -fuzz "^$$target\$$" -fuzztime "$$time" "$$pkg"; \
	done

# ---------------------------------------------------------------- bench

.PHONY: bench
bench: $(COMPONENT) $(TEST_GUEST)
	KUBERNETAI_COMPONENT=$(ROOT)/$(COMPONENT) cargo bench -p kubernetai
	cd host-go && go test -run '^$$' -bench . -benchmem ./internal/engine/ .

.PHONY: bench-versus
# kubernetai against the stock kubernetes plugin, same release, same real
# kube-apiserver, dnsperf load (see BenchmarkVersusStock in e2e/).
bench-versus: check-embed $(COREDNS) $(COREDNS_STOCK) kube-binaries
	@command -v dnsperf >/dev/null || { apt-get update -qq && apt-get install -y -qq dnsperf >/dev/null; }
	cd e2e && KUBERNETAI_COREDNS=$(ROOT)/$(COREDNS) KUBERNETAI_STOCK_COREDNS=$(ROOT)/$(COREDNS_STOCK) \
		go test -run '^$$' -bench VersusStock -benchtime 1x -timeout 180m -v . 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT)'

.PHONY: bench-shadow
# What a `wasm_shadow` module costs the server under dnsperf load (see
# BenchmarkShadowCost in e2e/).
bench-shadow: check-embed $(COREDNS) kube-binaries
	@command -v dnsperf >/dev/null || { apt-get update -qq && apt-get install -y -qq dnsperf >/dev/null; }
	cd e2e && KUBERNETAI_COREDNS=$(ROOT)/$(COREDNS) KUBERNETAI_COMPONENT=$(ROOT)/$(EMBEDDED) \
		go test -run '^$$' -bench ShadowCost -benchtime 1x -timeout 30m -v . 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT)'

.PHONY: clean
clean:
	rm -rf bin target/components
