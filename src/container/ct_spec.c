/*
 * ct_spec.c — see ct_spec.h.
 */
#include "ct_spec.h"

#include "container/caps.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool ct_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CT_NAME_MAX) return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.'))) return false;
	}
	return true;
}

void ct_spec_defaults(struct ct_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->net.mode = CT_NET_NONE;
	s->caps = caps_default();
	s->uid_base = 100000;
	s->uid_count = 65536;
}

static bool parse_cidr(const char *text, struct in_addr *a, unsigned *prefix)
{
	char buf[32];
	if (strlen(text) >= sizeof(buf)) return false;
	strcpy(buf, text);
	char *slash = strchr(buf, '/');
	unsigned p = 24;
	if (slash) {
		*slash = 0;
		char *end;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (*end || end == slash + 1 || v < 1 || v > 32) return false;
		p = (unsigned)v;
	}
	if (inet_pton(AF_INET, buf, a) != 1) return false;
	if (prefix) *prefix = p;
	return true;
}

bool ct_net_parse(const char *text, struct ct_net *n, char *err, size_t errlen)
{
	memset(n, 0, sizeof(*n));
	char buf[256];
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "--net value too long");
		return false;
	}
	strcpy(buf, text);
	char *save = NULL, *tok = strtok_r(buf, ",", &save);
	if (!tok || !strcmp(tok, "none"))
		n->mode = CT_NET_NONE;
	else if (!strcmp(tok, "host"))
		n->mode = CT_NET_HOST;
	else if (!strcmp(tok, "veth"))
		n->mode = CT_NET_VETH;
	else {
		snprintf(err, errlen, "--net: unknown mode '%.40s' (none, host or veth)", tok);
		return false;
	}
	unsigned host_prefix = 0;
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');
		if (n->mode != CT_NET_VETH || !eq) {
			snprintf(err, errlen,
			         "--net: unexpected '%.60s' (options belong to veth: bridge=, network=, "
			         "ip=, gw=, host-ip=)",
			         tok);
			return false;
		}
		*eq = 0;
		const char *v = eq + 1;
		bool ok = true;
		if (!strcmp(tok, "bridge")) {
			ok = *v && strlen(v) < sizeof(n->bridge);
			if (ok) strcpy(n->bridge, v);
		} else if (!strcmp(tok, "network")) {
			ok = *v && strlen(v) < sizeof(n->network);
			if (ok) strcpy(n->network, v);
		} else if (!strcmp(tok, "ip")) {
			ok = parse_cidr(v, &n->addr, &n->prefix);
		} else if (!strcmp(tok, "gw")) {
			ok = inet_pton(AF_INET, v, &n->gw) == 1;
		} else if (!strcmp(tok, "host-ip")) {
			ok = parse_cidr(v, &n->host_addr, &host_prefix);
		} else {
			snprintf(err, errlen, "--net: unknown option '%.40s'", tok);
			return false;
		}
		if (!ok) {
			snprintf(err, errlen, "--net: bad value for %s: '%.60s'", tok, v);
			return false;
		}
	}
	if (n->bridge[0] && n->network[0]) {
		snprintf(err, errlen, "--net: give bridge= or network=, not both");
		return false;
	}
	if (n->host_addr.s_addr && (n->bridge[0] || n->network[0])) {
		snprintf(err, errlen, "--net: host-ip= is for a veth without a bridge");
		return false;
	}
	if (n->host_addr.s_addr && !n->prefix) n->prefix = host_prefix;
	if (n->gw.s_addr && !n->addr.s_addr) {
		snprintf(err, errlen, "--net: gw= needs ip=");
		return false;
	}
	return true;
}

