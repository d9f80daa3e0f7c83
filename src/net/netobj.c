/*
 * netobj.c — see netobj.h. Files are written to a temporary name, synced
 * and renamed, so a crash leaves either the old definition or the new one.
 */
#include "netobj.h"

#include "net/hostif.h"
#include "util/fs.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const type_names[] = {"nat", "internal", "host-only", "bridge"};

const char *netobj_type_name(enum netobj_type t)
{
	return type_names[t];
}

bool netobj_type_parse(const char *s, enum netobj_type *t)
{
	for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (!strcmp(s, type_names[i])) {
			*t = (enum netobj_type)i;
			return true;
		}
	return false;
}

static bool networks_dir(char *buf, size_t len, bool create, char *err, size_t errlen)
{
	int n = snprintf(buf, len, "%s/networks", cloison_state_dir());
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "state directory path too long");
		return false;
	}
	if (!create) return true;
	if (!mkdir_p(buf, 0755)) {
		snprintf(err, errlen, "cannot create %.300s: %s", buf, strerror(errno));
		return false;
	}
	return true;
}

static bool object_path(const char *name, char *buf, size_t len, bool create, char *err, size_t errlen)
{
	if (!net_name_valid(name)) {
		snprintf(err, errlen, "'%s' is not a valid network name (1 to 64 of A-Z a-z 0-9 _ . -)",
		         name);
		return false;
	}
	char dir[PATH_MAX - 80];
	if (!networks_dir(dir, sizeof(dir), create, err, errlen)) return false;
	snprintf(buf, len, "%s/%s.json", dir, name);
	return true;
}

void netobj_defaults(struct netobj *o, const char *name, enum netobj_type type)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->type = type;
	o->dhcp = type == NETOBJ_NAT;
	const char *net = type == NETOBJ_HOST_ONLY ? "192.168.100.0" : "10.0.2.0";
	inet_pton(AF_INET, net, &o->network);
	inet_pton(AF_INET, "255.255.255.0", &o->netmask);
	if (type == NETOBJ_HOST_ONLY) { /* a bridge name the kernel accepts: at most 15 characters */
		unsigned h = 5381;
		for (const char *p = name; *p; p++) h = h * 33 + (unsigned char)*p;
		snprintf(o->bridge, sizeof(o->bridge), "clbr%08x", h);
	}
}

static char *cidr(struct in_addr net, struct in_addr mask, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &net, a, sizeof(a));
	snprintf(buf, len, "%s/%d", a, __builtin_popcount(mask.s_addr));
	return buf;
}

char *netobj_to_json(const struct netobj *o)
{
	char c[40];
	json_t *j = json_object();
	json_object_set_new(j, "name", json_string(o->name));
	json_object_set_new(j, "type", json_string(netobj_type_name(o->type)));
	if (o->type == NETOBJ_NAT || o->type == NETOBJ_HOST_ONLY)
		json_object_set_new(j, "subnet", json_string(cidr(o->network, o->netmask, c, sizeof(c))));
	if (o->type == NETOBJ_NAT) json_object_set_new(j, "dhcp", json_boolean(o->dhcp));
	if (o->bridge[0]) json_object_set_new(j, "bridge", json_string(o->bridge));
	if (o->nhostfwd) {
		json_t *a = json_array();
		for (unsigned i = 0; i < o->nhostfwd; i++)
			json_array_append_new(a, json_string(o->hostfwd[i]));
		json_object_set_new(j, "hostfwd", a);
	}
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

static bool from_json(json_t *j, struct netobj *o, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(j, "name")),
	           *type = json_string_value(json_object_get(j, "type"));
	enum netobj_type t;
	if (!name || !type || !net_name_valid(name) || !netobj_type_parse(type, &t)) {
		snprintf(err, errlen, "missing or invalid name/type");
		return false;
	}
	netobj_defaults(o, name, t);
	const char *subnet = json_string_value(json_object_get(j, "subnet"));
	if (subnet && !net_parse_cidr(subnet, &o->network, &o->netmask)) {
		snprintf(err, errlen, "invalid subnet '%s'", subnet);
		return false;
	}
	json_t *dhcp = json_object_get(j, "dhcp");
	if (dhcp) o->dhcp = json_is_true(dhcp);
	const char *bridge = json_string_value(json_object_get(j, "bridge"));
	if (bridge) {
		if (strlen(bridge) >= sizeof(o->bridge) || !*bridge || strchr(bridge, '/')) {
			snprintf(err, errlen, "invalid bridge name");
			return false;
		}
		strcpy(o->bridge, bridge);
	}
	json_t *fwd = json_object_get(j, "hostfwd");
	size_t i;
	json_t *v;
	json_array_foreach(fwd, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || o->nhostfwd == NET_MAX_HOSTFWD || strlen(s) >= sizeof(o->hostfwd[0])) {
			snprintf(err, errlen, "invalid hostfwd list");
			return false;
		}
		strcpy(o->hostfwd[o->nhostfwd++], s);
	}
	return true;
}

