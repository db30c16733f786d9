# SPDX-License-Identifier: GPL-2.0
#
# vhu top-level Makefile.
#
#   make                     vhu.ko for KDIR (the running kernel's), vhuctl
#                            and the selftests
#   make KDIR=/path/to/build vhu.ko for another kernel
#   make check               host unit tests, then the selftests in a VM on
#                            every kernel in VM_KERNELS, the nested QEMU
#                            guests on the kernels in E2E_KERNELS (6.12)
#   make check-full          make check with the nested guests on every
#                            kernel in VM_KERNELS (about 12 minutes more)
#   make check-debug         the selftests and vhuctl's kernel test in a VM
#                            booting Debian's 6.12 built with KASAN, lockdep
#                            and kmemleak (built once, cached; slow)
#   make soak                the crash soak: the daemon SIGKILLed SOAK_KILLS
#                            (20) times under a verifying writer in a real
#                            QEMU guest, userspace datapath on the host, the
#                            kernel's in a VM per kernel in SOAK_KERNELS (6.12)
#   make fuzz                libFuzzer on vhuctl's vhost-user intake for
#                            FUZZ_TIME seconds (default 3600; one core)
#   make demo                build, boot a VM, load the module, show it
#   make bench               vhu-kernel (plain and with pinned memory) vs
#                            vhu-user vs qemu-storage-daemon (BENCH_BACKENDS),
#                            instruction-counted (icount) VMs, per
#                            configuration in BENCH_CONFIGS: IOPS, latency,
#                            backend instructions, syscalls, context switches,
#                            wakeups and interrupts per I/O (build/bench/icount)
#   make bench-timing        the same plus fio and 2 queues, in VMs timed by the
#                            host clock, per kernel in VM_KERNELS (build/bench/timing)
#   make bench-profile       perf profile per backend thread, icount, 6.12
#                            1 vCPU, 4K randread QD32 (build/bench/profile)
#   make sparse / checkpatch kernel code checks
#   make htmldocs            Documentation/ as HTML in build/htmldocs
#   make install             vhu.ko for KDIR (loaded at boot: modules-load.d),
#                            vhuctl, vhuctl(8), vhu.service,
#                            vhu-export@.service, tmpfiles.d/vhu.conf, the
#                            udev rule of /dev/vhu and bash completion under
#                            PREFIX (/usr/local), /etc/vhu/vhu.conf if absent
#   make uninstall           remove what install installed, but /etc/vhu
#   make dkms-install        vhu.ko through DKMS, for every kernel with headers
#
# Module objects go to build/<kernel release>/, so one tree builds for
# several kernels side by side.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
PREFIX ?= /usr/local
VM := $(TOP)/tools/testing/vm/vhu-vm

