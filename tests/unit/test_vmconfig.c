/*
 * test_vmconfig.c — the one VM configuration: --disk specs in and out,
 * defaults of a hand-written file, JSON round trips, and refusals of
 * malformed or out-of-range documents.
 */
#include "check.h"

#include "vm/vmconfig.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_disk_specs(void)
{
	struct vm_config c;
	char err[512], spec[PATH_MAX + 128];
	vm_config_defaults(&c);
	CHECK(vm_config_add_disk(&c, "/a.img", err, sizeof(err)));
	CHECK(vm_config_add_disk(
	    &c, "/b.qcow2,format=qcow2,readonly=on,backing=off,cache=unsafe,bps=10M,iops=500", err,
	    sizeof(err)));
	CHECK_EQ(c.ndisks, 2);
	CHECK(!strcmp(c.disks[0].path, "/a.img") && !c.disks[0].format[0] && !c.disks[0].readonly);
	const struct vm_disk *b = &c.disks[1];
	CHECK(!strcmp(b->path, "/b.qcow2") && !strcmp(b->format, "qcow2"));
	CHECK(b->readonly && b->no_backing && b->unsafe_cache);
	CHECK_EQ(b->bps, 10ULL << 20);
	CHECK_EQ(b->iops, 500);
	/* The written spec reads back to the same disk; defaults are left out. */
	vm_disk_spec(&c.disks[0], spec, sizeof(spec));
	CHECK(!strcmp(spec, "/a.img"));
	vm_disk_spec(b, spec, sizeof(spec));
	struct vm_config again;
	vm_config_defaults(&again);
	CHECK(vm_config_add_disk(&again, spec, err, sizeof(err)));
	CHECK(!memcmp(&again.disks[0], b, sizeof(*b)));
	/* Later options win, as on a command line. */
	CHECK(vm_config_add_disk(&again, "/c,readonly=on,readonly=off", err, sizeof(err)));
	CHECK(!again.disks[1].readonly);

	static const struct {
		const char *spec, *expect;
	} bad[] = {
	    {"", "needs a path"},
	    {",readonly=on", "needs a path"},
	    {"/x,ro", "unknown --disk option 'ro'"},
	    {"/x,format=vmdk", "'vmdk' is not supported"},
	    {"/x,bps=banana", "bps=banana"},
	    {"/x,iops=-1", "iops=-1"},
	    {"/x,readonly=onreadonly=onreadonly=onreadonly=onreadonly=onreadonly=on",
	     "unknown --disk option"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_config t;
		vm_config_defaults(&t);
		err[0] = 0;
		bool ok = vm_config_add_disk(&t, bad[i].spec, err, sizeof(err));
		CHECK(!ok && t.ndisks == 0);
		if (ok || !strstr(err, bad[i].expect))
			fprintf(stderr, "  disk '%s': got '%s', expected '%s'\n", bad[i].spec, err,
			        bad[i].expect);
		CHECK(strstr(err, bad[i].expect) != NULL);
	}
	/* No more than the board has. */
	struct vm_config full;
	vm_config_defaults(&full);
	for (int i = 0; i < MACHINE_MAX_DISKS; i++) CHECK(vm_config_add_disk(&full, "/d", err, sizeof(err)));
	CHECK(!vm_config_add_disk(&full, "/d", err, sizeof(err)));
	CHECK(strstr(err, "at most") != NULL);
}

static void test_hand_written_file(void)
{
	struct vm_config c;
	char err[512];
	const char *text =
	    "{\"memory\": \"512M\", \"cpus\": 2, \"boot\": {\"kernel\": \"/k\"},"
	    " \"disks\": [\"/r.qcow2,readonly=on\"], \"nics\": [\"user,hostfwd=tcp::2222-:22\"]}";
	bool ok = vm_config_from_json(text, strlen(text), &c, err, sizeof(err));
	CHECK(ok);
	if (!ok) fprintf(stderr, "  %s\n", err);
	CHECK_EQ(c.mem, 512ULL << 20);
	CHECK_EQ(c.cpus, 2);
	CHECK(!strcmp(c.kernel, "/k"));
	/* What the file leaves out keeps the defaults of `cloison run`. */
	CHECK(!strcmp(c.firmware, VM_DEFAULT_FIRMWARE));
	CHECK(!strcmp(c.append, VM_DEFAULT_APPEND));
	CHECK(c.jit && c.rng && c.vconsole && !c.input_hvc0);
	CHECK_EQ(c.ndisks, 1);
	CHECK(c.disks[0].readonly);
	CHECK_EQ(c.nnics, 1);
	CHECK(!strcmp(c.nics[0].spec, "user,hostfwd=tcp::2222-:22") && !c.nics[0].mac_set);

	/* Through a file, as `cloison run --config` reads it. */
	char path[] = "/tmp/cloison-vmconfig-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	struct vm_config f;
	CHECK(vm_config_load_file(path, &f, err, sizeof(err)));
	CHECK(!memcmp(&f, &c, sizeof(c)));
	unlink(path);
	CHECK(!vm_config_load_file(path, &f, err, sizeof(err)));
	CHECK(strstr(err, path) != NULL);
}

static void test_round_trip(void)
{
	struct vm_config c, back;
	char err[512];
	vm_config_defaults(&c);
	strcpy(c.kernel, "/boot/Image");
	strcpy(c.initrd, "/boot/initrd.gz");
	c.firmware[0] = 0; /* bare metal */
	c.mem = 64ULL << 20;
	c.cpus = 3;
	c.jit = false;
	c.input_hvc0 = true;
	strcpy(c.cpu_ext, "-zbb,-sstc");
	CHECK(vm_config_add_disk(&c, "/a.raw,format=raw,iops=7", err, sizeof(err)));
	CHECK(vm_config_add_nic(&c, "segment=lan,mtu=9000", err, sizeof(err)));
	c.nics[0].mac_set = true;
	memcpy(c.nics[0].mac, (uint8_t[]){0x52, 0x54, 0, 1, 2, 3}, 6);
	char *json = vm_config_to_json(&c);
	CHECK(json != NULL);
	CHECK(vm_config_from_json(json, strlen(json), &back, err, sizeof(err)));
	CHECK(!memcmp(&back, &c, sizeof(c)));
	CHECK(strstr(json, "\"accel\":\"emulator\"") != NULL);
	/* The machine it describes runs on the emulator. */
	struct machine_config mc;
	CHECK(vm_config_to_machine(&back, &mc, err, sizeof(err)));
	CHECK(mc.accel == &accel_emulator);
	char *json2 = vm_config_to_json(&back);
	CHECK(json2 && !strcmp(json, json2));
	free(json);
	free(json2);
}

static void test_refusals(void)
{
	static const struct {
		const char *text, *expect;
	} bad[] =
	{ {"", "not valid JSON"},
	  {"[]", "VM configuration"},
	  {"{\"version\": 2}", "version 2 is not supported"},
	  {"{\"colour\": \"red\"}", "VM configuration"},
	  {"{\"memory\": 4097}", "multiple of 4 KiB"},
	  {"{\"memory\": \"8M\"}", "at least"},
	  {"{\"memory\": \"lots\"}", "memory is bytes or a size"},
	  {"{\"memory\": -4096}", "memory is bytes or a size"},
	  {"{\"cpus\": 0}", "out of range"},
	  {"{\"cpus\": 99}", "cpus must be"},
	  {"{\"virtio_console\": false, \"console_input_hvc0\": true}", "virtio console"},
	  {"{\"disks\": [\"/x,ro\"]}", "disk 0: unknown --disk option"},
	  {"{\"disks\": [{\"path\": \"\"}]}", "disk 0 is malformed"},
	  {"{\"disks\": [{\"path\": \"/x\", \"format\": \"vmdk\"}]}", "disk 0 is malformed"},
	  {"{\"disks\": [{\"path\": \"/x\", \"bps\": -1}]}", "disk 0 is malformed"},
	  {"{\"disks\": [\"/1\",\"/2\",\"/3\",\"/4\",\"/5\",\"/6\",\"/7\"]}", "out of range"},
	  {"{\"nics\": [{\"spec\": \"user\", \"mac\": \"01:00:00:00:00:00\"}]}", "interface 0 is malformed"},
	  {"{\"nics\": [{\"spec\": \"user\", \"mac\": \"52:54:00:00:00:001\"}]}", "interface 0 is malformed"},
	  {"{\"nics\": [\"\"]}", "interface 0 is malformed"},
	  {"{\"nics\": [7]}", "interface 0 is malformed"},
	  {"{\"boot\": {\"kernel\": 7}}", "VM configuration"},
	  {"{\"cpu_ext\": \"-zbq\"}", "unknown ISA extension 'zbq'"},
	  {"{\"cpu_ext\": \"-zicsr\"}", "cannot be switched off"},
	  {"{\"cpu_ext\": 1}", "VM configuration"},
	  {"{\"accel\": \"xen\"}", "accel must be emulator or kvm"},
	  {"{\"accel\": 3}", "VM configuration"},
#if !(defined(__riscv) && __riscv_xlen == 64)
	  {"{\"accel\": \"kvm\"}", "riscv64 Linux hosts only"}, /* this host cannot run KVM RISC-V guests */
#endif
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_config c;
		char err[512] = "";
		bool ok = vm_config_from_json(bad[i].text, strlen(bad[i].text), &c, err, sizeof(err));
		CHECK(!ok);
		if (ok || !strstr(err, bad[i].expect))
			fprintf(stderr, "  '%s': got '%s', expected '%s'\n", bad[i].text, err, bad[i].expect);
		CHECK(strstr(err, bad[i].expect) != NULL);
	}
}

static void test_default_guest(void)
{
	struct vm_config c;
	char err[512], dir[] = "/tmp/cloison-guest-XXXXXX", path[600];
	CHECK(mkdtemp(dir) != NULL);
	setenv("CLOISON_CACHE", dir, 1);
	vm_config_defaults(&c);
	CHECK(!vm_config_resolve_guest(&c, err, sizeof(err)));
	CHECK(strstr(err, "make guest") != NULL);
	snprintf(path, sizeof(path), "%s/guest", dir);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/guest/Image", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) fclose(f);
	vm_config_defaults(&c);
	CHECK(vm_config_resolve_guest(&c, err, sizeof(err)));
	CHECK(!strcmp(c.kernel, path));
	CHECK(strstr(c.initrd, "/guest/initrd.gz") != NULL);
	/* A kernel given stays, and so does an initrd given with the default kernel. */
	vm_config_defaults(&c);
	strcpy(c.initrd, "/mine.gz");
	CHECK(vm_config_resolve_guest(&c, err, sizeof(err)));
	CHECK(!strcmp(c.initrd, "/mine.gz"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/guest", dir);
	rmdir(path);
	rmdir(dir);
	unsetenv("CLOISON_CACHE");
}

TEST_MAIN(test_disk_specs, test_hand_written_file, test_round_trip, test_refusals, test_default_guest)
