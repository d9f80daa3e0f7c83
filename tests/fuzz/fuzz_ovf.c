/*
 * fuzz_ovf.c — libFuzzer harness for the parsers of appliances other hosts
 * and products make (daemon/ovf.c, daemon/image_archive.c): the input is an
 * OVF descriptor and, read the other way, an image manifest (a VM's or a
 * container's). Whatever they say, a disk reference is a plain file name,
 * the sizes stay in range, a container's environment is KEY=VALUE.
 */
#include "daemon/image_archive.h"
#include "daemon/ovf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ovf_appliance a;
	char err[512];
	if (ovf_parse((const char *)data, size, &a, err, sizeof(err))) {
		if (!a.disk[0] || strchr(a.disk, '/') || !strcmp(a.disk, "..")) abort();
		if (a.cpus > 8 || a.memory > (1ull << 40)) abort();
	}
	struct image_manifest m;
	if (image_manifest_parse((const char *)data, size, &m, err, sizeof(err))) {
		if (m.cpus > 8 || m.memory > (1ull << 40) ||
		    strcmp(m.architecture, m.container ? image_host_architecture() : "riscv64"))
			abort();
		if (m.ct_argc > IMAGE_CT_ARGS || m.ct_nenv > IMAGE_CT_ENV ||
		    (m.container && (m.kernel || m.initrd)))
			abort();
		for (int i = 0; i < m.ct_nenv; i++)
			if (!strchr(m.ct_env[i], '=')) abort();
		json_decref(image_manifest_json(&m));
	}
	return 0;
}
