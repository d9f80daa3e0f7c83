/*
 * fdt.c — the device tree of the `virt`-style board, built with libfdt.
 *
 * Node names, compatible strings and properties follow what Linux and
 * OpenSBI expect from QEMU's `virt` board; only devices that exist on this
 * machine are described.
 */
#include "fdt.h"

#include "cpu/riscv/isa.h"

#include <libfdt.h>
#include <stdio.h>
#include <sys/random.h>

#define PHANDLE_PLIC 1
#define PHANDLE_TEST 2
#define PHANDLE_CPU_INTC(h) (16 + (h))
#define PHANDLE_CPU(h) (32 + (h))

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t cells[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};
	return fdt_property(fdt, "reg", cells, sizeof(cells));
}

static int prop_string_list(void *fdt, const char *name, const char *const *list, unsigned n)
{
	char buf[1024];
	size_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(list[i]) + 1;
		if (len + l > sizeof(buf)) return -FDT_ERR_NOSPACE;
		memcpy(buf + len, list[i], l);
		len += l;
	}
	return fdt_property(fdt, name, buf, (int)len);
}

static int build_cpus(void *fdt, const struct machine *m)
{
	/* One ISA description, in both the legacy string and the newer list form. */
	char isa[1024];
	const char *names[RV_EXT_COUNT + 8];
	unsigned nnames = rv_ext_names(m->isa_ext, names, sizeof(names) / sizeof(names[0]));
	if (!rv_isa_string(m->isa_ext, isa, sizeof(isa))) return -FDT_ERR_NOSPACE;
	int err = 0;
	err |= fdt_begin_node(fdt, "cpus");
	err |= fdt_property_u32(fdt, "#address-cells", 1);
	err |= fdt_property_u32(fdt, "#size-cells", 0);
	err |= fdt_property_u32(fdt, "timebase-frequency", (uint32_t)m->timebase_hz);
	for (unsigned h = 0; h < m->nharts; h++) {
		char name[32];
		snprintf(name, sizeof(name), "cpu@%u", h);
		err |= fdt_begin_node(fdt, name);
		err |= fdt_property_u32(fdt, "phandle", PHANDLE_CPU(h));
		err |= fdt_property_string(fdt, "device_type", "cpu");
		err |= fdt_property_u32(fdt, "reg", h);
		err |= fdt_property_string(fdt, "status", "okay");
		err |= fdt_property_string(fdt, "compatible", "riscv");
		err |= fdt_property_string(fdt, "riscv,isa", isa);
		err |= fdt_property_string(fdt, "riscv,isa-base", "rv64i");
		err |= prop_string_list(fdt, "riscv,isa-extensions", names, nnames);
		if (RV_HAS(m->isa_ext, ZICBOM))
			err |= fdt_property_u32(fdt, "riscv,cbom-block-size", RV_CACHE_BLOCK);
		if (RV_HAS(m->isa_ext, ZICBOP))
			err |= fdt_property_u32(fdt, "riscv,cbop-block-size", RV_CACHE_BLOCK);
		if (RV_HAS(m->isa_ext, ZICBOZ))
			err |= fdt_property_u32(fdt, "riscv,cboz-block-size", RV_CACHE_BLOCK);
		err |= fdt_property_string(fdt, "mmu-type", "riscv,sv48");
		err |= fdt_begin_node(fdt, "interrupt-controller");
		err |= fdt_property_u32(fdt, "#interrupt-cells", 1);
		err |= fdt_property(fdt, "interrupt-controller", NULL, 0);
		err |= fdt_property_string(fdt, "compatible", "riscv,cpu-intc");
		err |= fdt_property_u32(fdt, "phandle", PHANDLE_CPU_INTC(h));
		err |= fdt_end_node(fdt);
		err |= fdt_end_node(fdt);
	}
	err |= fdt_begin_node(fdt, "cpu-map");
	err |= fdt_begin_node(fdt, "cluster0");
	for (unsigned h = 0; h < m->nharts; h++) {
		char name[32];
		snprintf(name, sizeof(name), "core%u", h);
		err |= fdt_begin_node(fdt, name);
		err |= fdt_property_u32(fdt, "cpu", PHANDLE_CPU(h));
		err |= fdt_end_node(fdt);
	}
	err |= fdt_end_node(fdt);
	err |= fdt_end_node(fdt);
	err |= fdt_end_node(fdt);
	return err;
}

