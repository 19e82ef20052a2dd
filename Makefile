# Bifrost - one Makefile: deps, build, test, demo, bench. Outputs go to build/.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

BUILD   ?= build
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian packages the build, the tests, the lab and the benchmarks need.
DEB_PKGS := clang llvm gcc make pkg-config libbpf-dev libxdp-dev bpftool libelf-dev \
	zlib1g-dev libhiredis-dev libevent-dev libmsgpack-dev libcmocka-dev uthash-dev redis-server \
	redis-tools iproute2 iputils-ping ethtool nftables jq procps util-linux \
	prometheus tmux curl stunnel4 tcpdump libssl-dev libclang-rt-14-dev dpkg-dev systemd \
	gobgpd

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
	-D_GNU_SOURCE -DBIFROST_VERSION='"$(VERSION)"' -Ibpf -Isync -I$(BUILD)
LDLIBS_BPF := -lbpf -lelf -lz
LDLIBS_SYNC := -lhiredis -levent -lmsgpackc
LDLIBS_XSK := -lxdp -lpthread
BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -Wall -Ibpf -I$(ARCH_INC)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_HDRS := bpf/bifrost.h $(wildcard bpf/lib/*.h)
SKELS    := $(BUILD)/edge.skel.h $(BUILD)/gs.skel.h $(BUILD)/bench.skel.h

LIB_SRCS := sync/addr.c sync/log.c sync/text.c sync/endpoint.c sync/connect.c sync/resync.c \
	sync/link.c sync/client.c sync/writer.c sync/reader.c sync/subscriber.c sync/confload.c \
	sync/bounded.c sync/publish.c sync/bus_script.c sync/instance.c sync/converge.c \
	sync/a2s.c sync/a2s_challenge.c sync/a2s_split.c \
	sync/schema_int.c sync/schema_keys.c sync/schema_entry.c sync/schema_limits.c \
	sync/schema_conn.c sync/schema_rule.c sync/schema_log.c sync/schema_msgpack.c \
	sync/schema_evt.c sync/schema_stats.c sync/schema_acl.c sync/notify.c sync/flowspec.c \
	sync/flowspec_plan.c sync/replica_lag.c sync/replica.c
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/obj/sync/bus_lua.o
LIB      := $(BUILD)/libbifrost.a

EDGE_SRCS := edge/config.c edge/loader.c edge/maps.c edge/maps_conns.c edge/lists.c edge/maps_rules.c \
	edge/sweep.c edge/want_set.c edge/machines.c edge/events.c edge/fleet.c \
	edge/register.c edge/guard.c edge/apply.c edge/heartbeat.c edge/a2s_feed.c edge/a2s_cache.c \
	edge/a2s_workers.c edge/stats.c edge/metrics.c edge/ports.c
EDGE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(EDGE_SRCS))

CTL_SRCS := $(wildcard tools/ctl/*.c)
CTL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CTL_SRCS))

BINS := $(BUILD)/bin/bifrost-edge $(BUILD)/bin/bifrost-gs $(BUILD)/bin/bf-netprobe $(BUILD)/bin/bf-bench \
	$(BUILD)/bin/bifrostctl $(BUILD)/bin/bifrost-a2s-refresher $(BUILD)/bin/bifrost-flowspec

# Tests mirror the layers: tests/unit (cmocka, pure), tests/bpf (the programs through
# bpf_prog_test_run_opts), tests/sync (the bus client against real redis-servers, faults
# injected), tests/tools and tests/integration (scripts).
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS  := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(wildcard tests/bpf/test_*.c))
BPF_TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out tests/bpf/test_%,$(wildcard tests/bpf/*.c)))
SYNC_TESTS := $(patsubst tests/sync/%.c,$(BUILD)/tests/%,$(wildcard tests/sync/test_*.c))
SYNC_TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out tests/sync/test_%,$(wildcard tests/sync/*.c)))
TESTS := $(UNIT_TESTS) $(BPF_TESTS) $(SYNC_TESTS)
# Helpers the tool tests run (not tests themselves).
TEST_HELPERS := $(BUILD)/tests/forge_capture $(BUILD)/tests/notify_listen $(BUILD)/tests/delay_relay

.PHONY: all bins test-faults deps docker-deps docker-images docker-test docker-demo deb deps-node test test-unit test-bpf test-sync test-tools test-integration test-fuzz fuzz fuzz-build soak demo bench clean \
	lab-down
all: $(BPF_OBJS) $(SKELS) $(BINS) $(TESTS) $(TEST_HELPERS)
# The programs alone (the container build, the Debian package).
bins: $(BPF_OBJS) $(SKELS) $(BINS)

# install_missing TARGET,PACKAGES: installs the Debian packages that are missing
# (apt-get update first); does nothing when everything is there.
define install_missing
	@missing=""; for p in $(2); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "make $(1): run as root to install:$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "$(1): all Debian packages present"; fi
endef

deps:
	$(call install_missing,deps,$(DEB_PKGS))

# Node and npm, for the A2S conformance test only (gamedig, a third-party client; npm ci in
# tests/tools installs it from package-lock.json). Checked by command, not by Debian package:
# a Node from elsewhere carries its own npm, and Debian's npm package would fight it. When
# missing, Debian's nodejs (18; gamedig 5 needs >= 16.20) and npm are installed.
deps-node:
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		echo "deps-node: node and npm present"; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "make deps-node: run as root to install nodejs npm" >&2; exit 1; \
	else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	fi

# ---- containers and the Debian package (docs/OPERATIONS.md, "Containers") ----
# Docker from Debian (docker.io 20.10, docker-compose 1.29) and debootstrap for the
# local base image; dockerd is started here when no engine answers (machines
# without systemd, like CI's), its log in /var/log/bifrost-dockerd.log.
DOCKER_PKGS := docker.io docker-compose debootstrap dpkg-dev
docker-deps:
	$(call install_missing,docker-deps,$(DOCKER_PKGS))
	@docker info >/dev/null 2>&1 || { \
		echo "docker-deps: starting dockerd (log: /var/log/bifrost-dockerd.log)"; \
		setsid nohup dockerd >>/var/log/bifrost-dockerd.log 2>&1 < /dev/null & \
		for i in $$(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done; \
		docker info >/dev/null 2>&1 || { tail -20 /var/log/bifrost-dockerd.log >&2; \
			echo "docker-deps: dockerd did not start" >&2; exit 1; }; }
	@echo "docker-deps: engine $$(docker version -f '{{.Server.Version}}')"

docker-images: docker-deps
	docker/build.sh

deb: bins
	$(call msg,DEB,$(BUILD)/deb)
	$(Q)tools/deploy/deb/build.sh $(BUILD) $(BUILD)/deb

# The images built (from scratch on a fresh machine), the compose fleet, the
# package, and its units under a real systemd (PID 1 of a container), checked. Not in `make test` (it would take the suite past
# 15 minutes on a fresh machine): .ci/run runs it as its own step.
docker-test: docker-images deb
	tests/docker/test_compose.sh
	tests/docker/test_deb.sh
	tests/docker/test_units.sh

docker-demo: docker-images
	docker/fleet.sh demo

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# The bus's Lua (sync/bifrost.lua) goes into libbifrost as a string.
$(BUILD)/obj/sync/bus_lua.o: sync/bus_lua.S sync/bifrost.lua
	@mkdir -p $(@D)
	$(call msg,AS,$@)
	$(Q)$(CC) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(SKELS) $(wildcard sync/*.h edge/*.h tools/*.h tools/*/*.h tests/*/*.h) \
		bpf/bifrost.h
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Made afresh: `ar r` would keep the objects of sources that left LIB_SRCS.
$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/bifrost-edge: $(BUILD)/obj/edge/main.o $(BUILD)/obj/edge/dump.o $(EDGE_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS_BPF) $(LDLIBS_SYNC) $(LDLIBS_XSK)

$(BUILD)/bin/bifrost-gs: $(BUILD)/obj/tools/gs.o $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS_BPF)

# bifrostctl acl hashes passwords with libcrypto's SHA-256 (libssl-dev).
$(BUILD)/bin/bifrostctl: $(CTL_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS_SYNC) -lcrypto

# bifrost-a2s-refresher (tools/refresher/): options and loop, queries, Redis.
REFRESHER_SRCS := tools/refresher/main.c tools/refresher/query.c tools/refresher/store.c \
	tools/common.c
REFRESHER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(REFRESHER_SRCS))

$(BUILD)/bin/bifrost-a2s-refresher: $(REFRESHER_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lhiredis -lmsgpackc

# bifrost-flowspec (tools/flowspec/): options, config and loop, the speaker, Redis.
FLOWSPEC_SRCS := tools/flowspec/main.c tools/flowspec/conf.c tools/flowspec/speaker.c \
	tools/flowspec/store.c tools/common.c
FLOWSPEC_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(FLOWSPEC_SRCS))

$(BUILD)/bin/bifrost-flowspec: $(FLOWSPEC_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS_SYNC)

# bf-netprobe, one file a role (tools/netprobe/).
NETPROBE_SRCS := tools/netprobe/main.c tools/netprobe/shared.c tools/netprobe/serve.c \
	tools/netprobe/serve_a2s.c tools/netprobe/probe.c tools/netprobe/a2s_client.c \
	tools/netprobe/forge.c tools/netprobe/forge_dmac.c tools/common.c
NETPROBE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(NETPROBE_SRCS))

$(BUILD)/bin/bf-netprobe: $(NETPROBE_OBJS) $(BUILD)/obj/tools/pktgen.o $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

# bf-bench: the path costs (bench.c), the fleet against the lab (bench_fleet.c), the digest
# and the fan-out against private Redis servers (bench_digest.c, bench_fanout*.c), A2S
# (bench_a2s.c the client, bench_a2s_servers.c the two servers it compares).
BENCH_SRCS := tools/bench.c tools/bench_fleet.c tools/bench_digest.c tools/bench_fanout.c \
	tools/bench_fanout_report.c tools/bench_a2s.c tools/bench_a2s_servers.c \
	tools/common.c
BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(BENCH_SRCS))

$(BUILD)/bin/bf-bench: $(BENCH_OBJS) $(BUILD)/obj/tools/pktgen.o $(EDGE_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS_BPF) $(LDLIBS_SYNC) $(LDLIBS_XSK) -lm

# Every test links what it may touch; the linker keeps what it uses. alloc_watch.o
# replaces malloc, so only the tests that measure allocations get it.
$(UNIT_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(EDGE_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.o %.a,$^) -o $@ -lcmocka $(LDLIBS_BPF) $(LDLIBS_SYNC) $(LDLIBS_XSK)
$(BUILD)/tests/test_schema $(BUILD)/tests/test_msgpack $(BUILD)/tests/test_a2s \
	$(BUILD)/tests/test_a2s_split: $(BUILD)/obj/tests/unit/alloc_watch.o

$(SYNC_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/sync/%.o $(SYNC_TEST_OBJS) \
		$(BUILD)/obj/tools/common.o $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lcmocka $(LDLIBS_SYNC)

$(BPF_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/bpf/%.o $(BPF_TEST_OBJS) $(BUILD)/obj/tools/pktgen.o \
		$(BUILD)/obj/tools/common.o \
		$(EDGE_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lcmocka $(LDLIBS_BPF) $(LDLIBS_SYNC) $(LDLIBS_XSK)

$(BUILD)/tests/forge_capture $(BUILD)/tests/notify_listen $(BUILD)/tests/delay_relay: $(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

# ---- fuzzing (clang libFuzzer, AddressSanitizer + UndefinedBehaviorSanitizer) ----
# Every parser of bytes someone else controls, built again with the sanitizers into
# $(BUILD)/fuzz/. `make test` runs each target over its committed corpus only (a
# regression run, seconds); `make fuzz` mutates for FUZZ_SECONDS each (default 60) and
# adds what it finds to $(BUILD)/fuzz/new/<target>/ (a crash goes to the corpus by hand,
# with a unit test).
FUZZ_TARGETS := frames records a2s config state
FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -DBIFROST_VERSION='"fuzz"' -Ibpf -Isync -Iedge \
	-I$(BUILD) -Itests/fuzz $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIB_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS) edge/config.c edge/guard.c edge/register.c) \
	$(BUILD)/obj/sync/bus_lua.o
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 60
# The differential run of `make fuzz` (tests/bpf/test_edge_model.c): frames and seed.
MODEL_FRAMES ?= 1000000
MODEL_SEED ?= $(shell date +%s)

$(BUILD)/fuzz/obj/%.o: %.c $(wildcard sync/*.h edge/*.h tests/fuzz/*.h) bpf/bifrost.h
	@mkdir -p $(@D)
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS_SYNC) -lcrypto

fuzz-build: $(FUZZ_BINS)

# Each target over its corpus: every committed input must run clean.
test-fuzz: fuzz-build
	@rc=0; for t in $(FUZZ_TARGETS); do echo "== fuzz_$$t: $$(ls tests/fuzz/corpus/$$t | wc -l) inputs"; \
		$(BUILD)/fuzz/fuzz_$$t -runs=0 tests/fuzz/corpus/$$t >$(BUILD)/fuzz/$$t.log 2>&1 || \
		{ rc=1; tail -30 $(BUILD)/fuzz/$$t.log; }; done; exit $$rc

fuzz: deps fuzz-build all
	@rc=0; for t in $(FUZZ_TARGETS); do mkdir -p $(BUILD)/fuzz/new/$$t; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
			-artifact_prefix=$(BUILD)/fuzz/new/$$t- $(BUILD)/fuzz/new/$$t tests/fuzz/corpus/$$t \
			2>&1 | grep -E '^#[0-9]+[[:space:]]+DONE|ERROR|SUMMARY' | tail -3 || true; \
		ls $(BUILD)/fuzz/new/$$t-* >/dev/null 2>&1 && { echo "crash: $$(ls $(BUILD)/fuzz/new/$$t-*)"; rc=1; }; \
	done; \
	echo "== the XDP program against its model, $(MODEL_FRAMES) frames (seed $(MODEL_SEED))"; \
	out=$$(BF_MODEL_FRAMES=$(MODEL_FRAMES) BF_MODEL_SEED=$(MODEL_SEED) \
		$(BUILD)/tests/test_edge_model 2>&1) || rc=1; \
	echo "$$out" | grep -E -A3 '^model:|^DISAGREE' | head -40; \
	exit $$rc

# ---- the two commands of the README ----

test: deps
	$(MAKE) all
	$(MAKE) test-unit test-bpf test-sync test-tools test-fuzz test-integration test-faults

test-unit: all
	@rc=0; for t in $(UNIT_TESTS); do echo "== $$t"; $$t || rc=1; done; exit $$rc

test-bpf: all
	@rc=0; for t in $(BPF_TESTS); do echo "== $$t"; $$t || rc=1; done; exit $$rc

test-sync: all
	@rc=0; for t in $(SYNC_TESTS); do echo "== $$t"; $$t || rc=1; done; exit $$rc

# Tools against their own redis-server and stand-ins on loopback, and bf-netprobe forge over
# a veth pair in a namespace of its own; no lab needed.
test-tools: all deps-node
	tests/tools/test_refresher.sh
	tests/tools/test_gamedig.sh
	tests/tools/test_forge.sh
	tests/tools/test_ctl.sh
	tests/tools/test_acl.sh
	tests/tools/test_systemd.sh
	tests/tools/test_flowspec.sh

test-integration: all
	tests/integration/run.sh

# A steady-state soak of the lab fleet (minutes): nothing grows for ever (docs/OPERATIONS.md,
# "Redis memory"). Not in `make test`: SOAK_SECONDS=240 by default. Then the fault soak
# (tests/soak/faults.sh): six faults of FAULT_SECONDS each under load, 0 lost, 0 phantom.
FAULT_SECONDS ?= 40
soak: deps
	$(MAKE) all
	tests/integration/run.sh tests/soak/footprint.sh
	FAULT_SECONDS=$(FAULT_SECONDS) tests/integration/run.sh tests/soak/faults.sh

# The fault soak, short (each fault 4 s): in `make test`.
test-faults: all
	FAULT_SECONDS=4 tests/integration/run.sh tests/soak/faults.sh

demo: deps
	$(MAKE) all
	tools/demo.sh

bench: deps
	$(MAKE) all $(BUILD)/tests/delay_relay
	tools/bench/run.sh

# The fan-out section of `make bench` alone (its own redis-servers on loopback; no lab, no
# root): one JSON line a run (tools/bench/fanout.sh, tools/bench_fanout.c).
.PHONY: bench-fanout
bench-fanout: $(BUILD)/bin/bf-bench
	tools/bench/fanout.sh

lab-down:
	tools/lab/lab down

clean:
	rm -rf $(BUILD)
