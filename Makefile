# SPDX-License-Identifier: LGPL-2.1-or-later
# latchkey — plain GNU make. Objects go under $(BUILD); lib/ becomes one static archive.

VERSION   := 0.1
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
DOCDIR    ?= $(PREFIX)/share/doc/latchkey
DESTDIR   ?=

PKGS      := libgcrypt libkeyutils json-c libxcrypt
PKGS      += tss2-sys tss2-mu tss2-rc tss2-tctildr
PKGS      += libcryptsetup
TOOLS     := cred-encrypt cred-decrypt ask-client ask-agent-tty ask-agent-wall home-activate
MAN1      := $(foreach t,$(filter-out home-activate,$(TOOLS)),$(t)/$(t).1)
MAN8      := home-activate/home-activate.8
LIBDIR    ?= $(PREFIX)/lib
# Password agent units; "/usr/local/bin/" in them becomes $(BINDIR)/ at install.
UNITS     := ask-agent-tty/latchkey-ask-password-console.path ask-agent-tty/latchkey-ask-password-console.service \
             ask-agent-wall/latchkey-ask-password-wall.path ask-agent-wall/latchkey-ask-password-wall.service
USER_UNITS := ask-agent-wall/latchkey-ask-password-user.path ask-agent-wall/latchkey-ask-password-user.service
# The credential service for unprivileged users (cred-decrypt --serve).
UNITS     += cred-decrypt/latchkey-creds.socket cred-decrypt/latchkey-creds@.service

# SAN=1: AddressSanitizer + UBSan build, in its own tree.
ifeq ($(SAN),1)
CC        := clang
BUILD     ?= build-san
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD     ?= build
SANFLAGS  :=
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
             -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 -D_GNU_SOURCE \
             -DLATCHKEY_VERSION='"$(VERSION)"' -Ilib $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS   += $(SANFLAGS) -Wl,-z,relro,-z,now -Wl,--as-needed

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/liblatchkey.a
BINS      := $(foreach t,$(TOOLS),$(BUILD)/$(t))
# glibc's NSS loads libnss_latchkey.so.2 by name (nsswitch.conf: "passwd: files latchkey").
NSS_SO    := $(BUILD)/libnss_latchkey.so.2

UNIT_SRC  := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

FUZZ_SRC  := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60

.PHONY: all check unit-build bench fuzz fuzz-build install clean deps deps-check demo
.DEFAULT_GOAL := all

all: $(BINS) $(NSS_SO)

$(BUILD)/%.o: %.c $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%: %/main.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_A) $(LDFLAGS) $(PKG_LIBS)

$(NSS_SO): home-activate/nss.c home-activate/nss.map $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -Wl,-soname,libnss_latchkey.so.2 -Wl,--version-script=home-activate/nss.map \
		-o $@ $< $(LIB_A) $(LDFLAGS) $(shell pkg-config --libs json-c)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_A) $(LDFLAGS) $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null)

# --- dependencies ---------------------------------------------------------
# Debian bookworm packages for building, testing, fuzzing and benchmarking.
DEB_PKGS := build-essential pkg-config libgcrypt20-dev libcmocka-dev bats clang \
            libclang-rt-14-dev libkeyutils-dev keyutils libjson-c-dev libcrypt-dev e2fsprogs attr tmux systemd util-linux mount hyperfine time valgrind python3
DEB_PKGS += libpam0g-dev libpam-wrapper pamtester
DEB_PKGS += swtpm swtpm-tools tpm2-tools libtss2-dev
DEB_PKGS += cryptsetup-bin libcryptsetup-dev qemu-system-x86 busybox-static cpio
DEB_PKGS += openssh-server sshfs python3-cryptography

deps:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make deps: run as root, or install: apt-get install $(DEB_PKGS)"; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PKGS)

# Installs what is missing (as root), or says in one line what to install.
deps-check:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing missing packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "missing packages, install as root: apt-get install$$missing"; exit 1; \
		fi; \
	fi

# --- tests ------------------------------------------------------------------
check: deps-check
	@$(MAKE) --no-print-directory all unit-build fuzz-build
	@BUILD=$(BUILD) VALGRIND=$(VALGRIND) tests/run

unit-build: $(UNIT_BINS)

