/*
 * netdev.c — parsing `--net` specs into a net_config and opening the
 * backend it names. See netdev.h for the syntax.
 */
#include "netdev.h"

#include "util/parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int net_pollset_add(struct net_pollset *ps, int fd, short events)
{
	if (ps->n == NET_MAX_POLLFDS) return -1;
	ps->fds[ps->n] = (struct pollfd){.fd = fd, .events = events};
	return (int)ps->n++;
}

static struct in_addr ip4(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a;
}

void net_config_defaults(struct net_config *cfg, enum net_kind kind)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->network = ip4("10.0.2.0");
	cfg->netmask = ip4("255.255.255.0");
	cfg->host = ip4("10.0.2.2");
	cfg->dhcp_start = ip4("10.0.2.15");
	cfg->dns = ip4("10.0.2.3");
}

bool net_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > NET_NAME_MAX || name[0] == '.' || name[0] == '-') return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i])) return false;
	return true;
}

void net_random_mac(uint8_t mac[6])
{
	uint8_t r[3] = {0};
	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		unsigned v = (unsigned)getpid() * 2654435761u;
		memcpy(r, &v, 3);
	}
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	memcpy(mac + 3, r, 3);
}

const char *net_run_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("CLOISON_RUN_DIR");
	if (env && *env) return env;
	if (geteuid() == 0) return "/run/cloison";
	env = getenv("XDG_RUNTIME_DIR");
	if (env && *env)
		snprintf(dir, sizeof(dir), "%s/cloison", env);
	else
		snprintf(dir, sizeof(dir), "/tmp/cloison-%u", (unsigned)geteuid());
	return dir;
}

bool net_parse_cidr(const char *s, struct in_addr *network, struct in_addr *mask)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf)) return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	uint64_t bits;
	if (inet_pton(AF_INET, buf, network) != 1 || !parse_uint(slash + 1, 8, 30, &bits)) return false;
	uint32_t m = bits ? htonl(~0u << (32 - bits)) : 0;
	if (network->s_addr & ~m) return false;
	mask->s_addr = m;
	return true;
}

bool net_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return false;
	if (strlen(s) != 17) return false;
	for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
	return !(mac[0] & 1); /* not a multicast address */
}

/* hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (QEMU's syntax). */
static bool parse_hostfwd(const char *s, const struct net_config *cfg, struct net_hostfwd *f)
{
	char buf[128];
	if (strlen(s) >= sizeof(buf)) return false;
	strcpy(buf, s);
	char *p = buf;
	f->udp = false;
	if (!strncmp(p, "tcp:", 4))
		p += 4;
	else if (!strncmp(p, "udp:", 4))
		p += 4, f->udp = true;
	char *dash = strchr(p, '-');
	if (!dash) return false;
	*dash = 0;
	char *host = p, *guest = dash + 1;
	char *hc = strrchr(host, ':'), *gc = strrchr(guest, ':');
	if (!hc || !gc) return false;
	*hc = 0;
	*gc = 0;
	uint64_t hp, gp;
	if (!parse_uint(hc + 1, 0, 65535, &hp) || !parse_uint(gc + 1, 1, 65535, &gp)) return false;
	f->host_port = (uint16_t)hp;
	f->guest_port = (uint16_t)gp;
	f->host_addr.s_addr = INADDR_ANY;
	if (*host && inet_pton(AF_INET, host, &f->host_addr) != 1) return false;
	f->guest_addr = cfg->dhcp_start;
	if (*guest && inet_pton(AF_INET, guest, &f->guest_addr) != 1) return false;
	return true;
}

static bool set_ifname(char dst[16], const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 15 || strchr(v, '/') || strchr(v, ' ') || !strcmp(v, ".") || !strcmp(v, ".."))
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

