/*
 * test_container.c — the container engine's logic without namespaces: which
 * hierarchy serves each cgroup resource on hybrid, v1 and v2 hosts (from
 * fake /proc texts), the files and values limits write on a fake v1 and v2
 * tree, the weight conversions, --net parsing, and the definition's JSON
 * round trip with its strict refusals.
 */
#include "check.h"
#include "container/cgroup.h"
#include "container/ct_spec.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char hybrid_mountinfo[] =
    "30 1 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "34 30 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "35 30 0:31 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
static const char hybrid_self[] = "5:freezer:/\n4:pids:/user.slice\n3:memory:/user.slice/s1\n"
                                  "2:cpu,cpuacct:/user.slice\n0::/user.slice/s1\n";

static void test_hybrid_host(void)
{
	struct cg_host h;
	cg_host_parse(&h, hybrid_mountinfo, hybrid_self, "");
	CHECK(!strcmp(h.dir[CG_CPU], "/sys/fs/cgroup/cpu,cpuacct/user.slice"));
	CHECK(!strcmp(h.dir[CG_CPUACCT], h.dir[CG_CPU]));
	CHECK(!strcmp(h.dir[CG_MEMORY], "/sys/fs/cgroup/memory/user.slice/s1"));
	CHECK(!strcmp(h.dir[CG_FREEZER], "/sys/fs/cgroup/freezer"));
	CHECK(!h.v2[CG_CPU] && !h.v2[CG_MEMORY] && !h.v2[CG_FREEZER]);
	/* No v1 blkio and the v2 hierarchy offers no io controller: unavailable, and named so. */
	CHECK(h.dir[CG_IO][0] == 0);
	char err[256];
	struct cg_limits l = {.io_weight = 100};
	CHECK(!cg_limits_supported(&h, &l, err, sizeof(err)));
	CHECK(strstr(err, "io/blkio") != NULL);
	l = (struct cg_limits){.memory = 1 << 30, .pids = 10, .cpu_max_pct = 50};
	CHECK(cg_limits_supported(&h, &l, err, sizeof(err)));
}

static void test_v2_host(void)
{
	static const char mi[] = "40 1 0:40 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
	struct cg_host h;
	cg_host_parse(&h, mi, "0::/user.slice/user-1000.slice/session-2.scope\n", "cpu memory pids");
	const char *own = "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope";
	for (int r = 0; r < CG_NRES; r++) {
		if (r == CG_IO) continue;
		CHECK(!strcmp(h.dir[r], own));
		CHECK(h.v2[r]);
	}
	CHECK(h.dir[CG_IO][0] == 0); /* "io" not delegated */
	/* Inside a cgroup namespace the mount root is not "/": paths are relative to it. */
	static const char mi_ns[] = "50 1 0:40 /lxc/c1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	cg_host_parse(&h, mi_ns, "0::/lxc/c1/app\n", "memory");
	CHECK(!strcmp(h.dir[CG_MEMORY], "/sys/fs/cgroup/app"));
}

static char *slurp(const char *dir, const char *file)
{
	static char buf[256];
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f) return strcpy(buf, "<missing>");
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void touch(const char *dir, const char *file)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	if (f) fclose(f);
}

/* Limits on fake trees: plain directories with the control files pre-created. */
static void test_limits_written(void)
{
	char base[] = "/tmp/cloison-cgtest-XXXXXX";
	CHECK(mkdtemp(base) != NULL);
	struct cg_group g;
	memset(&g, 0, sizeof(g));
	for (int r = 0; r < CG_NRES; r++) snprintf(g.dir[r], sizeof(g.dir[r]), "%s", base);
	static const char *const v1_files[] = {"cpu.shares",       "cpu.cfs_period_us",
	                                       "cpu.cfs_quota_us", "memory.limit_in_bytes",
	                                       "pids.max",         "blkio.weight"};
	for (size_t i = 0; i < sizeof(v1_files) / sizeof(v1_files[0]); i++) touch(base, v1_files[i]);
	struct cg_limits l = {
	    .cpu_weight = 300, .cpu_max_pct = 20, .memory = 64 << 20, .pids = 50, .io_weight = 100};
	char err[256];
	CHECK(cg_set_limits(&g, &l, err, sizeof(err)));
	CHECK(!strcmp(slurp(base, "cpu.shares"), "3072"));
	CHECK(!strcmp(slurp(base, "cpu.cfs_period_us"), "100000"));
	CHECK(!strcmp(slurp(base, "cpu.cfs_quota_us"), "20000"));
	CHECK(!strcmp(slurp(base, "memory.limit_in_bytes"), "67108864"));
	CHECK(!strcmp(slurp(base, "pids.max"), "50"));
	CHECK(!strcmp(slurp(base, "blkio.weight"), "19")); /* 1..10000 mapped linearly onto 10..1000 */
	/* The same limits on v2 files. */
	for (int r = 0; r < CG_NRES; r++) g.v2[r] = true;
	static const char *const v2_files[] = {"cpu.weight", "cpu.max", "memory.max", "io.weight"};
	for (size_t i = 0; i < sizeof(v2_files) / sizeof(v2_files[0]); i++) touch(base, v2_files[i]);
	CHECK(cg_set_limits(&g, &l, err, sizeof(err)));
	CHECK(!strcmp(slurp(base, "cpu.weight"), "300"));
	CHECK(!strcmp(slurp(base, "cpu.max"), "20000 100000"));
	CHECK(!strcmp(slurp(base, "memory.max"), "67108864"));
	CHECK(!strcmp(slurp(base, "io.weight"), "default 100"));
	/* A missing control file is an error that names it. */
	char path[600];
	snprintf(path, sizeof(path), "%s/memory.max", base);
	unlink(path);
	CHECK(!cg_set_limits(&g, &l, err, sizeof(err)));
	CHECK(strstr(err, "memory.max") != NULL);
	/* Accounting read back from v1 files. */
	for (int r = 0; r < CG_NRES; r++) g.v2[r] = false;
	FILE *f;
	snprintf(path, sizeof(path), "%s/cpuacct.usage", base);
	if ((f = fopen(path, "w"))) fputs("1500000000\n", f), fclose(f);
	snprintf(path, sizeof(path), "%s/memory.usage_in_bytes", base);
	if ((f = fopen(path, "w"))) fputs("4096\n", f), fclose(f);
	snprintf(path, sizeof(path), "%s/memory.oom_control", base);
	if ((f = fopen(path, "w"))) fputs("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", f), fclose(f);
	snprintf(path, sizeof(path), "%s/pids.current", base);
	if ((f = fopen(path, "w"))) fputs("7\n", f), fclose(f);
	struct cg_stats s;
	CHECK(cg_read_stats(&g, &s));
	CHECK_EQ(s.cpu_usage_ns, 1500000000);
	CHECK_EQ(s.memory_bytes, 4096);
	CHECK_EQ(s.oom_kills, 3);
	CHECK_EQ(s.pids, 7);
	CHECK_EQ(s.pids_limit, 50);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	CHECK(system(cmd) == 0);
}

