# TEP: `make` builds everything into build/, `make test` installs what the
# tests need and runs them all, `make bench` prints the figures.

GO          ?= go
BUILD       := build
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 20s
FUZZ_TARGETS := FuzzScanner FuzzAssembler FuzzMessage

.PHONY: all build test deps vet unit fuzz bench clean

all: build

build:
	@mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/ ./cmd/...

# The order matters: cheap checks first, so a mistake fails fast.
test: deps vet unit fuzz

deps:
	@./scripts/deps.sh

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 ./...

# Each fuzz target for a bounded time, seeded from wire/testdata.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzzing $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./wire || exit 1; \
	done

bench: build
	@echo "== wire codec (go test -bench)"
	@$(GO) test -run '^$$' -bench . -benchmem ./wire | grep -E '^(Benchmark|ok)'
	@echo
	@echo "== link: request/reply echo over a pty beside a raw pty echo ($(BUILD)/tep-bench link)"
	@$(BUILD)/tep-bench link

clean:
	rm -rf $(BUILD)
