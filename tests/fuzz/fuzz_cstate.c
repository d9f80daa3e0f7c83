/*
 * fuzz_cstate.c — libFuzzer harness for the cluster's replicated state
 * machine: bytes as a message a group member delivers (offers, whole
 * states, operations), to a synchronised host of a three-node cluster.
 * Whatever arrives, the state keeps its shape (a version that only grows,
 * nodes, instances with owners and definitions) and nothing crashes.
 */
#include "cluster/cstate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void drop(void *ctx, json_t *msg)
{
	(void)ctx;
	json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cstate cs;
	struct cstate_hooks hooks = {.send = drop};
	json_t *state = cstate_new_cluster("lab", "h1", "10.0.0.1", "t0123456789012345678901234567890123");
	json_array_append_new(json_object_get(state, "nodes"),
	                      json_pack("{s:i, s:s, s:s}", "id", 2, "name", "h2", "addr", "10.0.0.2"));
	cstate_init(&cs, 1, state, &hooks);
	uint32_t members[] = {1, 2};
	cstate_confchg(&cs, members, 2);
	const char *offer = "{\"t\":\"offer\",\"version\":1,\"hash\":\"0\"}";
	cstate_deliver(&cs, 2, offer, strlen(offer)); /* disagreeing offers: host 1's state is the best */
	cstate_deliver(&cs, 1, offer, strlen(offer));
	uint64_t v = cstate_version(&cs);
	/* The fuzzer's bytes from host 2, then again split in two messages. */
	cstate_deliver(&cs, 2, (const char *)data, size);
	cstate_deliver(&cs, 2, (const char *)data, size / 2);
	cstate_deliver(&cs, 1, (const char *)data + size / 2, size - size / 2);
	if (cs.state) {
		if (cstate_version(&cs) < v && cs.synced) abort();
		if (!json_is_array(json_object_get(cs.state, "nodes")) ||
		    !json_is_object(json_object_get(cs.state, "instances")))
			abort();
		const char *k;
		json_t *inst;
		json_object_foreach(json_object_get(cs.state, "instances"), k, inst)
		{
			if (!json_is_integer(json_object_get(inst, "owner")) ||
			    !json_is_object(json_object_get(inst, "definition")))
				abort();
		}
		(void)cstate_majority(&cs);
		(void)cstate_owner(&cs, "x");
	}
	cstate_free(&cs);
	return 0;
}
