/*
 * provision.c — see provision.h.
 */
#include "provision.h"

#include "vm/nocloud.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool provision_apply(struct daemon *d, json_t *def, char *seed, size_t seed_len, struct error *e)
{
	seed[0] = 0;
	json_t *vm = json_object_get(def, "vm");
	json_t *ci = json_object_get(vm, "cloud_init");
	const char *name = json_string_value(json_object_get(def, "name"));
	if (!ci) return true;
	json_error_t je;
	const char *user = NULL, *keys = NULL, *host = NULL;
	if (json_unpack_ex(ci, &je, JSON_STRICT, "{s?:s, s?:s, s?:s}", "user_data", &user, "ssh_keys", &keys,
	                   "hostname", &host))
		return err_set(
		    e, ERR_INVALID,
		    "vm.cloud_init takes {\"user_data\": TEXT, \"ssh_keys\": TEXT, \"hostname\": NAME}: %s",
		    je.text);
	if ((user && strlen(user) > (64u << 10)) || (keys && strlen(keys) > (32u << 10)))
		return err_set(e, ERR_INVALID,
		               "vm.cloud_init: user_data (64 KiB) or ssh_keys (32 KiB) too large");
	if (!name || !inst_name_valid(name)) return true; /* the definition's parser says what is wrong */
	snprintf(seed, seed_len, "%.3900s/instances/%s/seed.iso", d->state_dir, name);
	json_t *disks = json_object_get(vm, "disks");
	if (!json_is_array(disks)) json_object_set_new(vm, "disks", disks = json_array());
	char spec[PATH_MAX + 64];
	snprintf(spec, sizeof(spec), "%s,format=raw,readonly=on", seed);
	json_array_append_new(disks, json_string(spec));
	json_incref(ci);
	json_object_del(vm, "cloud_init"); /* the caller keeps ci to write the seed */
	json_object_set_new(def, "__cloud_init", ci);
	return true;
}

bool provision_write(const char *seed, const char *name, json_t *ci, struct error *e)
{
	char id[128], err[512];
	snprintf(id, sizeof(id), "%s-%lld", name, (long long)time(NULL));
	const char *host = json_string_value(json_object_get(ci, "hostname"));
	struct nocloud n = {.instance_id = id,
	                    .hostname = host ? host : name,
	                    .user_data = json_string_value(json_object_get(ci, "user_data")),
	                    .ssh_keys = json_string_value(json_object_get(ci, "ssh_keys"))};
	if (nocloud_write(seed, &n, err, sizeof(err))) return true;
	return err_set(e, ERR_INVALID, "cloud-init seed: %s", err);
}
