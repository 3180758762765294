# TEP: `make` builds everything into build/, `make test` installs what the
# tests need and runs them all, `make bench` prints the figures, `make soak`
# runs the long test under load.

GO          ?= go
BUILD       := build
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Fuzz budgets are counts of inputs, not wall time: go1.26's coordinator can
# report its own -fuzztime deadline as a failure (golang/go#75804, fixed in
# go1.27). A million inputs took 13-60 s per target on this 2-core VM.
FUZZTIME    ?= 1000000x
# The decoders that take bytes from the line or from a guest get FUZZTIME;
# those of files an operator or a device hands over get FUZZTIME_SHORT
# (inputs that extract archives or replay logs cost more each).
FUZZTIME_SHORT ?= 20000x
FUZZ := wire:FuzzScanner wire:FuzzAssembler wire:FuzzMessage \
	channel:FuzzOpen channel:FuzzAccept channel:FuzzFinish \
	provisioning/blob:FuzzParse
FUZZ_SHORT := provisioning/archive:FuzzExtract provisioning/luks:FuzzDecode \
	provisioning/pcrpolicy:FuzzParsePCRFile \
	attest/ima:FuzzParse attest/bootlog:FuzzVerify attest/credential:FuzzParse \
	attest/ekcert:FuzzVerify attest/quote:FuzzParseAttest attest/quote:FuzzVerify \
	tpm:FuzzParseSealed tpm:FuzzParseKey tpm:FuzzParseSignature tpm:FuzzParseTDESPublic \
	attest/simdevice:FuzzActivate
SOAK_DURATION ?= 10m

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib/tep
SYSCONFDIR  ?= /etc
P11KIT_MODULES ?= /usr/share/p11-kit/modules
# systemd reads units, sysusers.d and tmpfiles.d from /usr/local/lib as
# well as /usr/lib, so these follow PREFIX.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR    ?= $(PREFIX)/lib/tmpfiles.d

.PHONY: all build test deps vet unit fuzz headers bench soak demo install install-service install-config clean bench-fleet

# The C demo needs cmake: deps installs it (as root) when it is missing.
all: deps build

build:
	@mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/ ./cmd/...
	$(GO) build -buildmode=c-shared \
		-ldflags '-extldflags "-Wl,-soname,libtep_interface.so -Wl,--version-script=$(CURDIR)/provider/exports.map"' \
		-o $(BUILD)/libtep_interface.so ./provider
	@rm -f $(BUILD)/libtep_interface.h
	@ln -sf libtep_interface.so $(BUILD)/libpkcs11_client_wrapper.so
	cmake -S . -B $(BUILD)/cmake -DTEP_BUILD_DIR=$(abspath $(BUILD)) >/dev/null
	cmake --build $(BUILD)/cmake >/dev/null
	@cp $(BUILD)/cmake/tep_test_app $(BUILD)/

# A fresh token on the embedded simulator, tepd on ptys, pkcs11-tool on top.
demo: deps build
	@BUILD=$(BUILD) ./scripts/demo.sh

# The module and a p11-kit module file naming it, so that p11-kit's proxy
# (and everything that uses it) finds TEP; tepd and its service.
install: build install-service install-config
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(P11KIT_MODULES) $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/libtep_interface.so $(DESTDIR)$(LIBDIR)/
	ln -sf libtep_interface.so $(DESTDIR)$(LIBDIR)/libpkcs11_client_wrapper.so
	install -m 0755 $(BUILD)/tepd $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BUILD)/tep-provision $(DESTDIR)$(BINDIR)/
	printf 'module: %s\ncritical: no\n' $(LIBDIR)/libtep_interface.so > $(DESTDIR)$(P11KIT_MODULES)/tep.module
	# attestation: the agent and the verifier, and their units
	install -m 0755 $(BUILD)/tep-attest $(BUILD)/tep-verifier $(DESTDIR)$(BINDIR)/
	for u in tep-attest tep-verifier; do \
		sed -e 's|/usr/local/bin/|$(BINDIR)/|' -e 's|/etc/tep/|$(SYSCONFDIR)/tep/|' dist/$$u.service > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.service; \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.service; \
	done