/* interrupts-extended = <&intc0 a &intc0 b &intc1 a ...> */
static int prop_irqs_extended(void *fdt, const struct machine *m, uint32_t a, uint32_t b)
{
	fdt32_t cells[4 * MACHINE_MAX_HARTS];
	for (unsigned h = 0; h < m->nharts; h++) {
		cells[4 * h + 0] = cpu_to_fdt32(PHANDLE_CPU_INTC(h));
		cells[4 * h + 1] = cpu_to_fdt32(a);
		cells[4 * h + 2] = cpu_to_fdt32(PHANDLE_CPU_INTC(h));
		cells[4 * h + 3] = cpu_to_fdt32(b);
	}
	return fdt_property(fdt, "interrupts-extended", cells, (int)(16 * m->nharts));
}

static int build_soc(void *fdt, const struct machine *m)
{
	int err = 0;
	static const char test_compat[] = "sifive,test1\0sifive,test0\0syscon";
	static const char clint_compat[] = "sifive,clint0\0riscv,clint0";
	static const char plic_compat[] = "sifive,plic-1.0.0\0riscv,plic0";

	err |= fdt_begin_node(fdt, "soc");
	err |= fdt_property_u32(fdt, "#address-cells", 2);
	err |= fdt_property_u32(fdt, "#size-cells", 2);
	err |= fdt_property_string(fdt, "compatible", "simple-bus");
	err |= fdt_property(fdt, "ranges", NULL, 0);

	err |= fdt_begin_node(fdt, "test@100000");
	err |= fdt_property_u32(fdt, "phandle", PHANDLE_TEST);
	err |= prop_reg(fdt, VIRT_TEST_BASE, 0x1000);
	err |= fdt_property(fdt, "compatible", test_compat, sizeof(test_compat));
	err |= fdt_end_node(fdt);

	err |= fdt_begin_node(fdt, "rtc@101000");
	err |= fdt_property_u32(fdt, "interrupts", VIRT_RTC_IRQ);
	err |= fdt_property_u32(fdt, "interrupt-parent", PHANDLE_PLIC);
	err |= prop_reg(fdt, VIRT_RTC_BASE, 0x1000);
	err |= fdt_property_string(fdt, "compatible", "google,goldfish-rtc");
	err |= fdt_end_node(fdt);

	err |= fdt_begin_node(fdt, "vmgenid@102000");
	err |= fdt_property_u32(fdt, "interrupts", VIRT_VMGENID_IRQ);
	err |= fdt_property_u32(fdt, "interrupt-parent", PHANDLE_PLIC);
	err |= prop_reg(fdt, VIRT_VMGENID_BASE, 16);
	err |= fdt_property_string(fdt, "compatible", "microsoft,vmgenid");
	err |= fdt_end_node(fdt);

	err |= fdt_begin_node(fdt, "serial@10000000");
	err |= fdt_property_u32(fdt, "interrupts", VIRT_UART_IRQ);
	err |= fdt_property_u32(fdt, "interrupt-parent", PHANDLE_PLIC);
	err |= fdt_property_u32(fdt, "clock-frequency", 3686400);
	err |= prop_reg(fdt, VIRT_UART_BASE, 0x100);
	err |= fdt_property_string(fdt, "compatible", "ns16550a");
	err |= fdt_end_node(fdt);

	err |= fdt_begin_node(fdt, "plic@c000000");
	err |= fdt_property_u32(fdt, "phandle", PHANDLE_PLIC);
	err |= fdt_property_u32(fdt, "riscv,ndev", PLIC_NUM_SOURCES - 1);
	err |= prop_reg(fdt, VIRT_PLIC_BASE, VIRT_PLIC_SIZE);
	err |= prop_irqs_extended(fdt, m, RV_IRQ_MEI, RV_IRQ_SEI);
	err |= fdt_property(fdt, "interrupt-controller", NULL, 0);
	err |= fdt_property(fdt, "compatible", plic_compat, sizeof(plic_compat));
	err |= fdt_property_u32(fdt, "#address-cells", 0);
	err |= fdt_property_u32(fdt, "#interrupt-cells", 1);
	err |= fdt_end_node(fdt);

	for (unsigned i = m->nvirtio; i-- > 0;) { /* Linux numbers them in reverse node order */
		char name[40];
		snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)machine_virtio_base(i));
		err |= fdt_begin_node(fdt, name);
		err |= fdt_property_u32(fdt, "interrupts", m->virtio[i].irq);
		err |= fdt_property_u32(fdt, "interrupt-parent", PHANDLE_PLIC);
		err |= prop_reg(fdt, machine_virtio_base(i), 0x1000);
		err |= fdt_property_string(fdt, "compatible", "virtio,mmio");
		err |= fdt_end_node(fdt);
	}

	if (m->clint) {
		err |= fdt_begin_node(fdt, "clint@2000000");
		err |= prop_irqs_extended(fdt, m, RV_IRQ_MSI, RV_IRQ_MTI);
		err |= prop_reg(fdt, VIRT_CLINT_BASE, VIRT_CLINT_SIZE);
		err |= fdt_property(fdt, "compatible", clint_compat, sizeof(clint_compat));
		err |= fdt_end_node(fdt);
	}

	err |= fdt_end_node(fdt);
	return err;
}

