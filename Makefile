# keel — a PID-1 init and single-app appliance launcher.
#
#   make            build/keel, the static release binary
#   make check      install what is missing, build, run every test layer
#   make demo       build and boot the demo appliance under QEMU
#   make bench      compare keel with crun, runc, tini and the floor
#   make soak       churn against one keel for SECONDS (default 60); plot in build/soak
#
# The static build is the product; a separate dynamic build with ASan and UBSan
# (sanitizers and -static do not mix) runs the unit and host tests again.

CC       ?= gcc
BUILD    := build
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter
CPPFLAGS := -Iinclude -D_GNU_SOURCE -DKEEL_VERSION='"$(VERSION)"'
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -fno-strict-aliasing -fstack-protector-strong -D_FORTIFY_SOURCE=2
PKGS     := libcap inih libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) -lmbedtls -lmbedx509 -lmbedcrypto
CPPFLAGS += $(PKG_CFLAGS)

SRCS     := $(sort $(wildcard src/*.c))
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
ASAN_OBJS     := $(SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
ASAN_LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
ASAN_UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/unit/%)

DEPS_BUILD := build-essential pkg-config libcap-dev libinih-dev \
              libseccomp-dev libmbedtls-dev file
DEPS_TEST  := busybox-static iproute2 qemu-system-x86 linux-image-amd64 cpio kmod socat openssl \
              procps psmisc util-linux curl python3 cppcheck clang-tidy e2fsprogs xz-utils
# issue 16: IPv6 router advertisements (SLAAC, RDNSS) for tests/host/test_net.sh
DEPS_TEST  += radvd
DEPS_BENCH := crun runc tini bubblewrap

.PHONY: all deps deps-bench check unit unit-asan host host-asan vm lint fuzz bench demo qemu \
        initramfs clean asan probe soak

all: $(BUILD)/keel

# --- dependencies -----------------------------------------------------------
deps:
	@tests/tools/install-deps $(DEPS_BUILD) $(DEPS_TEST)

deps-bench:
	@tests/tools/install-deps $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_BENCH)

# --- the product ------------------------------------------------------------
$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# The shipped binary is stripped (keel run copies itself into a sealed memfd at
# every start: size is start time); build/keel.debug keeps the symbols.
$(BUILD)/keel: $(OBJS)
	$(CC) $(CFLAGS) -static -o $@.debug $(OBJS) $(PKG_LIBS) 2> $(BUILD)/link.log || { cat $(BUILD)/link.log; exit 1; }
	objcopy --strip-all $@.debug $@
	@grep -v -e 'getaddrinfo' -e 'getprotobyname' -e 'getprotobynumber' -e 'getpwnam' -e 'getgrnam' -e 'getpwuid' -e 'getgrgid' \
	     -e 'in function' -e 'getservbyname' -e 'gethostbyname' -e 'dlopen' $(BUILD)/link.log >&2 || true

# --- test build ----------------------------------------------------------------
# The release objects plus daemon.c with the kernel command-line test hooks
# (keel.test_crash, test_freeze, test_signals, test_orphans: -DKEEL_TEST_HOOKS),
# for the VM tests that need them (tests/vm/test_watchdog.sh, test_faults.sh).
# Never shipped: the release build/keel has no such hooks.
TEST_OBJS := $(filter-out $(BUILD)/obj/daemon.o,$(OBJS)) $(BUILD)/test/obj/daemon.o

$(BUILD)/test/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DKEEL_TEST_HOOKS $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/test/keel: $(TEST_OBJS)
	$(CC) $(CFLAGS) -static -o $@ $(TEST_OBJS) $(PKG_LIBS) 2> $(BUILD)/test/link.log || { cat $(BUILD)/test/link.log; exit 1; }

# --- sanitizer build (dynamic) --------------------------------------------------
$(BUILD)/asan/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/asan/keel: $(ASAN_OBJS)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $(ASAN_OBJS) $(DYN_LIBS)

asan: $(BUILD)/asan/keel

# --- unit tests -----------------------------------------------------------------
DYN_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmbedtls -lmbedx509 -lmbedcrypto

$(BUILD)/unit/%: tests/unit/%.c tests/unit/unit.h $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $< $(LIB_OBJS) $(DYN_LIBS)

$(BUILD)/asan/unit/%: tests/unit/%.c tests/unit/unit.h $(ASAN_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(ASAN_LIB_OBJS) $(DYN_LIBS)

unit: $(UNIT_BINS)
	@tests/tools/run-unit $(UNIT_BINS)

unit-asan: $(ASAN_UNIT_BINS)
	@tests/tools/run-unit $(ASAN_UNIT_BINS)

# --- integration tests ----------------------------------------------------------
$(BUILD)/probe: tests/probe/probe.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -Werror -static -o $@ $<

probe: $(BUILD)/probe

host: $(BUILD)/keel $(BUILD)/probe
	@KEEL=$(abspath $(BUILD)/keel) tests/host/run-all

host-asan: $(BUILD)/asan/keel $(BUILD)/probe
	@KEEL=$(abspath $(BUILD)/asan/keel) KEEL_ASAN=1 tests/host/run-all

vm: $(BUILD)/keel $(BUILD)/test/keel $(BUILD)/probe
	@KEEL=$(abspath $(BUILD)/keel) KEEL_TEST=$(abspath $(BUILD)/test/keel) tests/vm/run-all

check: deps
	@$(MAKE) --no-print-directory all probe
	@tests/tools/check-all

# make soak [SECONDS=N]: churn against one keel for N seconds (default 60),
# sampling its RSS, fds, children and zombies; plot in build/soak/soak.svg.
soak: $(BUILD)/keel $(BUILD)/probe
	@KEEL=$(abspath $(BUILD)/keel) tests/soak/soak --seconds $(or $(SECONDS),60) --out $(abspath $(BUILD))/soak

# --- appliance image and demo ---------------------------------------------------
MANIFEST ?= configs/demo.ini
initramfs: $(BUILD)/keel
	initramfs/mkinitramfs --keel $(BUILD)/keel --manifest $(MANIFEST) --out $(BUILD)/initramfs.cpio.gz

demo: deps
	@$(MAKE) --no-print-directory all
	@initramfs/demo

qemu: deps
	@$(MAKE) --no-print-directory all
	@initramfs/demo --interactive

# --- quality --------------------------------------------------------------------
lint:
	@tests/tools/lint

fuzz:
	@tests/fuzz/run $(if $(SECONDS),$(SECONDS),60)

bench: deps-bench
	@$(MAKE) --no-print-directory all probe
	@tests/bench/run $(if $(QUICK),--quick,)

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(BUILD)/test/obj/daemon.d
