/*
 * networks.c — the /v1/networks endpoints: defined networks (net/netobj.h,
 * the same definitions `cloison net` keeps under the state directory) as
 * API resources. A network an instance names cannot be removed.
 */
#include "api_internal.h"

#include "net/netobj.h"

#include <stdlib.h>
#include <string.h>

static json_t *network_json(const struct netobj *o)
{
	char *t = netobj_to_json(o);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	free(t);
	return j;
}

/* The instances whose definition names the network (their first --net spec field). */
static json_t *network_users(struct daemon *d, const char *name)
{
	json_t *a = json_array();
	for (size_t i = 0; i < d->ninsts; i++) {
		const struct inst_def *def = &d->insts[i]->def;
		bool uses = false;
		if (def->type == INST_CT) {
			const char *net = json_string_value(
			    json_object_get(json_object_get(def->container, "net"), "network"));
			uses = net && !strcmp(net, name);
		}
		for (unsigned k = 0; k < def->vm.cfg.nnics && !uses; k++) { /* a --net spec: NAME[,options] */
			const char *spec = def->vm.cfg.nics[k].spec;
			uses = strcspn(spec, ",") == strlen(name) && !strncmp(spec, name, strlen(name));
		}
		if (uses) json_array_append_new(a, json_string(def->name));
	}
	return a;
}

static void create_network(json_t *body, struct http_response *r)
{
	struct netobj_params p = {0};
	json_t *fwd = NULL;
	json_error_t je;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s:s, s?:s, s?:s, s?:s, s?:o}", "name", &p.name,
	                   "type", &p.type, "subnet", &p.subnet, "dhcp", &p.dhcp, "bridge", &p.bridge,
	                   "hostfwd", &fwd))
		return api_fail(
		    r, ERR_INVALID,
		    "expected {\"name\": NAME, \"type\": \"nat\"|\"internal\"|\"host-only\"|\"bridge\", "
		    "\"subnet\": \"A.B.C.D/N\", \"dhcp\": \"on\"|\"off\", \"bridge\": HOSTBRIDGE, "
		    "\"hostfwd\": [RULE...]}: %s",
		    je.text);
	if (fwd) {
		size_t i;
		json_t *v;
		if (!json_is_array(fwd) || json_array_size(fwd) > NET_MAX_HOSTFWD)
			return api_fail(r, ERR_INVALID, "hostfwd must be an array of at most %d rules",
			                NET_MAX_HOSTFWD);
		json_array_foreach(fwd, i, v)
		{
			if (!json_is_string(v))
				return api_fail(r, ERR_INVALID, "hostfwd[%zu] must be a string", i);
			p.hostfwd[p.nhostfwd++] = json_string_value(v);
		}
	}
	struct netobj o;
	char err[512];
	if (!netobj_build(&p, &o, err, sizeof(err))) return api_fail(r, ERR_INVALID, "%s", err);
	struct error e;
	if (!netobj_create(&o, &e)) return api_fail_error(r, &e);
	json_t *j = network_json(&o);
	if (!j) return api_fail(r, ERR_INTERNAL, "out of memory");
	api_reply(r, 201, j);
}

void api_networks(struct daemon *d, const char *method, char **seg, int n, json_t *body,
                  struct http_response *r)
{
	bool get = !strcmp(method, "GET");
	char err[512];
	if (n == 2) {
		if (!strcmp(method, "POST")) return create_network(body, r);
		if (!get) return api_fail(r, ERR_METHOD, "/v1/networks takes GET or POST");
		size_t k = 0;
		char **names = netobj_list(&k, err, sizeof(err));
		json_t *a = json_array();
		for (size_t i = 0; i < k; i++) {
			struct netobj o;
			json_t *j = netobj_load(names[i], &o, err, sizeof(err)) ? network_json(&o) : NULL;
			if (!j) continue;
			json_object_set_new(j, "used_by", network_users(d, names[i]));
			json_array_append_new(a, j);
		}
		if (names) netobj_free_names(names, k);
		return api_reply(r, 200, a);
	}
	if (n != 3) return api_fail(r, ERR_NOT_FOUND, "no such endpoint (see docs/api.md)");
	struct netobj o;
	if (!netobj_load(seg[2], &o, err, sizeof(err)))
		return api_fail(r, ERR_NOT_FOUND, "no network named '%.80s'", seg[2]);
	if (get) {
		json_t *j = network_json(&o);
		if (!j) return api_fail(r, ERR_INTERNAL, "out of memory");
		json_object_set_new(j, "used_by", network_users(d, o.name));
		return api_reply(r, 200, j);
	}
	if (strcmp(method, "DELETE")) return api_fail(r, ERR_METHOD, "/v1/networks/NAME takes GET or DELETE");
	json_t *users = network_users(d, o.name);
	if (json_array_size(users)) {
		char *list = json_dumps(users, JSON_COMPACT);
		api_fail(r, ERR_BUSY, "network '%s' is used by %s", o.name, list ? list : "instances");
		free(list);
		json_decref(users);
		return;
	}
	json_decref(users);
	if (!netobj_remove(o.name, err, sizeof(err))) return api_fail(r, ERR_INTERNAL, "%s", err);
	api_reply(r, 200, json_pack("{s:s, s:b}", "name", o.name, "removed", 1));
}