int fdt_build(const struct machine *m, const struct fdt_params *p, void *buf, size_t len, char *errmsg,
              size_t errlen)
{
	void *fdt = buf;
	int err = fdt_create(fdt, (int)len);
	err |= fdt_finish_reservemap(fdt);
	err |= fdt_begin_node(fdt, "");
	err |= fdt_property_u32(fdt, "#address-cells", 2);
	err |= fdt_property_u32(fdt, "#size-cells", 2);
	err |= fdt_property_string(fdt, "compatible", "riscv-virtio");
	err |= fdt_property_string(fdt, "model", "riscv-virtio,qemu");

	err |= fdt_begin_node(fdt, "chosen");
	if (p->bootargs) err |= fdt_property_string(fdt, "bootargs", p->bootargs);
	err |= fdt_property_string(fdt, "stdout-path", "/soc/serial@10000000");
	if (p->initrd_start) {
		err |= fdt_property_u64(fdt, "linux,initrd-start", p->initrd_start);
		err |= fdt_property_u64(fdt, "linux,initrd-end", p->initrd_end);
	}
	uint8_t seed[32];
	if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		err |= fdt_property(fdt, "rng-seed", seed, sizeof(seed));
	err |= fdt_end_node(fdt);

	err |= fdt_begin_node(fdt, "memory@80000000");
	err |= fdt_property_string(fdt, "device_type", "memory");
	err |= prop_reg(fdt, VIRT_RAM_BASE, m->ram_size);
	err |= fdt_end_node(fdt);

	err |= build_cpus(fdt, m);
	err |= build_soc(fdt, m);

	err |= fdt_begin_node(fdt, "poweroff");
	err |= fdt_property_u32(fdt, "value", 0x5555);
	err |= fdt_property_u32(fdt, "offset", 0);
	err |= fdt_property_u32(fdt, "regmap", PHANDLE_TEST);
	err |= fdt_property_string(fdt, "compatible", "syscon-poweroff");
	err |= fdt_end_node(fdt);
	err |= fdt_begin_node(fdt, "reboot");
	err |= fdt_property_u32(fdt, "value", 0x7777);
	err |= fdt_property_u32(fdt, "offset", 0);
	err |= fdt_property_u32(fdt, "regmap", PHANDLE_TEST);
	err |= fdt_property_string(fdt, "compatible", "syscon-reboot");
	err |= fdt_end_node(fdt);

	err |= fdt_end_node(fdt);
	err |= fdt_finish(fdt);
	/* Leave the whole buffer as free space: OpenSBI adds nodes in place. */
	if (!err) err = fdt_open_into(fdt, fdt, (int)len);
	if (err) {
		snprintf(errmsg, errlen, "cannot build the device tree (%s)",
		         fdt_strerror(err < 0 ? err : -FDT_ERR_INTERNAL));
		return -1;
	}
	return 0;
}