static void test_conversions(void)
{
	CHECK_EQ(cg_weight_to_shares(100), 1024);
	CHECK_EQ(cg_weight_to_shares(1), 10);
	CHECK_EQ(cg_weight_to_shares(10000), 102400);
	CHECK_EQ(cg_weight_to_blkio(1), 10);
	CHECK_EQ(cg_weight_to_blkio(10000), 1000);
}

static void test_net_parse(void)
{
	struct ct_net n;
	char err[256];
	CHECK(ct_net_parse("none", &n, err, sizeof(err)) && n.mode == CT_NET_NONE);
	CHECK(ct_net_parse("host", &n, err, sizeof(err)) && n.mode == CT_NET_HOST);
	CHECK(ct_net_parse("veth,bridge=br0,ip=10.0.0.2/16,gw=10.0.0.1", &n, err, sizeof(err)));
	CHECK(n.mode == CT_NET_VETH && !strcmp(n.bridge, "br0") && n.prefix == 16);
	CHECK_EQ(n.addr.s_addr, htonl(0x0a000002));
	CHECK(ct_net_parse("veth,host-ip=10.1.0.1/30", &n, err, sizeof(err)) && n.prefix == 30);
	static const char *const bad[] = {"wifi",
	                                  "host,ip=1.2.3.4",
	                                  "veth,ip=300.1.1.1",
	                                  "veth,ip=1.2.3.4/33",
	                                  "veth,gw=1.2.3.4",
	                                  "veth,bridge=a,network=b",
	                                  "veth,color=blue",
	                                  "veth,bridge=br0,host-ip=1.1.1.1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!ct_net_parse(bad[i], &n, err, sizeof(err)));
}

static void test_spec_json(void)
{
	struct ct_spec s, t;
	char err[256];
	ct_spec_defaults(&s);
	strcpy(s.name, "web-1");
	strcpy(s.rootfs, "/srv/rootfs");
	s.overlay = true;
	s.limits = (struct cg_limits){.cpu_weight = 200, .cpu_max_pct = 150, .memory = 1 << 30, .pids = 64};
	char a0[] = "/bin/sh", a1[] = "-c", a2[] = "echo hi";
	s.argv[0] = a0, s.argv[1] = a1, s.argv[2] = a2, s.argc = 3;
	CHECK(ct_net_parse("veth,bridge=br0,ip=10.0.0.2/24", &s.net, err, sizeof(err)));
	json_t *j = ct_spec_to_json(&s);
	CHECK(j && ct_spec_from_json(j, &t, err, sizeof(err)));
	CHECK(!strcmp(t.name, "web-1") && t.overlay && t.argc == 3 && !strcmp(t.argv[2], "echo hi"));
	CHECK(t.limits.memory == 1u << 30 && t.limits.cpu_max_pct == 150 &&
	      t.net.addr.s_addr == s.net.addr.s_addr);
	CHECK_EQ(t.caps, s.caps);
	ct_spec_free(&t);
	/* Unknown keys, wrong types, path-like names and out-of-range numbers are refused. */
	json_object_set_new(j, "extra", json_true());
	CHECK(!ct_spec_from_json(j, &t, err, sizeof(err)));
	json_object_del(j, "extra");
	json_object_set_new(j, "name", json_string("../etc"));
	CHECK(!ct_spec_from_json(j, &t, err, sizeof(err)));
	json_object_set_new(j, "name", json_integer(3));
	CHECK(!ct_spec_from_json(j, &t, err, sizeof(err)));
	json_object_set_new(j, "name", json_string("ok"));
	json_object_set_new(json_object_get(j, "limits"), "cpu_weight", json_integer(-5));
	CHECK(!ct_spec_from_json(j, &t, err, sizeof(err)));
	json_decref(j);
	CHECK(ct_name_valid("a") && ct_name_valid("web-1.prod_2"));
	CHECK(!ct_name_valid("") && !ct_name_valid("-x") && !ct_name_valid("a/b") && !ct_name_valid(".."));
}

TEST_MAIN(test_hybrid_host, test_v2_host, test_limits_written, test_conversions, test_net_parse,
          test_spec_json)
