# keel — a PID-1 init and single-app appliance launcher.
#
#   make            build/keel, the static release binary
#   make check      install what is missing, build, run every test layer
#   make demo       build and boot the demo appliance under QEMU
#   make bench      compare keel with crun, runc, tini and the floor
#   make soak       churn against one keel for SECONDS (default 60); plot in build/soak
#   make hot-list   trace what keel's PID 1 runs and rewrite link/hot.ld (then make)
#
# The static build is the product; a separate dynamic build with ASan and UBSan
# (sanitizers and -static do not mix) runs the unit and host tests again.

# ARCH=arm64 (or `make arm64`) cross-builds everything into build/arm64 with
# Debian's cross toolchain and the :arm64 static libraries (multiarch); the
# default is the host's x86-64 into build/.
ARCH     ?= x86_64
ifeq ($(ARCH),arm64)
CROSS    := aarch64-linux-gnu-
CC       := $(CROSS)gcc
BUILD    := build/arm64
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
else ifeq ($(ARCH),x86_64)
CC       ?= gcc
BUILD    := build
PKG_CONFIG := pkg-config
else
$(error ARCH=$(ARCH): keel builds for x86_64 (the default) or arm64)
endif
OBJCOPY  := $(CROSS)objcopy
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter
CPPFLAGS := -Iinclude -D_GNU_SOURCE -DKEEL_VERSION='"$(VERSION)"'
# Size is start time (keel run copies the binary into a sealed memfd): -Os,
# each function and object in its own section and the link keeps only what is
# reached; the release objects carry no .eh_frame (C, no unwinding: nothing
# in keel throws, cancels threads or walks its stack; build/keel.debug keeps
# DWARF for debuggers).  docs/performance.md has the figures.
CFLAGS   ?= -Os -g
STATIC_LDFLAGS ?= -Wl,--gc-sections
RELEASE_CFLAGS := -fno-asynchronous-unwind-tables
CFLAGS   += -std=gnu11 $(WARN) -fno-strict-aliasing -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
            -ffunction-sections -fdata-sections
PKGS     := libcap inih libseccomp
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# libarchive reads image layers (keel import): only its tar reader and the gzip
# and zstd filters are used, so the static link takes zlib and libzstd and none
# of the libraries of its other formats (libxml2, liblzma, nettle, ...).
ARCHIVE_LIBS := -larchive -lzstd -lz
# mbedTLS and libsodium: on x86-64, built from Debian's source packages of the
# installed versions into build/third_party once (the sources stay there, so
# later builds are offline): mbedTLS with third_party/mbedtls-config.h (only
# what keel uses: TLS 1.2 ECDHE-AEAD, X.509, SHA-256), libsodium's Ed25519
# alone (third_party/sodium says why).  Every keel object is compiled against
# that mbedTLS configuration (the contexts' layouts depend on it), so the
# ASan, unit and fuzz builds link the same libraries.  arm64 links Debian's
# packaged libraries with their own configuration.
ifeq ($(ARCH),x86_64)
THIRD_DIR    := $(abspath $(BUILD))/third_party
MBEDTLS_DIR  := $(THIRD_DIR)/mbedtls
MBEDTLS_LIBS := $(MBEDTLS_DIR)/libmbedtls.a $(MBEDTLS_DIR)/libmbedx509.a $(MBEDTLS_DIR)/libmbedcrypto.a
# The Ed25519 subset leaves what only sodium_init() and randombytes_buf_
# deterministic() reach undefined (keel calls neither): every link of it,
# static or not, drops the unused sections, so the flag travels with it.
SODIUM_LIBS  := $(THIRD_DIR)/sodium/libsodium.a -Wl,--gc-sections
# The stamps carry the installed -dev packages' versions: a security update
# of libmbedtls-dev or libsodium-dev (apt-get --only-upgrade) rebuilds them
# from the new version's source at the next make (docs/security.md).
deb_version = $(subst :,_,$(shell dpkg-query -W -f '$${Version}' $(1):amd64 2>/dev/null))
MBEDTLS_STAMP := $(MBEDTLS_DIR)/.built-$(call deb_version,libmbedtls-dev)
SODIUM_STAMP  := $(THIRD_DIR)/sodium/.built-$(call deb_version,libsodium-dev)
THIRD_STAMPS := $(MBEDTLS_STAMP) $(SODIUM_STAMP)
CPPFLAGS += -I$(MBEDTLS_DIR)/src/include -DMBEDTLS_CONFIG_FILE='"$(abspath third_party/mbedtls-config.h)"'
else
PKGS     += libsodium
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
SODIUM_LIBS  :=
THIRD_STAMPS :=
endif
PKG_LIBS   := $(shell $(PKG_CONFIG) --static --libs $(PKGS) 2>/dev/null) $(SODIUM_LIBS) $(MBEDTLS_LIBS) $(ARCHIVE_LIBS)
CPPFLAGS += $(PKG_CFLAGS)

