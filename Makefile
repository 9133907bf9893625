# kaudit — one plain GNU Makefile.
#   make                      bin/kaudit
#   make check                every test (unit, rule golden tests, integration on real services,
#                             the fault suite's short version)
#   make soak                 the fault suite's long version (about 16 minutes; table in
#                             build/faults-table.md, see docs/operations.md "Faults")
#   make SANITIZE=address,undefined check
#   make demo                 local Kafka + PostgreSQL + webhook receiver, sample events replayed
#   make bench                every row of the performance table against its baseline (jq, kcat),
#                             written into docs/performance.md (QUICK=1: small counts, nothing written)
#   make bench-gzip           scan throughput against jq on the shared corpus, plain and gzip
#   make bench-scan           scan against jq on realistic traffic and large events,
#                             peak memory, startup, cost against rule count
#                             (BASELINE=main compares)
#   make bench-pipeline       daemon throughput, Kafka -> rules -> PostgreSQL
#   make bench-daemon         kaudit run draining a realistic backlog against kcat on the same topic
#   make bench-state          what memory across events costs: throughput, bytes per key
#   make bench-route          what routing a finding costs, with and without a when condition,
#                             and what asking the suppressions costs
#   make bench-archive        event archive rows/s through the daemon's batch write (needs services)
#   make bench-db             findings/s through the daemon's batch write alone (needs services)
#   make bench-alert          webhook delivery latency from commit to receipt (BASELINE=main compares)
#   make bench-latency        produce -> webhook receipt at 10k realistic events/s (KAUDIT_BASE compares)
#   make bench-scale          one, two and three kaudit run processes of one group draining a backlog
#   make bench-forensics      cookbook queries and a month's report on 1M findings
#   make bench-gateway        requests/s, events/s and 200 latency of kaudit gateway
#   make fuzz                 short libFuzzer runs of every parser of outside input (clang)
#   make layers               fail when a lower folder includes a higher one
#   V=1                       show full command lines

