/*
 * kvmsmoke.c — a minimal VMM on /dev/kvm (riscv64 Linux): one vCPU, 4 MiB of RAM, the code of
 * kvmsmoke_guest.S, and MMIO exits checked against what that code reports. Run inside a guest of
 * cloison's engine with the hypervisor extension, it shows the whole hardware-assisted path:
 * KVM enters VS-mode, two-stage translation, guest-page faults, MMIO emulation, SBI calls.
 * Prints "kvmsmoke: ok" and exits 0 when every report matches.
 *   kvmsmoke [N]   the guest's loop runs N iterations (default 200000), printing progress lines
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

extern const char kvmsmoke_guest_start[], kvmsmoke_guest_end[];

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (4u << 20)
#define REPORT 0x10000000ULL

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000;
	const struct {
		unsigned slot;
		uint64_t want;
		const char *what;
	} expected[] = {
	    {0, 42, "MMIO store"},
	    {2, 0x1122334455667789ULL, "MMIO load"},
	    {3, 2, "illegal instruction trapped in the guest"},
	    {4, 0x5a5a, "a page written through an alias"},
	    {5, 13, "load page fault handled by the guest"},
	    {6, n * (n + 1) / 2, "loop"},
	};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("kvmsmoke: /dev/kvm");
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("kvmsmoke: KVM_CREATE_VM");
		return 1;
	}
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) return 1;
	memcpy(ram, kvmsmoke_guest_start, (size_t)(kvmsmoke_guest_end - kvmsmoke_guest_start));
	struct kvm_userspace_memory_region region = {.slot = 0,
	                                             .guest_phys_addr = RAM_BASE,
	                                             .memory_size = RAM_SIZE,
	                                             .userspace_addr = (uintptr_t)ram};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		perror("kvmsmoke: KVM_SET_USER_MEMORY_REGION");
		return 1;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0) {
		perror("kvmsmoke: KVM_CREATE_VCPU");
		return 1;
	}
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) return 1;
	uint64_t pc = RAM_BASE;
	struct kvm_one_reg reg = {.id = KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CORE |
	                                KVM_REG_RISCV_CORE_REG(regs.pc),
	                          .addr = (uintptr_t)&pc};
	struct kvm_one_reg reg_a0 = {.id = KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CORE |
	                                   KVM_REG_RISCV_CORE_REG(regs.a0),
	                             .addr = (uintptr_t)&n};
	if (ioctl(vcpu, KVM_SET_ONE_REG, &reg) < 0 || ioctl(vcpu, KVM_SET_ONE_REG, &reg_a0) < 0) {
		perror("kvmsmoke: KVM_SET_ONE_REG");
		return 1;
	}

	uint64_t report[9] = {0};
	unsigned seen = 0, exits = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			perror("kvmsmoke: KVM_RUN");
			return 1;
		}
		exits++;
		if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT) break;
		if (run->exit_reason != KVM_EXIT_MMIO) {
			printf("kvmsmoke: FAIL: unexpected exit %u\n", run->exit_reason);
			return 1;
		}
		uint64_t off = run->mmio.phys_addr - REPORT;
		if (off >= sizeof(report) || (off & 7)) {
			printf("kvmsmoke: FAIL: MMIO at 0x%llx\n", (unsigned long long)run->mmio.phys_addr);
			return 1;
		}
		if (run->mmio.is_write) {
			uint64_t v = 0;
			memcpy(&v, run->mmio.data, run->mmio.len);
			if (off == 64) {
				printf("kvmsmoke: progress %llu\n", (unsigned long long)v);
				fflush(stdout);
			}
			report[off / 8] = v;
			seen |= 1u << (off / 8);
		} else {
			uint64_t v = 0x1122334455667788ULL;
			memcpy(run->mmio.data, &v, run->mmio.len);
		}
	}
	int failed = 0;
	for (unsigned i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		unsigned s = expected[i].slot;
		if (!(seen & (1u << s)) || report[s] != expected[i].want) {
			printf("kvmsmoke: FAIL: %s: got 0x%llx, want 0x%llx\n", expected[i].what,
			       (unsigned long long)report[s], (unsigned long long)expected[i].want);
			failed = 1;
		}
	}
	if (!(seen & (1u << 7)) || report[7] == 0) {
		printf("kvmsmoke: FAIL: no SBI spec version\n");
		failed = 1;
	}
	if (failed) return 1;
	printf("kvmsmoke: ok (%u exits, SBI %llu.%llu)\n", exits, (unsigned long long)(report[7] >> 24),
	       (unsigned long long)(report[7] & 0xffffff));
	return 0;
}