# --- VM stage: LUKS homes with real dm-crypt ------------------------------------
# tests/vm/run.sh boots a Debian kernel under qemu (TCG) with the host root shared
# read-only over 9p and runs tests/vm/suite.sh inside, printing TAP (tests/run
# counts it in check). The kernel is cached in $(BUILD)/vm.
.PHONY: check-vm bench-vm
check-vm: deps-check all
	@BUILD=$(BUILD) tests/vm/run.sh

bench-vm: deps-check all
	@BUILD=$(BUILD) tests/bench/home-luks.sh

demo: deps-check all
	@BUILD=$(BUILD) tests/demo.sh

bench: deps-check all $(BUILD)/bench/kdf-time
	@BUILD=$(BUILD) tests/bench/run.sh

$(BUILD)/bench/kdf-time: tests/bench/kdf-time.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_A) $(LDFLAGS) $(PKG_LIBS)

# --- fuzzing (clang libFuzzer + ASan/UBSan) --------------------------------
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps-check fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# --- PAM module -----------------------------------------------------------------
# pam_latchkey.so runs $(BINDIR)/home-activate (option home_activate= overrides);
# only pam_sm_* are exported. tests/pam/pamdriver is the PAM application of the tests.
PAM_SO     := $(BUILD)/pam_latchkey.so
PAM_DRIVER := $(BUILD)/tests/pamdriver
PAMDIR     ?= $(LIBDIR)/security
PAMCONFDIR ?= $(PREFIX)/share/pam-configs

all: $(PAM_SO) $(PAM_DRIVER)

# The module has home-activate's path built in: rebuild it when BINDIR changes.
$(BUILD)/bindir.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(BINDIR)' | cmp -s - $@ || echo '$(BINDIR)' > $@

.PHONY: FORCE
FORCE:

$(PAM_SO): pam/pam_latchkey.c pam/pam_latchkey.map $(LIB_A) $(BUILD)/bindir.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DHOME_ACTIVATE_PATH='"$(BINDIR)/home-activate"' -shared \
		-Wl,--version-script=pam/pam_latchkey.map -o $@ $< $(LIB_A) $(LDFLAGS) -lpam $(shell pkg-config --libs json-c)

# libcrypt is linked for good: under SAN=1, ASan's crypt() interceptor binds to the
# real one at start-up and would call NULL from a pam_unix.so loaded later.
$(PAM_DRIVER): tests/pam/pamdriver.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lpam -Wl,--no-as-needed -lcrypt

.PHONY: install-pam
install: install-pam
install-pam: $(PAM_SO)
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(PAMCONFDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(PAM_SO) $(DESTDIR)$(PAMDIR)/
	install -m 0644 pam/pam_latchkey.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|pam_latchkey\.so|$(PAMDIR)/pam_latchkey.so|' pam/latchkey.pam-auth-update > $(DESTDIR)$(PAMCONFDIR)/latchkey
	chmod 0644 $(DESTDIR)$(PAMCONFDIR)/latchkey
	install -m 0644 pam/example.pam $(DESTDIR)$(DOCDIR)/examples/pam_latchkey.pam
# --- end of PAM module ------------------------------------------------------------

# --- install ------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(LIBDIR)
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(NSS_SO) $(DESTDIR)$(LIBDIR)/
	@set -e; for u in $(UNITS); do \
		echo "install $$u -> $(DESTDIR)$(UNITDIR)/"; \
		sed 's|/usr/local/bin/|$(BINDIR)/|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	done; \
	for u in $(USER_UNITS); do \
		echo "install $$u -> $(DESTDIR)$(USERUNITDIR)/"; \
		sed 's|/usr/local/bin/|$(BINDIR)/|g' $$u > $(DESTDIR)$(USERUNITDIR)/$${u##*/}; \
		chmod 0644 $(DESTDIR)$(USERUNITDIR)/$${u##*/}; \
	done
	install -m 0644 cred-decrypt/example-app.service cred-decrypt/example-mount.conf $(DESTDIR)$(DOCDIR)/examples/
	install -m 0755 cred-decrypt/latchkey-mount-sshfs $(DESTDIR)$(DOCDIR)/examples/

clean:
	rm -rf build build-san build-fuzz