bool netobj_load(const char *name, struct netobj *o, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (!object_path(name, path, sizeof(path), false, err, errlen)) return false;
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j) {
		if (access(path, F_OK))
			snprintf(err, errlen, "no network named '%s' (see cloison net list)", name);
		else
			snprintf(err, errlen, "%s: %s (line %d)", path, je.text, je.line);
		return false;
	}
	char why[256];
	bool ok = from_json(j, o, why, sizeof(why));
	json_decref(j);
	if (!ok) snprintf(err, errlen, "%s: %s", path, why);
	return ok;
}

#define FAIL(...)                                                                                            \
	do {                                                                                                 \
		snprintf(err, errlen, __VA_ARGS__);                                                          \
		return false;                                                                                \
	} while (0)

bool netobj_build(const struct netobj_params *p, struct netobj *o, char *err, size_t errlen)
{
	enum netobj_type t;
	if (!p->type || !netobj_type_parse(p->type, &t))
		FAIL("the type is nat, internal, host-only or bridge");
	if (!p->name || !net_name_valid(p->name))
		FAIL("'%.80s' is not a valid network name (1 to 64 of A-Z a-z 0-9 _ . -)",
		     p->name ? p->name : "");
	netobj_defaults(o, p->name, t);
	if (p->subnet) {
		if (t != NETOBJ_NAT && t != NETOBJ_HOST_ONLY)
			FAIL("a subnet applies to nat and host-only networks");
		if (!net_parse_cidr(p->subnet, &o->network, &o->netmask))
			FAIL("subnet %.40s: expected A.B.C.D/N with N from 8 to 30 and no host bits",
			     p->subnet);
	}
	if (p->dhcp) {
		if (t != NETOBJ_NAT)
			FAIL("dhcp applies to nat networks (on internal networks, run a DHCP server such as "
			     "busybox "
			     "udhcpd in one of the VMs)");
		if (strcmp(p->dhcp, "on") && strcmp(p->dhcp, "off")) FAIL("dhcp is on or off");
		o->dhcp = !strcmp(p->dhcp, "on");
	}
	if ((t == NETOBJ_BRIDGE) != (p->bridge != NULL))
		FAIL(t == NETOBJ_BRIDGE ? "a bridge network needs a bridge (an existing host bridge)"
		                        : "a bridge applies to bridge networks");
	if (p->bridge) {
		if (strlen(p->bridge) > 15 || !*p->bridge || strchr(p->bridge, '/'))
			FAIL("bridge %.40s: not an interface name", p->bridge);
		strcpy(o->bridge, p->bridge);
	}
	if (p->nhostfwd && t != NETOBJ_NAT) FAIL("port forwards (hostfwd) apply to nat networks");
	if (p->nhostfwd > NET_MAX_HOSTFWD) FAIL("at most %d port forwards", NET_MAX_HOSTFWD);
	struct net_config probe;
	net_config_defaults(&probe, NET_USER);
	for (unsigned i = 0; i < p->nhostfwd; i++) {
		char opt[96], msg[256];
		snprintf(opt, sizeof(opt), "hostfwd=%.80s", p->hostfwd[i]);
		if (strlen(p->hostfwd[i]) >= sizeof(o->hostfwd[0]) ||
		    !net_config_parse_options(opt, &probe, msg, sizeof(msg)))
			FAIL("hostfwd %.60s: %s", p->hostfwd[i],
			     strlen(p->hostfwd[i]) >= sizeof(o->hostfwd[0]) ? "too long" : msg);
		strcpy(o->hostfwd[o->nhostfwd++], p->hostfwd[i]);
	}
	return true;
}