SRCS     := $(sort $(wildcard src/*.c))
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
ASAN_OBJS     := $(SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
ASAN_LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Objects are rebuilt when the flags they are compiled with change (another
# mbedTLS configuration, -Os, a new define): make by itself compares only
# times, and an object built against another configuration of a library's
# structures links cleanly and fails at run time.
FLAGS_FILE := $(BUILD)/.flags
# (Not the version string: it changes at every commit.)
FLAGS_NOW  := $(CC) $(filter-out -DKEEL_VERSION=%,$(CPPFLAGS)) $(CFLAGS) $(RELEASE_CFLAGS) $(ASAN_FLAGS)
ifneq ($(FLAGS_NOW),$(file < $(FLAGS_FILE)))
$(shell mkdir -p $(BUILD))
$(file > $(FLAGS_FILE),$(FLAGS_NOW))
endif
# The version string alone goes in its own stamp, which only the objects
# that print it depend on: `keel version`, the control API's and the
# metrics' version and the boot line must name the commit that was built.
VERSION_FILE := $(BUILD)/.version
ifneq ($(VERSION),$(file < $(VERSION_FILE)))
$(shell mkdir -p $(BUILD))
$(file > $(VERSION_FILE),$(VERSION))
endif
# (Their objects depend on the stamp below the first target.)
VERSIONED := boot cli control metrics

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
ASAN_UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/asan/unit/%)

DEPS_BUILD := build-essential pkg-config libcap-dev libinih-dev \
              libseccomp-dev libmbedtls-dev libsodium-dev file libarchive-dev libzstd-dev zlib1g-dev \
              dpkg-dev
DEPS_TEST  := busybox-static iproute2 dnsmasq-base qemu-system-x86 linux-image-amd64 cpio kmod socat openssl \
              procps psmisc util-linux curl python3 cppcheck clang-tidy e2fsprogs xz-utils chrony \
              erofs-utils squashfs-tools dosfstools xfsprogs debootstrap zstd \
              prometheus rsyslog radvd strace
DEPS_BENCH := crun runc tini bubblewrap
# arm64 (make check builds and boots it too): the cross compiler and the
# :arm64 static libraries (install-deps adds the arm64 dpkg architecture
# first), qemu-system-aarch64, qemu-user for the foreign busybox's applet
# list.  Debian's arm64 kernel and busybox-static:arm64 are unpacked into
# build/arm64/sysroot, not installed (tests/tools/arm64-sysroot).
DEPS_ARM64 := gcc-aarch64-linux-gnu libc6-dev-arm64-cross libcap-dev:arm64 libinih-dev:arm64 \
              libseccomp-dev:arm64 libmbedtls-dev:arm64 libsodium-dev:arm64 libarchive-dev:arm64 libzstd-dev:arm64 zlib1g-dev:arm64 \
              qemu-system-arm qemu-user-static kmod

.PHONY: print-libs print-dyn-libs all deps deps-bench check unit unit-asan host host-asan vm lint fuzz bench demo qemu \
        initramfs clean asan probe soak hot-list arm64 vm-arm64 sysroot test-build

all: $(BUILD)/keel

# --- dependencies -----------------------------------------------------------
deps:
	@tests/tools/install-deps $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_ARM64)

deps-bench:
	@tests/tools/install-deps $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_ARM64) $(DEPS_BENCH)

# make arm64: the same as make ARCH=arm64 (build/arm64/keel).
arm64:
	@$(MAKE) --no-print-directory ARCH=arm64 all

# Debian's arm64 kernel and busybox, unpacked (tests/tools/arm64-sysroot).
SYSROOT := build/arm64/sysroot
sysroot:
	@tests/tools/arm64-sysroot $(SYSROOT)

# --- the product ------------------------------------------------------------
ifneq ($(THIRD_STAMPS),)
$(MBEDTLS_STAMP): third_party/mbedtls third_party/mbedtls-config.h third_party/debsrc
	CC=$(CC) third_party/mbedtls $(MBEDTLS_DIR)
	@rm -f $(MBEDTLS_DIR)/.built-* && touch $@
$(SODIUM_STAMP): third_party/sodium third_party/debsrc
	CC=$(CC) third_party/sodium $(THIRD_DIR)/sodium
	@rm -f $(THIRD_DIR)/sodium/.built-* && touch $@
$(MBEDTLS_LIBS): $(MBEDTLS_STAMP)
$(THIRD_DIR)/sodium/libsodium.a: $(SODIUM_STAMP)
# Every object includes the source package's mbedTLS headers.
$(OBJS) $(ASAN_OBJS) $(BUILD)/test/obj/daemon.o: | $(THIRD_STAMPS)
endif
$(foreach d,obj test/obj asan/obj,$(VERSIONED:%=$(BUILD)/$(d)/%.o)): $(VERSION_FILE)
$(BUILD)/obj/%.o: src/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(RELEASE_CFLAGS) -MMD -MP -c -o $@ $<

# The code keel's PID 1 runs goes first in the text, together (link/hot.ld,
# made by `make hot-list` from a traced run, committed): the kernel maps file
# text 64 KiB around each fault, or a whole large folio, so scattered code
# made most of the binary resident (issue 17, docs/performance.md).  The list
# is only an input: an entry that matches no section is ignored, code it
# misses is linked after it.  The map is what make hot-list reads.
HOT_LD   := $(wildcard link/hot.ld)
# The libraries' unwind tables stay out of the static link, and libgcc's
# unwinder with them: nothing in keel unwinds (link/no-unwind.ld and
# link/no-unwind.c say why; ~92 + 24 KiB, issue 17).
NOUNWIND_LD := link/no-unwind.ld
NOUNWIND_OBJ := $(BUILD)/obj/link/no-unwind.o
HOT_SCRIPT := $(if $(HOT_LD),-T $(HOT_LD)) -T $(NOUNWIND_LD)
HOT_LDFLAGS := -Wl,-Map=$(BUILD)/keel.debug.map $(HOT_SCRIPT)
$(BUILD)/keel $(BUILD)/test/keel: $(HOT_LD) $(NOUNWIND_LD) $(NOUNWIND_OBJ)
$(NOUNWIND_OBJ): link/no-unwind.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RELEASE_CFLAGS) -c -o $@ $<

# make hot-list: trace build/keel's PID 1 with 10 idle containers and rewrite
# link/hot.ld (tests/bench/hotlist; root); make again to link with it.
hot-list: $(BUILD)/keel $(BUILD)/probe
	@tests/bench/hotlist

# The default seccomp filter for the default capability set, compiled once
# here instead of at every boot (src/gen/seccomp_gen.c, src/seccomp.c): the
# generator runs on this machine against the libseccomp keel links; a cross
# build gets an empty table (keel compiles the filter at run time).
SECCOMP_GEN_OBJS := $(filter-out $(BUILD)/obj/seccomp.o,$(LIB_OBJS))
$(BUILD)/gen/seccomp_prebuilt.h: src/gen/seccomp_gen.c src/seccomp.c $(SECCOMP_GEN_OBJS) $(THIRD_STAMPS) $(FLAGS_FILE)
	@mkdir -p $(@D)
ifeq ($(ARCH),x86_64)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $(BUILD)/gen/seccomp_gen $< $(SECCOMP_GEN_OBJS) $(DYN_LIBS)
	$(BUILD)/gen/seccomp_gen > $@.tmp && mv $@.tmp $@
else
	echo '/* cross build: no prebuilt seccomp filter */' > $@
endif
$(BUILD)/obj/seccomp.o $(BUILD)/asan/obj/seccomp.o: $(BUILD)/gen/seccomp_prebuilt.h
$(BUILD)/obj/seccomp.o $(BUILD)/asan/obj/seccomp.o: CPPFLAGS += -I$(BUILD)/gen

# The shipped binary is stripped (keel run copies itself into a sealed memfd at
# every start: size is start time); build/keel.debug keeps the symbols.
$(BUILD)/keel: $(OBJS) $(THIRD_STAMPS)
	$(CC) $(CFLAGS) -static $(STATIC_LDFLAGS) $(HOT_LDFLAGS) -o $@.debug $(OBJS) $(NOUNWIND_OBJ) $(PKG_LIBS) 2> $(BUILD)/link.log || { cat $(BUILD)/link.log; exit 1; }
	$(OBJCOPY) --strip-all $@.debug $@
	@grep -v -e 'getaddrinfo' -e 'getprotobyname' -e 'getprotobynumber' -e 'getpwnam' -e 'getgrnam' -e 'getpwuid' -e 'getgrgid' \
	     -e 'in function' -e 'getservbyname' -e 'gethostbyname' -e 'dlopen' $(BUILD)/link.log >&2 || true

# --- test build ----------------------------------------------------------------
# The release objects plus daemon.c with the kernel command-line test hooks
# (keel.test_crash, test_freeze, test_signals, test_orphans: -DKEEL_TEST_HOOKS),
# for the VM tests that need them (tests/vm/test_watchdog.sh, test_faults.sh).
# Never shipped: the release build/keel has no such hooks.
TEST_OBJS := $(filter-out $(BUILD)/obj/daemon.o,$(OBJS)) $(BUILD)/test/obj/daemon.o

$(BUILD)/test/obj/%.o: src/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DKEEL_TEST_HOOKS $(CFLAGS) $(RELEASE_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/test/keel: $(TEST_OBJS) $(THIRD_STAMPS)
	$(CC) $(CFLAGS) -static $(STATIC_LDFLAGS) $(HOT_SCRIPT) -o $@ $(TEST_OBJS) $(NOUNWIND_OBJ) $(PKG_LIBS) 2> $(BUILD)/test/link.log || { cat $(BUILD)/test/link.log; exit 1; }

# --- sanitizer build (dynamic) --------------------------------------------------
$(BUILD)/asan/obj/%.o: src/%.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/asan/keel: $(ASAN_OBJS) $(THIRD_STAMPS)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $(ASAN_OBJS) $(DYN_LIBS)

asan: $(BUILD)/asan/keel

# --- unit tests -----------------------------------------------------------------
DYN_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(SODIUM_LIBS) $(MBEDTLS_LIBS) -larchive

# The libraries keel links, for the test drivers built from keel's own objects
# (tests/host/test_net.sh's netdrv, tests/vm/lib.sh's harnesses): one list.
print-libs:
	@echo $(PKG_LIBS)
print-dyn-libs:
	@echo $(DYN_LIBS)

$(BUILD)/unit/%: tests/unit/%.c tests/unit/unit.h $(LIB_OBJS) $(THIRD_STAMPS) $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $< $(LIB_OBJS) $(DYN_LIBS)

$(BUILD)/asan/unit/%: tests/unit/%.c tests/unit/unit.h $(ASAN_LIB_OBJS) $(THIRD_STAMPS) $(FLAGS_FILE)
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

# The arm64 VM tests (make check runs them after the x86 ones): the cross-built
# keel and probe, Debian's arm64 kernel, qemu-system-aarch64 under TCG.
vm-arm64: sysroot
	@$(MAKE) --no-print-directory ARCH=arm64 all build/arm64/probe
	@VM_ARCH=arm64 KEEL=$(abspath build/arm64/keel) tests/vm/run-all tests/vm/arm64_*.sh

check: deps
	@$(MAKE) --no-print-directory all probe
	@tests/tools/check-all

# Every binary the test layers run, for tests/tools/build-tests (check-all
# builds them at once, -j2, before its two lanes run side by side).
test-build: $(BUILD)/keel $(BUILD)/probe $(BUILD)/asan/keel $(BUILD)/test/keel $(UNIT_BINS) $(ASAN_UNIT_BINS)

# make soak [SECONDS=N]: churn against one keel for N seconds (default 60),
# sampling its RSS, fds, children and zombies; plot in build/soak/soak.svg.
soak: $(BUILD)/keel $(BUILD)/probe
	@KEEL=$(abspath $(BUILD)/keel) tests/soak/soak --seconds $(or $(SECONDS),60) --out $(abspath $(BUILD))/soak

# --- appliance image and demo ---------------------------------------------------
MANIFEST ?= configs/demo.ini
# LAYERS_FORMAT=erofs packs each layer directory into an erofs image (mkfs.erofs).
LAYERS_FORMAT ?= dir
ifeq ($(ARCH),arm64)
# The arm64 image: busybox-static:arm64 layers, modules of Debian's arm64 kernel.
MANIFEST := $(if $(filter command line environment,$(origin MANIFEST)),$(MANIFEST),configs/demo-arm64.ini)
IMAGE_ARGS := --sysroot $(SYSROOT) --layers $(BUILD)/layers
IMAGE_DEPS := sysroot
export BUSYBOX := $(abspath $(SYSROOT))/bin/busybox
endif
initramfs: $(BUILD)/keel $(IMAGE_DEPS)
	initramfs/mkinitramfs --keel $(BUILD)/keel --manifest $(MANIFEST) --out $(BUILD)/initramfs.cpio.gz \
	    --layers-format $(LAYERS_FORMAT) $(IMAGE_ARGS) \
	    $(foreach m,$(MODULES),--module $(m))

demo: deps $(IMAGE_DEPS)
	@$(MAKE) --no-print-directory all
	@ARCH=$(ARCH) initramfs/demo

qemu: deps $(IMAGE_DEPS)
	@$(MAKE) --no-print-directory all
	@ARCH=$(ARCH) initramfs/demo --interactive

# --- quality --------------------------------------------------------------------
lint:
	@tests/tools/lint

fuzz:
	@tests/fuzz/run $(if $(SECONDS),$(SECONDS),60)

# make bench ARCH=arm64: the boot section and arm64's beside it (tests/bench/bench.py
# section_arm64: boot split and binary size on both architectures).
bench: deps-bench
	@$(MAKE) --no-print-directory ARCH=x86_64 all probe
ifeq ($(ARCH),arm64)
	@$(MAKE) --no-print-directory ARCH=arm64 all sysroot
	@tests/bench/run $(if $(QUICK),--quick,) --only boot,arm64
else
	@tests/bench/run $(if $(QUICK),--quick,)
endif

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(BUILD)/test/obj/daemon.d