bool ct_spec_check(const struct ct_spec *s, char *err, size_t errlen)
{
	if (!ct_name_valid(s->name)) {
		snprintf(err, errlen,
		         "invalid container name '%.80s': use letters, digits, '-', '_' or '.', at most %d, "
		         "starting with a letter or digit",
		         s->name, CT_NAME_MAX);
		return false;
	}
	if (!s->rootfs[0]) {
		snprintf(err, errlen, "a root filesystem is required (--rootfs DIR)");
		return false;
	}
	if (s->cwd[0] && s->cwd[0] != '/') {
		snprintf(err, errlen, "the working directory must be an absolute path");
		return false;
	}
	const struct cg_limits *l = &s->limits;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1) ncpu = 1;
	if (l->cpu_weight > 10000) {
		snprintf(err, errlen, "--cpu-weight must be 1..10000 (100 is the default share)");
		return false;
	}
	if (l->cpu_max_pct > (uint32_t)(100 * ncpu)) {
		snprintf(err, errlen, "--cpu-max %u%% is more than this host's %ld CPUs (at most %ld%%)",
		         l->cpu_max_pct, ncpu, 100 * ncpu);
		return false;
	}
	if (l->memory && l->memory < (4u << 20)) {
		snprintf(err, errlen, "--memory must be at least 4M");
		return false;
	}
	if (l->io_weight > 10000) {
		snprintf(err, errlen, "--io-weight must be 1..10000");
		return false;
	}
	if (s->hostname[0]) {
		for (const char *p = s->hostname; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.')) {
				snprintf(err, errlen, "invalid hostname '%.65s'", s->hostname);
				return false;
			}
	}
	if (s->userns && (s->uid_count == 0 || (uint64_t)s->uid_base + s->uid_count > UINT32_MAX)) {
		snprintf(err, errlen, "invalid user namespace mapping");
		return false;
	}
	return true;
}

static json_t *addr_json(struct in_addr a)
{
	char buf[INET_ADDRSTRLEN];
	return a.s_addr ? json_string(inet_ntop(AF_INET, &a, buf, sizeof(buf))) : json_null();
}

json_t *ct_spec_to_json(const struct ct_spec *s)
{
	json_t *argv = json_array();
	for (int i = 0; i < s->argc; i++) json_array_append_new(argv, json_string(s->argv[i]));
	static const char *const modes[] = {"none", "host", "veth"};
	json_t *caps = json_array();
	for (int c = 0; c < 64; c++)
		if (s->caps & (1ull << c)) json_array_append_new(caps, json_string(caps_name(c)));
	json_t *env = json_array();
	for (int i = 0; i < s->nenv; i++) json_array_append_new(env, json_string(s->env[i]));
	return json_pack(
	    "{s:s, s:s, s:b, s:b, s:s, s:o, s:o, s:s, s:{s:I, s:I, s:I, s:I, s:I}, "
	    "s:{s:s, s:s, s:s, s:o, s:I, s:o, s:o}, s:b, s:I, s:I, s:o}",
	    "name", s->name, "rootfs", s->rootfs, "overlay", s->overlay, "read_only", s->read_only,
	    "hostname", s->hostname, "argv", argv, "env", env, "cwd", s->cwd, "limits", "cpu_weight",
	    (json_int_t)s->limits.cpu_weight, "cpu_max_pct", (json_int_t)s->limits.cpu_max_pct, "memory",
	    (json_int_t)s->limits.memory, "pids", (json_int_t)s->limits.pids, "io_weight",
	    (json_int_t)s->limits.io_weight, "net", "mode", modes[s->net.mode], "bridge", s->net.bridge,
	    "network", s->net.network, "ip", addr_json(s->net.addr), "prefix", (json_int_t)s->net.prefix,
	    "gw", addr_json(s->net.gw), "host_ip", addr_json(s->net.host_addr), "userns", s->userns,
	    "uid_base", (json_int_t)s->uid_base, "uid_count", (json_int_t)s->uid_count, "caps", caps);
}

static bool get_addr(json_t *v, struct in_addr *a)
{
	if (json_is_null(v)) {
		a->s_addr = 0;
		return true;
	}
	return json_is_string(v) && inet_pton(AF_INET, json_string_value(v), a) == 1;
}

static bool copy_str(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len) return false;
	strcpy(dst, src);
	return true;
}

