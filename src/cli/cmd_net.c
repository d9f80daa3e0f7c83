/*
 * cmd_net.c — `cloison net create|list|info|rm`: defined networks that VMs
 * join with `cloison run --net NAME`.
 *
 * Exit status: 0 done, 1 failed (message on stderr), 2 usage error.
 */
#include "commands.h"
#include "output.h"
#include "usage.h"

#include "net/netobj.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "Usage: cloison net create NAME --type nat|internal|host-only|bridge [OPTIONS]\n"
	             "   or: cloison net list [--format table|json|yaml|csv]\n"
	             "   or: cloison net info NAME [--format table|json|yaml|csv]\n"
	             "   or: cloison net rm NAME\n"
	             "\n"
	             "Types:\n"
	             "  nat        user-mode NAT through the VM's own process: DHCP, DNS, port forwards;\n"
	             "             no privileges needed (default subnet 10.0.2.0/24)\n"
	             "  internal   a LAN segment: the VMs on it see each other and nothing else\n"
	             "  host-only  a host bridge with address .1 on the subnet and no uplink; each VM\n"
	             "             gets a TAP on it (root; default subnet 192.168.100.0/24)\n"
	             "  bridge     TAPs on an existing host bridge: VMs sit on that LAN (root)\n"
	             "\n"
	             "Options for create:\n"
	             "  --subnet A.B.C.D/N     nat and host-only: the network's addresses\n"
	             "  --dhcp on|off          nat: DHCP server (default on)\n"
	             "  --bridge NAME          bridge: the host bridge to join\n"
	             "  --hostfwd RULE         nat: [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT\n"
	             "                         (repeatable)\n"
	             "\n"
	             "Definitions live in $CLOISON_STATE_DIR/networks (default /var/lib/cloison as root,\n"
	             "else ~/.local/state/cloison).\n");
}

static void print_table_row(const struct netobj *o)
{
	char net[INET_ADDRSTRLEN] = "-", sub[40] = "-";
	if (o->type == NETOBJ_NAT || o->type == NETOBJ_HOST_ONLY) {
		inet_ntop(AF_INET, &o->network, net, sizeof(net));
		snprintf(sub, sizeof(sub), "%s/%d", net, __builtin_popcount(o->netmask.s_addr));
	}
	printf("%-20s %-10s %-20s %-16s %s\n", o->name, netobj_type_name(o->type), sub,
	       o->bridge[0] ? o->bridge : "-", o->type == NETOBJ_NAT ? (o->dhcp ? "on" : "off") : "-");
}

static int net_list(int argc, char **argv)
{
	enum out_format fmt;
	if (out_take_format("net list", &argc, argv, &fmt)) return 2;
	if (argc > 1) return cli_usage_error("net list", "unexpected argument '%s'", argv[1]);
	char err[512];
	size_t n;
	char **names = netobj_list(&n, err, sizeof(err));
	if (!names) {
		log_error("%s", err);
		return 1;
	}
	json_t *all = json_array();
	if (fmt == OUT_TABLE)
		printf("%-20s %-10s %-20s %-16s %s\n", "NAME", "TYPE", "SUBNET", "BRIDGE", "DHCP");
	for (size_t i = 0; i < n; i++) {
		struct netobj o;
		if (!netobj_load(names[i], &o, err, sizeof(err))) {
			log_warn("%s", err);
			continue;
		}
		if (fmt == OUT_TABLE) {
			print_table_row(&o);
		} else {
			char *text = netobj_to_json(&o);
			json_t *j = text ? json_loads(text, 0, NULL) : NULL;
			if (j) json_array_append_new(all, j);
			free(text);
		}
	}
	if (fmt != OUT_TABLE) out_document(stdout, all, fmt);
	json_decref(all);
	netobj_free_names(names, n);
	return 0;
}

static int net_info(int argc, char **argv)
{
	enum out_format fmt;
	if (out_take_format("net info", &argc, argv, &fmt)) return 2;
	if (argc != 2 || argv[1][0] == '-') return cli_usage_error("net info", "expected NAME");
	struct netobj o;
	char err[512];
	if (!netobj_load(argv[1], &o, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (fmt == OUT_TABLE) {
		printf("%-20s %-10s %-20s %-16s %s\n", "NAME", "TYPE", "SUBNET", "BRIDGE", "DHCP");
		print_table_row(&o);
		for (unsigned i = 0; i < o.nhostfwd; i++) printf("hostfwd %s\n", o.hostfwd[i]);
	} else {
		char *text = netobj_to_json(&o);
		json_t *j = text ? json_loads(text, 0, NULL) : NULL;
		out_document(stdout, j, fmt);
		json_decref(j);
		free(text);
	}
	return 0;
}

static int net_create(int argc, char **argv)
{
	enum { OPT_TYPE = 1000, OPT_SUBNET, OPT_DHCP, OPT_BRIDGE, OPT_HOSTFWD };
	static const struct option longopts[] = {
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"subnet", required_argument, NULL, OPT_SUBNET},
	    {"dhcp", required_argument, NULL, OPT_DHCP},
	    {"bridge", required_argument, NULL, OPT_BRIDGE},
	    {"hostfwd", required_argument, NULL, OPT_HOSTFWD},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *type = NULL, *subnet = NULL, *dhcp = NULL, *bridge = NULL, *fwd[NET_MAX_HOSTFWD];
	unsigned nfwd = 0;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TYPE: type = optarg; break;
		case OPT_SUBNET: subnet = optarg; break;
		case OPT_DHCP: dhcp = optarg; break;
		case OPT_BRIDGE: bridge = optarg; break;
		case OPT_HOSTFWD:
			if (nfwd == NET_MAX_HOSTFWD) {
				log_error("at most %d --hostfwd", NET_MAX_HOSTFWD);
				return 2;
			}
			fwd[nfwd++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: return cli_option_error("net create", argv, longopts);
		}
	}
	if (optind + 1 != argc) {
		return cli_usage_error("net create",
		                       "expected one NAME (cloison net create NAME --type TYPE)");
	}
	const char *name = argv[optind];
	struct netobj_params np = {
	    .name = name, .type = type, .subnet = subnet, .dhcp = dhcp, .bridge = bridge};
	memcpy(np.hostfwd, fwd, nfwd * sizeof(fwd[0]));
	np.nhostfwd = nfwd;
	struct netobj o;
	char err[512];
	if (!netobj_build(&np, &o, err, sizeof(err))) {
		log_error("%s", err);
		return 2;
	}
	struct error e;
	if (!netobj_create(&o, &e)) {
		log_error("%s", e.msg);
		return 1;
	}
	cli_done("created network %s (%s)", name, netobj_type_name(o.type));
	return 0;
}

int cmd_net(int argc, char **argv)
{
	if (argc < 2 || cli_help_anywhere(argc, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "create")) return net_create(argc - 1, argv + 1);
	if (!strcmp(sub, "list") || !strcmp(sub, "ls")) return net_list(argc - 1, argv + 1);
	if (!strcmp(sub, "info")) return net_info(argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "delete")) {
		if (argc != 3) {
			return cli_usage_error("net rm", "expected one NAME");
		}
		char err[512];
		if (!netobj_remove(argv[2], err, sizeof(err))) {
			log_error("%s", err);
			return 1;
		}
		cli_done("removed network %s", argv[2]);
		return 0;
	}
	return cli_usage_error("net", "unknown subcommand '%s' (create, list, info, rm)", sub);
}