# The running kernel's build tree, as for any out-of-tree module; another
# kernel's with KDIR=, e.g. KDIR=/usr/src/linux-headers-<release>.
KDIR ?= /lib/modules/$(shell uname -r)/build
KVER := $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
MODDIR := $(TOP)/build/$(KVER)
# One version for vhu.ko, vhuctl and vhuctl(8): scripts/version says how.
VHU_VERSION := $(shell $(TOP)/scripts/version)
$(if $(VHU_VERSION),,$(error cannot tell vhu's version: scripts/version failed))
KBUILD := $(MAKE) -C $(KDIR) M=$(MODDIR) VHU_VERSION=$(VHU_VERSION)
W ?= 1
VM_KERNELS ?= 6.1 6.12

.PHONY: all deps module tools selftests check check-full check-debug soak fuzz demo bench \
	bench-timing bench-profile \
	sparse checkpatch kernel-doc htmldocs install uninstall dkms-src dkms-install \
	dkms-uninstall clean

all: module tools selftests

# Kernel header trees installed under /usr/src, for the error below.
HEADER_DIRS = $(patsubst %/include/generated/utsrelease.h,%,\
	$(wildcard /usr/src/linux-headers-*/include/generated/utsrelease.h))
# Fails, saying how to pass KDIR=, when KDIR is not a kernel build tree.
check_kdir = test -n "$(KVER)" || { \
	echo "error: no kernel build tree at KDIR=$(KDIR)" >&2; \
	echo "  for the running kernel, install its headers:" \
		"apt-get install linux-headers-$(shell uname -r)" >&2; \
	echo "  or name the headers of the kernel to build for with KDIR=, e.g.:" >&2; \
	for d in $(or $(HEADER_DIRS),/usr/src/linux-headers-RELEASE); do \
		echo "  make $(strip $(MAKECMDGOALS) KDIR=$$d)" >&2; done; \
	exit 1; }

module:
	@$(check_kdir)
	@$(TOP)/scripts/mirror-module-tree $(TOP) $(MODDIR)
	$(KBUILD) W=$(W) modules
	@echo "built $(MODDIR)/kernel/vhu.ko, version $(VHU_VERSION)"

tools:
	$(MAKE) -C $(TOP)/tools

selftests:
	$(MAKE) -C $(TOP)/selftests/vhu

# These install what they need from apt first (a no-op once installed).
deps:
	$(TOP)/tools/testing/install-deps

check: deps
	$(MAKE) tools selftests
	$(TOP)/tools/testing/run-checks $(VM_KERNELS)

check-full: deps
	$(MAKE) tools selftests
	E2E_KERNELS="$(VM_KERNELS)" $(TOP)/tools/testing/run-checks $(VM_KERNELS)

# Documentation/testing.rst. Not part of check: the kernel's first build
# takes most of an hour on two cores, and each run half an hour.
check-debug: deps
	$(MAKE) tools selftests
	$(TOP)/tools/testing/check-debug

# Documentation/testing.rst; make check runs a short one (CHECK_KILLS).
SOAK_KILLS ?= 20
SOAK_KERNELS ?= 6.12
soak: deps
	$(MAKE) tools
	SOAK_KILLS=$(SOAK_KILLS) $(TOP)/tools/testing/e2e/soak $(SOAK_KERNELS)

# Documentation/testing.rst; new inputs kept in build/fuzz/corpus.
fuzz: deps
	$(MAKE) -C $(TOP)/tools fuzz

demo: deps
	$(MAKE) tools
	$(TOP)/tools/testing/demo $(firstword $(VM_KERNELS))

# Documentation/performance.rst. The primary benchmark counts guest
# instructions as time (deterministic, whatever else the host runs):
# KERNEL:VCPUS configurations, one VM each (Debian's 6.1 boots under icount
# with one vCPU only).
BENCH_CONFIGS ?= 6.12:1 6.1:1 6.12:2
BENCH_RUNTIME ?= 2
# vhu-kernel-pin: the kernel datapath with --pin-memory, its best
# configuration; the targets take the best of the vhu-kernel* backends.
BENCH_BACKENDS ?= vhu-kernel,vhu-kernel-pin,vhu-kernel-poll,vhu-user,qsd
bench: deps
	$(MAKE) tools
	BENCH_RUNTIME=$(BENCH_RUNTIME) BENCH_BACKENDS=$(BENCH_BACKENDS) \
		$(TOP)/tools/testing/bench/bench-icount $(BENCH_CONFIGS)

# Timed by the host clock (noisy on a shared host, and TCG inflates
# syscalls and switches), for what icount cannot show: 2 queues on 2 vCPUs
# running in parallel, and local fio as the limit.
BENCH_TIMING_RUNTIME ?= 5
bench-timing: deps
	$(MAKE) tools
	for k in $(VM_KERNELS); do $(VM) run --kernel $$k --load \
		--log-dir $(TOP)/build/bench/timing/$$k -- tools/testing/bench/bench-matrix \
		--runtime $(BENCH_TIMING_RUNTIME) || exit 1; done

# Where each backend thread's instructions go (icount, 6.12, 1 vCPU).
BENCH_PROFILE_ARGS ?= --rw randread --iodepth 32
BENCH_PROFILE_BACKENDS ?= kernel-pin,kernel,user,qsd
bench-profile: deps
	$(MAKE) tools
	$(VM) run --kernel 6.12 --smp 1 --icount --load --log-dir $(TOP)/build/bench/profile \
		-- tools/testing/bench/bench-profile --icount $(BENCH_PROFILE_BACKENDS) $(BENCH_PROFILE_ARGS)

sparse:
	@$(check_kdir)
	@$(TOP)/scripts/mirror-module-tree $(TOP) $(MODDIR)
	$(KBUILD) W=$(W) C=2 CHECK=sparse modules

checkpatch:
	$(TOP)/tools/testing/checkpatch kernel/*.[ch] include/uapi/linux/vhu.h

install: module
	$(KBUILD) modules_install
	@# Kbuild skips depmod where the headers have no System.map (Debian's):
	@# without it modprobe, modules-load.d and the devname alias miss vhu.ko.
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)
	@test "$(KVER)" = "$(shell uname -r)" || echo "note: vhu.ko was installed for" \
		"$(KVER), not the running kernel $(shell uname -r): modprobe vhu works once" \
		"$(KVER) runs (or: make install KDIR=<the running kernel's headers>)" >&2
	install -D -m 0644 $(TOP)/tools/systemd/vhu.modules-load \
		$(DESTDIR)$(PREFIX)/lib/modules-load.d/vhu.conf
	$(MAKE) -C $(TOP)/tools install

# Kbuild installs an external module under updates/ (extra/ before 6.2),
# compressed as the kernel's own are.
MOD_INSTALLED = $(foreach d,updates extra,$(foreach k,kernel/vhu.ko vhu.ko,\
	$(foreach z,"" .xz .zst .gz,$(INSTALL_MOD_PATH)/lib/modules/$(KVER)/$(d)/$(k)$(z))))
uninstall:
	@if test -n "$(KVER)"; then \
		rm -fv $(MOD_INSTALLED) && \
		depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER); \
	else echo "note: no kernel build tree at KDIR=$(KDIR): vhu.ko stays installed" \
		"(make uninstall KDIR=<the headers it was built with>)" >&2; fi
	rm -f $(DESTDIR)$(PREFIX)/lib/modules-load.d/vhu.conf
	$(MAKE) -C $(TOP)/tools uninstall

# Documentation/ as HTML in build/htmldocs, with Sphinx (python3-sphinx)
# and the kernel's kernel-doc extension taken from Debian's linux-source
# (Documentation/conf.py). SPHINXOPTS=-W turns warnings into errors.
SPHINXBUILD ?= sphinx-build
SPHINXOPTS ?=
KERNEL_DOC_FILES := scripts/kernel-doc Documentation/sphinx/kerneldoc.py \
	Documentation/sphinx/kernellog.py

kernel-doc:
	@$(TOP)/scripts/linux-source-files --series 6.12 $(TOP)/build/kernel-doc \
		$(KERNEL_DOC_FILES)

htmldocs: kernel-doc
	@command -v $(SPHINXBUILD) >/dev/null || { \
		echo "error: $(SPHINXBUILD) not found (Debian: apt-get install python3-sphinx)" >&2; exit 1; }
	$(SPHINXBUILD) -b html -q $(SPHINXOPTS) -d $(TOP)/build/htmldocs/.doctrees \
		$(TOP)/Documentation $(TOP)/build/htmldocs
	@echo "built $(TOP)/build/htmldocs/index.html"

# DKMS (README): dkms-src writes the module's sources, with VERSION and
# dkms.conf, to DKMS_SRC; dkms-install registers that copy with dkms (as
# /usr/src/vhu-<version>) and builds and installs vhu.ko for every kernel
# with a build tree in /lib/modules, replacing the same version if it was
# there; dkms then rebuilds it for each new kernel. DKMS_VERSION is the
# name dkms knows it by; the module reports VHU_VERSION either way.
DKMS_VERSION ?= $(VHU_VERSION)
DKMS_SRC ?= $(TOP)/build/dkms/vhu-$(DKMS_VERSION)
DKMS_KERNELS ?= $(patsubst /lib/modules/%/build/Makefile,%,\
	$(wildcard /lib/modules/*/build/Makefile))