bool netobj_create(const struct netobj *o, struct error *e)
{
	char path[PATH_MAX], *err = e->msg;
	size_t errlen = sizeof(e->msg);
	e->code = ERR_INTERNAL;
	if (!object_path(o->name, path, sizeof(path), true, err, errlen)) return false;
	if (!access(path, F_OK))
		return err_set(e, ERR_EXISTS, "a network named '%s' exists already", o->name);
	if (o->type == NETOBJ_BRIDGE && !hostif_exists(o->bridge))
		return err_set(e, ERR_INVALID,
		               "bridge '%s' does not exist on this host (create it first, e.g. "
		               "ip link add %s type bridge)",
		               o->bridge, o->bridge);
	if (o->type == NETOBJ_HOST_ONLY) {
		struct in_addr host = {htonl(ntohl(o->network.s_addr) + 1)};
		if (!hostif_bridge_ensure(o->bridge, host, o->netmask, err, errlen)) return false;
	}
	char *text = netobj_to_json(o); /* one line, ended by a newline in the file */
	size_t n = text ? strlen(text) : 0;
	char *line = text ? malloc(n + 1) : NULL;
	if (!line) {
		free(text);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	memcpy(line, text, n);
	line[n] = '\n';
	bool ok = fs_write_file_atomic(path, 0644, line, n + 1, err, errlen);
	free(text);
	free(line);
	return ok;
}

bool netobj_remove(const char *name, char *err, size_t errlen)
{
	struct netobj o;
	if (!netobj_load(name, &o, err, errlen)) return false;
	if (o.type == NETOBJ_HOST_ONLY && hostif_exists(o.bridge) &&
	    !hostif_bridge_delete(o.bridge, err, errlen))
		return false;
	char path[PATH_MAX];
	if (!object_path(name, path, sizeof(path), false, err, errlen)) return false;
	if (unlink(path)) {
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **netobj_list(size_t *n, char *err, size_t errlen)
{
	*n = 0;
	char dir[PATH_MAX];
	if (!networks_dir(dir, sizeof(dir), false, err, errlen)) return NULL;
	char **names = calloc(1, sizeof(char *));
	DIR *d = opendir(dir);
	if (!d) return names; /* none defined yet */
	struct dirent *e;
	while (names && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".json")) continue;
		char **grown = realloc(names, (*n + 2) * sizeof(char *));
		if (!grown) break;
		names = grown;
		names[*n] = strndup(e->d_name, len - 5);
		if (names[*n] && net_name_valid(names[*n]))
			(*n)++;
		else
			free(names[*n]);
	}
	closedir(d);
	if (names) qsort(names, *n, sizeof(char *), cmp_names);
	return names;
}

void netobj_free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++) free(names[i]);
	free(names);
}

/* The NIC config a defined network gives. */
static bool netobj_config(const struct netobj *o, struct net_config *cfg, char *err, size_t errlen)
{
	static unsigned tap_counter;
	switch (o->type) {
	case NETOBJ_NAT: {
		net_config_defaults(cfg, NET_USER);
		char opts[96], c[40];
		snprintf(opts, sizeof(opts), "net=%s", cidr(o->network, o->netmask, c, sizeof(c)));
		if (!net_config_parse_options(opts, cfg, err, errlen)) return false;
		for (unsigned i = 0; i < o->nhostfwd; i++) {
			snprintf(opts, sizeof(opts), "hostfwd=%s", o->hostfwd[i]);
			if (!net_config_parse_options(opts, cfg, err, errlen)) return false;
		}
		cfg->no_dhcp = !o->dhcp;
		return true;
	}
	case NETOBJ_INTERNAL:
		net_config_defaults(cfg, NET_SEGMENT);
		snprintf(cfg->segment, sizeof(cfg->segment), "%s", o->name);
		return true;
	case NETOBJ_HOST_ONLY:
	case NETOBJ_BRIDGE:
		net_config_defaults(cfg, NET_TAP);
		snprintf(cfg->ifname, sizeof(cfg->ifname), "clt%u.%u", (unsigned)getpid() % 1000000,
		         tap_counter++);
		snprintf(cfg->bridge, sizeof(cfg->bridge), "%s", o->bridge);
		if (o->type == NETOBJ_HOST_ONLY &&
		    !hostif_exists(o->bridge)) { /* gone since: a host reboot */
			struct in_addr host = {htonl(ntohl(o->network.s_addr) + 1)};
			if (!hostif_bridge_ensure(o->bridge, host, o->netmask, err, errlen)) return false;
		}
		return true;
	}
	return false;
}

bool netspec_resolve(const char *spec, struct net_config *cfg, char *err, size_t errlen)
{
	bool unknown;
	if (net_config_parse(spec, cfg, &unknown, err, errlen)) return true;
	if (!unknown) return false;
	char name[NET_NAME_MAX + 1];
	const char *comma = strchr(spec, ',');
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);
	if (len > NET_NAME_MAX) return false;
	memcpy(name, spec, len);
	name[len] = 0;
	struct netobj o;
	char why[512];
	if (!net_name_valid(name) || !netobj_load(name, &o, why, sizeof(why))) {
		if (net_name_valid(name)) snprintf(err, errlen, "--net %s: %s", spec, why);
		return false;
	}
	if (!netobj_config(&o, cfg, err, errlen)) return false;
	return comma ? net_config_parse_options(comma + 1, cfg, err, errlen) : true;
}
