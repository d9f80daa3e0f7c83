# Thin wrapper over Meson/Ninja. `make run` and `make test` install what is
# missing (scripts/setup.sh), build, and fetch the default guest first.
BUILD ?= build
MESON_OPTS ?= $(if $(CI),-Dwerror=true)
GUEST_DIR ?= $(or $(CLOISON_CACHE),$(HOME)/.cache/cloison)/guest
NINJA := ninja -C $(BUILD)

.PHONY: all setup build guest web debian-image run test unit bench soak smp-soak format clean cross-riscv64 install

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: setup $(BUILD)/build.ninja
	@$(NINJA)

guest: build
	@bash tools/guest/fetch.sh
	@bash tools/guest/mkinitramfs.sh
	@bash tools/guest/mkrootfs.sh ./$(BUILD)/cloison

# The web interface's pinned xterm.js (tools/web/fetch.sh), cached like the guest.
web:
	@bash tools/web/fetch.sh

run: build guest
	./$(BUILD)/cloison run $(RUN_ARGS)

# The Debian system image (tools/image/debian.sh, root): built once per recipe and cached under
# ~/.cache/cloison/images; its tests (tests/integration/test_debian.py) boot it.
debian-image: build guest
	@./$(BUILD)/cloison image build debian --archive-only >/dev/null || \
	  echo "make: the Debian image did not build (test_debian tries again and says why)" >&2

test: build guest web debian-image
	@bash tests/run-all.sh $(BUILD)

# The binaries, the systemd unit, bash completion and man pages under PREFIX (default /usr/local); DESTDIR stages.
PREFIX ?= /usr/local
install: build web
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))
	install -d $(DESTDIR)$(PREFIX)/share/cloison/web/vendor/xterm
	install -m 644 $(or $(CLOISON_CACHE),$(HOME)/.cache/cloison)/web/xterm/* $(DESTDIR)$(PREFIX)/share/cloison/web/vendor/xterm/

# cloison for riscv64 Linux hosts (--accel kvm there): build-riscv64/cloison and a tar with its libraries.
cross-riscv64: setup
	@MESON_OPTS="$(MESON_OPTS)" bash tools/cross/build.sh build-riscv64

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

bench: build guest
	bash bench/boot.sh
	bash bench/cpu.sh
	bash bench/store_forward.sh
	bash bench/probe_latency.sh
	bash bench/chase.sh
	bash bench/disk.sh
	bash bench/net.sh
	bash bench/lifecycle.sh
	bash bench/balloon.sh
	bash bench/share.sh
	bash bench/distro.sh
	bash bench/container.sh
	bash bench/api.sh
	bash bench/web.sh $(BUILD)
	bash bench/cluster.sh
	python3 bench/soak.py $(BUILD) $(SOAK_SECONDS)

# cloisond under API load, slow clients and kill -9 every few seconds (default 600 s).
soak: build
	python3 bench/soak.py $(BUILD) $(SOAK_SECONDS)

# The default guest booted with two harts SMP_BOOTS times under each engine (default 200):
# every boot must reach userspace and power off; a hang leaves each hart's pc in the log.
smp-soak: build guest
	python3 bench/smp_soak.py $(BUILD)/cloison $(SMP_BOOTS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
