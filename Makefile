# upgradeplan: `make demo` runs the story on loopback, `make test` is what CI runs.
GO       ?= go
BIN      := bin/upgradeplan
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 60s

.PHONY: all build test fmt fmt-check vet lint-actions k8s-check demo fuzz bench bench-scale bench-scale-plan soak release image clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/upgradeplan

# CI: formatting (fails on any unformatted file), vet, and every test with the race detector.
test: fmt-check vet lint-actions k8s-check
	$(GO) test -race ./...

# The Kubernetes manifests in docs/ decoded strictly against k8s.io/api (its own module, so
# the product's go.mod carries no Kubernetes library; -count=1: it reads files outside it).
k8s-check:
	cd docs/k8scheck && $(GO) test -count=1 ./...

# The GitHub Actions workflow in docs/, linted by actionlint at a pinned version.
ACTIONLINT ?= github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
lint-actions:
	$(GO) run $(ACTIONLINT) docs/workflows/*.yml

fmt:
	gofmt -w .

fmt-check:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting (run make fmt):"; echo "$$unformatted"; exit 1; fi

vet:
	$(GO) vet ./...

# The demo: starts the simulator with examples/sim/state.yaml and faults.yaml on a free
# loopback port, validates and plans examples/fleet.yaml, applies it, and prints where
# report.md, junit.xml and run.json are (scripts/demo.sh says what it checks).
demo: build
	./scripts/demo.sh

# Fuzz the manifest parser (FuzzParse) and the plan file reader (FuzzDecode), FUZZTIME each;
# their seed corpora also run in every `make test`.
fuzz:
	$(GO) test ./manifest -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./planner -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

# The randomized checker of reliability/ (kill -9 and resume, lost answers, 5xx, throttles,
# visibility lag, other actors, a concurrent second apply, stops), run for SOAK instead of
# the few scenarios of `make test`; then its PostgreSQL scenarios (kills taken over by
# runners elsewhere, a second plan at once over the same instances) and its four-shard
# scenarios for SOAK_PG each. A failing scenario prints its seed and the command that
# replays it (-checker.seed=N).
SOAK ?= 30m
SOAK_PG ?= 10m
soak:
	$(GO) test -race ./reliability -run '^TestRandomizedChecker$$' -soak.duration $(SOAK) -timeout 0 -v
	$(GO) test -race ./reliability -run '^TestRandomizedCheckerPostgres$$' -soak.duration $(SOAK_PG) -timeout 0 -v
	$(GO) test -race ./reliability -run '^TestRandomizedCheckerShards$$' -soak.duration $(SOAK_PG) -timeout 0 -v

# Benchmarks (targets in docs/design.md): the named profiles' plan and apply against the simulator
# and the Terraform-style baseline beside them (bench/, writes bench/RESULTS.md; how long each
# takes is there), then the Go micro-benchmarks. PROFILES picks profiles, BASELINE=false skips
# the baseline, BENCHFLAGS=-strict exits 1 on a missed target.
# STATE=postgres also applies each profile's plan with --state into a durable PostgreSQL the
# bench starts (needs Debian's postgresql), beside the run directory: the "postgres" section.
PROFILES ?= ideal,realistic,large
BASELINE ?= true
STATE ?=
bench: build
	$(GO) run ./bench -bin $(BIN) -out bench/RESULTS.md -profiles $(PROFILES) -baseline=$(BASELINE) $(if $(STATE),-state $(STATE)) $(BENCHFLAGS)
	$(GO) test -run '^$$' -bench . ./planner
	$(GO) test -run '^$$' -bench 'BenchmarkApplyScale' -benchtime 1x ./executor
	$(GO) test -run '^$$' -bench 'BenchmarkJournal' -benchtime 20000x ./executor
	$(GO) test -run '^$$' -bench 'BenchmarkStepCost' -benchtime 2000x ./executor/pgstate

# The scale curve (1k, 10k, 50k, 100k instances) into bench/RESULTS.md; about 15 minutes.
bench-scale: build
	$(GO) run ./bench -bin $(BIN) -out bench/RESULTS.md -scale 1000,10000,50000,100000 $(BENCHFLAGS)

# The plan side of the curve alone (plan columns, no apply); about 3 minutes.
bench-scale-plan: build
	$(GO) run ./bench -bin $(BIN) -out bench/RESULTS.md -scale 1000,10000,50000,100000 -plan-only $(BENCHFLAGS)

# Release: static binaries (CGO_ENABLED=0, -trimpath, version and commit stamped) for linux,
# darwin and windows on amd64 and arm64, with dist/SHA256SUMS (scripts/release.sh).
release:
	VERSION=$(VERSION) COMMIT=$(COMMIT) ./scripts/release.sh

# The OCI image from Containerfile (static binary on an empty base, non-root user, CA
# certificates), built offline with podman or buildah (scripts/image.sh); IMAGE=name:tag.
image:
	VERSION=$(VERSION) COMMIT=$(COMMIT) ./scripts/image.sh

clean:
	rm -rf bin dist build/image