dkms-src:
	@case "$(DKMS_VERSION)" in ''|*[!0-9A-Za-z.+-]*) \
		echo "error: DKMS_VERSION='$(DKMS_VERSION)' takes letters, digits, '.', '+' and '-'" >&2; \
		exit 1 ;; esac
	rm -rf $(DKMS_SRC)
	$(TOP)/scripts/mirror-module-tree --copy $(TOP) $(DKMS_SRC)
	echo $(VHU_VERSION) > $(DKMS_SRC)/VERSION
	sed 's/@VERSION@/$(DKMS_VERSION)/' $(TOP)/dkms.conf > $(DKMS_SRC)/dkms.conf

dkms-install: dkms-src
	@test -n "$(DKMS_KERNELS)" || { \
		echo "error: no kernel has a build tree in /lib/modules/*/build; install its headers" >&2; \
		exit 1; }
	-dkms remove vhu/$(DKMS_VERSION) --all >/dev/null 2>&1
	rm -rf /usr/src/vhu-$(DKMS_VERSION)
	dkms add $(DKMS_SRC)
	for k in $(DKMS_KERNELS); do dkms install vhu/$(DKMS_VERSION) -k $$k || exit 1; done
	dkms status vhu

dkms-uninstall:
	dkms remove vhu/$(DKMS_VERSION) --all
	rm -rf /usr/src/vhu-$(DKMS_VERSION)

clean:
	rm -rf $(TOP)/build
	$(MAKE) -C $(TOP)/tools clean
	$(MAKE) -C $(TOP)/selftests/vhu clean