bool ct_spec_from_json(const json_t *j, struct ct_spec *s, char *err, size_t errlen)
{
	ct_spec_defaults(s);
	const char *name, *rootfs, *hostname, *mode, *bridge, *network, *cwd = "";
	json_t *argv, *caps, *ip, *gw, *host_ip, *env = NULL;
	json_int_t cw, cm, mem, pids, iow, prefix, ubase, ucount;
	int overlay, ro, userns;
	json_error_t je;
	if (json_unpack_ex((json_t *)j, &je, JSON_STRICT,
	                   "{s:s, s:s, s:b, s:b, s:s, s:o, s?:o, s?:s, s:{s:I, s:I, s:I, s:I, s:I}, "
	                   "s:{s:s, s:s, s:s, s:o, s:I, s:o, s:o}, s:b, s:I, s:I, s:o}",
	                   "name", &name, "rootfs", &rootfs, "overlay", &overlay, "read_only", &ro,
	                   "hostname", &hostname, "argv", &argv, "env", &env, "cwd", &cwd, "limits",
	                   "cpu_weight", &cw, "cpu_max_pct", &cm, "memory", &mem, "pids", &pids, "io_weight",
	                   &iow, "net", "mode", &mode, "bridge", &bridge, "network", &network, "ip", &ip,
	                   "prefix", &prefix, "gw", &gw, "host_ip", &host_ip, "userns", &userns, "uid_base",
	                   &ubase, "uid_count", &ucount, "caps", &caps)) {
		snprintf(err, errlen, "container definition: %s", je.text);
		return false;
	}
	if (!copy_str(s->name, sizeof(s->name), name) || !copy_str(s->rootfs, sizeof(s->rootfs), rootfs) ||
	    !copy_str(s->cwd, sizeof(s->cwd), cwd) || !copy_str(s->hostname, sizeof(s->hostname), hostname) ||
	    !copy_str(s->net.bridge, sizeof(s->net.bridge), bridge) ||
	    !copy_str(s->net.network, sizeof(s->net.network), network)) {
		snprintf(err, errlen, "container definition: a string is too long");
		return false;
	}
	s->overlay = overlay;
	s->read_only = ro;
	s->userns = userns;
	if (cw < 0 || cw > 10000 || cm < 0 || cm > 100000 || mem < 0 || pids < 0 || iow < 0 || iow > 10000 ||
	    prefix < 0 || prefix > 32 || ubase < 0 || ubase > UINT32_MAX || ucount < 0 ||
	    ucount > UINT32_MAX) {
		snprintf(err, errlen, "container definition: a number is out of range");
		return false;
	}
	s->limits =
	    (struct cg_limits){(uint32_t)cw, (uint32_t)cm, (uint64_t)mem, (uint64_t)pids, (uint32_t)iow};
	s->net.prefix = (unsigned)prefix;
	s->uid_base = (uint32_t)ubase;
	s->uid_count = (uint32_t)ucount;
	if (!strcmp(mode, "none"))
		s->net.mode = CT_NET_NONE;
	else if (!strcmp(mode, "host"))
		s->net.mode = CT_NET_HOST;
	else if (!strcmp(mode, "veth"))
		s->net.mode = CT_NET_VETH;
	else {
		snprintf(err, errlen, "container definition: unknown net mode '%.20s'", mode);
		return false;
	}
	if (!get_addr(ip, &s->net.addr) || !get_addr(gw, &s->net.gw) ||
	    !get_addr(host_ip, &s->net.host_addr)) {
		snprintf(err, errlen, "container definition: bad address");
		return false;
	}
	if (!json_is_array(argv) || json_array_size(argv) > CT_MAX_ARGS || !json_is_array(caps)) {
		snprintf(err, errlen, "container definition: argv and caps must be arrays");
		return false;
	}
	s->caps = 0;
	size_t i;
	json_t *v;
	json_array_foreach(caps, i, v)
	{
		int c = json_is_string(v) ? caps_from_name(json_string_value(v)) : -1;
		if (c < 0) {
			snprintf(err, errlen, "container definition: unknown capability");
			return false;
		}
		s->caps |= 1ull << c;
	}
	json_array_foreach(argv, i, v)
	{
		if (!json_is_string(v)) {
			ct_spec_free(s);
			snprintf(err, errlen, "container definition: argv holds a non-string");
			return false;
		}
		s->argv[s->argc++] = strdup(json_string_value(v));
	}
	s->argv[s->argc] = NULL;
	if (env && (!json_is_array(env) || json_array_size(env) > CT_MAX_ENV)) {
		ct_spec_free(s);
		snprintf(err, errlen, "container definition: env must be an array of at most %d strings",
		         CT_MAX_ENV);
		return false;
	}
	json_array_foreach(env, i, v)
	{
		const char *kv = json_string_value(v);
		if (!kv || !strchr(kv, '=') || kv[0] == '=' || strlen(kv) != json_string_length(v)) {
			ct_spec_free(s);
			snprintf(err, errlen, "container definition: env holds '%.60s', not KEY=VALUE",
			         kv ? kv : "(not a string)");
			return false;
		}
		s->env[s->nenv++] = strdup(kv);
	}
	s->env[s->nenv] = NULL;
	if (ct_spec_check(s, err, errlen)) return true;
	ct_spec_free(s);
	return false;
}

void ct_spec_free(struct ct_spec *s)
{
	for (int i = 0; i < s->argc; i++) free(s->argv[i]);
	for (int i = 0; i < s->nenv; i++) free(s->env[i]);
	s->argc = s->nenv = 0;
	s->argv[0] = s->env[0] = NULL;
}