# tepd.service (ExecStart= and --config pointed at BINDIR and SYSCONFDIR),
# the tep user, its state directory, and the example configuration, which
# never overwrites one that is there.
install-service:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSCONFDIR)/tep
	sed -e 's|/usr/local/bin/tepd|$(BINDIR)/tepd|' -e 's|/etc/tep/|$(SYSCONFDIR)/tep/|' dist/tepd.service > $(DESTDIR)$(SYSTEMDUNITDIR)/tepd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tepd.service
	install -m 0644 dist/tep.sysusers $(DESTDIR)$(SYSUSERSDIR)/tep.conf
	install -m 0644 dist/tep.tmpfiles $(DESTDIR)$(TMPFILESDIR)/tep.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/tep/tepd.json || install -m 0644 dist/tepd.json $(DESTDIR)$(SYSCONFDIR)/tep/tepd.json

# tep-config and its units: tep-config.path runs tep-config.service when
# a configuration blob is uploaded (docs/config-blob.md).
install-config:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BUILD)/tep-config $(DESTDIR)$(BINDIR)/
	sed -e 's|/usr/local/bin/tep-config|$(BINDIR)/tep-config|' -e 's|/etc/tep/|$(SYSCONFDIR)/tep/|' dist/tep-config.service > $(DESTDIR)$(SYSTEMDUNITDIR)/tep-config.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tep-config.service
	install -m 0644 dist/tep-config.path $(DESTDIR)$(SYSTEMDUNITDIR)/

# The order matters: cheap checks first, so a mistake fails fast.
test: deps vet headers build unit fuzz

deps:
	@./scripts/deps.sh

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 ./...

# Our PKCS#11 headers against p11-kit's independent ones.
headers:
	@./c_headers/check.sh

# Each fuzz target for a bounded number of inputs, seeded from its
# package's testdata.
fuzz:
	@for e in $(FUZZ); do \
		echo "fuzzing $${e%%:*} $${e#*:}, -fuzztime $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${e#*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./$${e%%:*} || exit 1; \
	done
	@for e in $(FUZZ_SHORT); do \
		echo "fuzzing $${e%%:*} $${e#*:}, -fuzztime $(FUZZTIME_SHORT)"; \
		$(GO) test -run '^$$' -fuzz "^$${e#*:}\$$" -fuzztime $(FUZZTIME_SHORT) -fuzzminimizetime 5s ./$${e%%:*} || exit 1; \
	done

bench: deps build
	@echo "== wire codec (go test -bench)"
	@$(GO) test -run '^$$' -bench . -benchmem ./wire | grep -E '^(Benchmark|ok)'
	@echo
	@echo "== TEP beside the raw pty and TPM, SoftHSMv2, tpm2-pkcs11 and p11-kit's RPC, with the targets ($(BUILD)/tep-bench all)"
	@$(BUILD)/tep-bench all -build $(BUILD)

# Not part of test: the fleet benchmark (issue 19's targets): tep-verifier
# on SQLite, on PostgreSQL and as two replicas on one PostgreSQL, holding
# flavors and a runtime policy imported from a golden host (every report
# must be trusted), under the load generator, fleets stepping up until p99
# reaches 1 s, then bisected; it ends with each target's figure.
# FLEET_ARGS passes e.g. -steps, -resolution, -scale, -duration, -warmup,
# -replica-procs, -json. Run it on a quiet machine (docs/operations.md).
FLEET_ARGS ?=
bench-fleet:
	@mkdir -p $(BUILD)
	$(GO) build -o $(BUILD)/ ./cmd/tep-verifier ./cmd/tep-bench
	$(BUILD)/tep-bench fleet -build $(BUILD) $(FLEET_ARGS)

# Not part of test: the 20 s soak test, whose checks fail the target, then
# SOAK_DURATION of signing from 24 processes on 6 ports while workers are
# killed at random, and the figures that say whether anything leaked.
soak: build
	$(GO) test -count=1 -run '^TestSoakJSON$$' ./cmd/tep-bench -soak
	$(BUILD)/tep-bench soak -build $(BUILD) -duration $(SOAK_DURATION)

clean:
	rm -rf $(BUILD)

# tep-luks and its unit (ExecStart= pointed at BINDIR), part of install.
.PHONY: install-luks
install: install-luks
install-luks: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BUILD)/tep-luks $(DESTDIR)$(BINDIR)/
	sed -e 's|/usr/local/bin/tep-luks|$(BINDIR)/tep-luks|' dist/tep-luks.service > $(DESTDIR)$(SYSTEMDUNITDIR)/tep-luks.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/tep-luks.service