static bool parse_option(struct net_config *cfg, const char *key, const char *val, char *err, size_t errlen)
{
#define BAD(...)                                                                                             \
	do {                                                                                                 \
		snprintf(err, errlen, __VA_ARGS__);                                                          \
		return false;                                                                                \
	} while (0)
	uint64_t n;
	if (!strcmp(key, "mac")) {
		if (!net_parse_mac(val, cfg->mac))
			BAD("mac=%s: expected a unicast address like 52:54:00:12:34:56", val);
		cfg->mac_set = true;
	} else if (!strcmp(key, "mtu")) {
		if (!parse_uint(val, 576, 65520, &n)) BAD("mtu=%s: expected 576 to 65520", val);
		cfg->mtu = (unsigned)n;
	} else if (!strcmp(key, "rx_bw") || !strcmp(key, "tx_bw")) {
		if (!parse_rate(val, &n) || n < 8000)
			BAD("%s=%s: expected bits per second, e.g. 10M (at least 8k)", key, val);
		*(key[0] == 'r' ? &cfg->rx_bps : &cfg->tx_bps) = n;
	} else if (!strcmp(key, "rx_pps") || !strcmp(key, "tx_pps")) {
		if (!parse_rate(val, &n) || n < 1) BAD("%s=%s: expected frames per second", key, val);
		*(key[0] == 'r' ? &cfg->rx_pps : &cfg->tx_pps) = n;
	} else if (!strcmp(key, "burst")) {
		if (!parse_disk_size(val, &n) || n < 1514 || n > (1ULL << 30))
			BAD("burst=%s: expected bytes, 1514 to 1G", val);
		cfg->burst = n;
	} else if (!strcmp(key, "pcap")) {
		if (!*val || strlen(val) >= sizeof(cfg->pcap)) BAD("pcap=: expected a file name");
		strcpy(cfg->pcap, val);
	} else if (cfg->kind == NET_USER && !strcmp(key, "net")) {
		if (!net_parse_cidr(val, &cfg->network, &cfg->netmask))
			BAD("net=%s: expected A.B.C.D/N with N from 8 to 30", val);
		/* QEMU's plan inside the given network: .2 host, .3 DNS, .15 first lease. */
		uint32_t base = ntohl(cfg->network.s_addr);
		cfg->host.s_addr = htonl(base + 2);
		cfg->dns.s_addr = htonl(base + 3);
		cfg->dhcp_start.s_addr = htonl(base + 15);
	} else if (cfg->kind == NET_USER &&
	           (!strcmp(key, "host") || !strcmp(key, "dns") || !strcmp(key, "dhcpstart"))) {
		struct in_addr a;
		if (inet_pton(AF_INET, val, &a) != 1) BAD("%s=%s: expected an IPv4 address", key, val);
		if ((a.s_addr & cfg->netmask.s_addr) != cfg->network.s_addr)
			BAD("%s=%s: outside the network", key, val);
		*(key[0] == 'h' ? &cfg->host : key[1] == 'n' ? &cfg->dns : &cfg->dhcp_start) = a;
	} else if (cfg->kind == NET_USER && !strcmp(key, "restrict")) {
		if (strcmp(val, "on") && strcmp(val, "off")) BAD("restrict=%s: expected on or off", val);
		cfg->restricted = !strcmp(val, "on");
	} else if (cfg->kind == NET_USER && !strcmp(key, "hostfwd")) {
		if (cfg->nhostfwd == NET_MAX_HOSTFWD)
			BAD("at most %d hostfwd= per interface", NET_MAX_HOSTFWD);
		if (!parse_hostfwd(val, cfg, &cfg->hostfwd[cfg->nhostfwd]))
			BAD("hostfwd=%s: expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", val);
		cfg->nhostfwd++;
	} else if (cfg->kind == NET_TAP && !strcmp(key, "bridge")) {
		if (!set_ifname(cfg->bridge, val)) BAD("bridge=%s: not an interface name", val);
	} else {
		BAD("unknown option '%s' for %s networking", key,
		    cfg->kind == NET_USER      ? "user"
		    : cfg->kind == NET_SEGMENT ? "segment"
		                               : "tap");
	}
	return true;
#undef BAD
}

bool net_config_parse_options(const char *opts, struct net_config *cfg, char *err, size_t errlen)
{
	char *copy = strdup(opts), *save = NULL;
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	bool ok = true;
	for (char *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			snprintf(err, errlen, "'%s': expected KEY=VALUE", tok);
			ok = false;
			break;
		}
		*eq = 0;
		ok = parse_option(cfg, tok, eq + 1, err, errlen);
	}
	free(copy);
	return ok;
}

bool net_config_parse(const char *spec, struct net_config *cfg, bool *unknown_kind, char *err, size_t errlen)
{
	*unknown_kind = false;
	const char *comma = strchr(spec, ',');
	size_t head_len = comma ? (size_t)(comma - spec) : strlen(spec);
	char head[128];
	if (head_len >= sizeof(head)) {
		snprintf(err, errlen, "--net %s: too long", spec);
		return false;
	}
	memcpy(head, spec, head_len);
	head[head_len] = 0;
	char *eq = strchr(head, '=');
	const char *val = eq ? eq + 1 : NULL;
	if (eq) *eq = 0;
	if (!strcmp(head, "user") && !val) {
		net_config_defaults(cfg, NET_USER);
	} else if (!strcmp(head, "segment")) {
		net_config_defaults(cfg, NET_SEGMENT);
		if (!val || !net_name_valid(val)) {
			snprintf(err, errlen, "segment=NAME: NAME is 1 to 64 of A-Z a-z 0-9 _ . - (got '%s')",
			         val ? val : "");
			return false;
		}
		strcpy(cfg->segment, val);
	} else if (!strcmp(head, "tap")) {
		net_config_defaults(cfg, NET_TAP);
		if (!val || !set_ifname(cfg->ifname, val)) {
			snprintf(err, errlen, "tap=IFNAME: expected an interface name of 1 to 15 characters");
			return false;
		}
	} else {
		*unknown_kind = true;
		snprintf(err, errlen,
		         "--net %s: expected user, segment=NAME, tap=IFNAME or a defined network", spec);
		return false;
	}
	return comma ? net_config_parse_options(comma + 1, cfg, err, errlen) : true;
}

struct net_backend *net_backend_open(const struct net_config *cfg, char *err, size_t errlen)
{
	switch (cfg->kind) {
	case NET_USER: return net_user_open(cfg, err, errlen);
	case NET_SEGMENT: return net_segment_open(cfg, err, errlen);
	case NET_TAP: return net_tap_open(cfg, err, errlen);
	}
	snprintf(err, errlen, "unknown network kind");
	return NULL;
}