CC       ?= cc
PKGS     := rdkafka jansson libpq libcurl yaml-0.1 libpcre2-8 libcrypto zlib libmicrohttpd gnutls
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -I. -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP -pthread
LDLIBS   += $(PKG_LIBS) -pthread -lm

ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
BUILD    := build/san
else
BUILD    := build/rel
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(wildcard base/*.c analyze/*.c ingest/*.c schema/*.c alert/*.c app/*.c)
LIB_SRC  := $(filter-out app/main.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/app/main.o
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all check check-run soak unit demo bench bench-gzip bench-scan bench-pipeline bench-daemon bench-state bench-route bench-archive bench-db bench-alert bench-latency bench-scale bench-forensics bench-gateway fuzz clean layers

# Each build links its own binary; bin/kaudit is the release one, so an
# instrumented build never replaces what users run.
ifeq ($(SANITIZE),)
all: bin/kaudit
else
all: $(BUILD)/kaudit
endif

$(BUILD)/kaudit: $(MAIN_OBJ) $(BUILD)/libkaudit.a
	@echo "  LD    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/kaudit: build/rel/kaudit
	@mkdir -p bin
	$(Q)cp -f $< $@

$(BUILD)/libkaudit.a: $(LIB_OBJ)
	@echo "  AR    $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The shipped rules and the SQL migrations are compiled into the binary.
RULE_FILES      := $(sort $(wildcard config/rules/*.yaml))
MIGRATION_FILES := $(sort $(wildcard schema/migrations/*.sql))
QUERY_FILES     := $(sort $(wildcard schema/queries/*.sql))

$(BUILD)/gen/rules.inc: $(RULE_FILES) tools/embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh tools/embed.sh embedded_rules $(RULE_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.inc: $(MIGRATION_FILES) tools/embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh tools/embed.sh embedded_migrations $(MIGRATION_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/queries.inc: $(QUERY_FILES) tools/embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh tools/embed.sh embedded_queries $(QUERY_FILES) > $@.tmp && mv $@.tmp $@

# The release table the fleet views compare versions with (see migrate.c).
$(BUILD)/gen/releases.inc: config/k8s-releases.json tools/embed.sh
	@mkdir -p $(dir $@)
	$(Q)sh tools/embed.sh embedded_releases config/k8s-releases.json > $@.tmp && mv $@.tmp $@

$(BUILD)/app/rulefiles.o: $(BUILD)/gen/rules.inc
$(BUILD)/schema/migrate.o: $(BUILD)/gen/migrations.inc $(BUILD)/gen/releases.inc
$(BUILD)/schema/query.o: $(BUILD)/gen/queries.inc

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkaudit.a
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libkaudit.a $(LDLIBS)

unit: $(BUILD)/kaudit $(UNIT_BIN)

# The test runner prints one line per test and closes with "N passed, N failed".
# check and demo install missing Debian packages first, then build in a
# second make, whose pkg-config flags are read once the libraries exist.
check:
	$(Q)tests/services/deps.sh
	$(Q)$(MAKE) --no-print-directory check-run

check-run: $(BUILD)/kaudit $(UNIT_BIN) $(FUZZ_BIN)
	$(Q)BUILD=$(BUILD) SANITIZE=$(SANITIZE) KAUDIT=$(BUILD)/kaudit tests/run.sh

demo:
	$(Q)tests/services/demo.sh

# The fault suite's long version: crashes, outages, a full disk and a 2M-event
# backlog on services of its own (tests/faults/faults.sh).
soak: $(BUILD)/kaudit
	$(Q)KAUDIT=$(BUILD)/kaudit SANITIZE=$(SANITIZE) tests/faults/faults.sh soak

# A lower folder never includes a higher one (tools/layers.sh has the order).
layers:
	$(Q)tools/layers.sh

bench: bin/kaudit $(BUILD)/bench/bench_db
	$(Q)BENCH_DB=$(BUILD)/bench/bench_db tests/bench.sh

bench-gzip: bin/kaudit
	$(Q)tests/bench-gzip.sh

bench-scan: bin/kaudit
	$(Q)BASELINE=$(BASELINE) tests/bench-scan.sh

bench-pipeline: bin/kaudit
	$(Q)tests/bench-pipeline.sh

bench-daemon: bin/kaudit
	$(Q)tests/bench/daemon.sh

bench-state: bin/kaudit
	$(Q)tests/bench-state.sh

# Each benchmark program is one file of tests/ linked with the library.
$(BUILD)/bench/%: tests/%.c $(BUILD)/libkaudit.a
	@mkdir -p $(dir $@)
	@echo "  BENCH $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libkaudit.a $(LDLIBS)

bench-route: $(BUILD)/bench/bench_route
	$(Q)$<

bench-archive: $(BUILD)/bench/bench_archive
	$(Q)tests/bench-archive.sh $<

bench-db: $(BUILD)/bench/bench_db
	$(Q)tests/bench-db.sh $<

bench-alert: bin/kaudit
	$(Q)BASELINE=$(BASELINE) tests/bench-alert.sh

bench-latency: bin/kaudit
	$(Q)tests/bench/latency.sh

bench-scale: bin/kaudit
	$(Q)tests/bench/scale.sh

bench-forensics: bin/kaudit
	$(Q)KAUDIT=bin/kaudit tests/bench-forensics.sh

bench-gateway: bin/kaudit
	$(Q)KAUDIT=bin/kaudit tests/bench-gateway.sh

fuzz:
	$(Q)tests/fuzz/run.sh

clean:
	rm -rf build bin

-include $(wildcard $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_BIN:=.d) \
    $(BUILD)/bench/bench_route.d $(BUILD)/bench/bench_archive.d \
    $(BUILD)/bench/bench_db.d)

# Fuzz targets: every tests/fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput. Here
# they are built with the normal compiler around a plain main()
# (tests/fuzz/driver.c) and replayed over tests/fuzz/seeds/<target>/ and any
# saved crashes in tests/fuzz/crashes/<target>/; `make fuzz` runs them under
# libFuzzer with clang (tests/fuzz/run.sh).

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c $(BUILD)/libkaudit.a
	@mkdir -p $(dir $@)
	@echo "  FUZZ  $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/driver.c $(BUILD)/libkaudit.a $(LDLIBS)

.PHONY: fuzz-replay
fuzz-replay: $(FUZZ_BIN)
	$(Q)rc=0; for bin in $(FUZZ_BIN); do \
		t=$$(basename $$bin); \
		if $$bin $$(ls -d tests/fuzz/seeds/$$t tests/fuzz/crashes/$$t 2>/dev/null) >$$bin.log 2>&1; then \
			echo "PASS fuzz-replay $$t ($$(tail -n 1 $$bin.log))"; \
		else \
			echo "FAIL fuzz-replay $$t (exit $$?; log $$bin.log)"; tail -n 20 $$bin.log; rc=1; \
		fi; \
	done; exit $$rc
