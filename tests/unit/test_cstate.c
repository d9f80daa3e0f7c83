/*
 * test_cstate.c — the cluster's replicated state machine on a simulated
 * group: three hosts, one totally ordered message queue per configuration,
 * membership changes made by hand. Checks the sync after joins and heals
 * (the highest version wins, equal states need no transfer), that every
 * host reaches the same verdict on each operation, writes refused without
 * a majority, recover refused for a host back in the group, persistence
 * failures, and malformed messages ignored.
 */
#include "check.h"

#include "cluster/cstate.h"

#include <stdlib.h>
#include <string.h>

#define HOSTS 3

static struct cstate hosts[HOSTS];
static bool up[HOSTS];      /* in the current configuration */
static json_t *queue;       /* [from, message text] in delivery order */
static int results[HOSTS];  /* results seen by each proposer */
static bool last_ok[HOSTS]; /* the last result's verdict */
static char last_msg[HOSTS][256];
static bool fail_persist[HOSTS];
static unsigned state_messages; /* whole states sent */

static void on_send(void *ctx, json_t *msg)
{
	int h = (int)(intptr_t)ctx;
	if (!strcmp(json_string_value(json_object_get(msg, "t")), "state")) state_messages++;
	char *text = json_dumps(msg, JSON_COMPACT);
	json_array_append_new(queue, json_pack("[i, s]", h, text));
	free(text);
	json_decref(msg);
}

static void on_result(void *ctx, uint64_t req, bool ok, const char *msg, json_t *data)
{
	(void)req, (void)data;
	int h = (int)(intptr_t)ctx;
	results[h]++;
	last_ok[h] = ok;
	snprintf(last_msg[h], sizeof(last_msg[h]), "%s", msg);
}

static bool on_persist(void *ctx, const json_t *state)
{
	(void)state;
	return !fail_persist[(int)(intptr_t)ctx];
}

static void start(int h, json_t *state)
{
	struct cstate_hooks hooks = {
	    .send = on_send, .result = on_result, .persist = on_persist, .ctx = (void *)(intptr_t)h};
	cstate_init(&hosts[h], (uint32_t)h + 1, state, &hooks);
}

/* Delivers everything queued to the hosts that are up, in order (as CPG would in one configuration). */
static void run(void)
{
	while (json_array_size(queue)) {
		json_t *e = json_incref(json_array_get(queue, 0));
		json_array_remove(queue, 0);
		int from = (int)json_integer_value(json_array_get(e, 0));
		const char *text = json_string_value(json_array_get(e, 1));
		for (int h = 0; h < HOSTS; h++)
			if (up[h]) cstate_deliver(&hosts[h], (uint32_t)from + 1, text, strlen(text));
		json_decref(e);
	}
}

/* A new configuration made of the hosts marked in `members` (a bit per host). */
static void configure(unsigned members)
{
	uint32_t ids[HOSTS];
	size_t n = 0;
	for (int h = 0; h < HOSTS; h++) {
		up[h] = members & (1u << h);
		if (up[h]) ids[n++] = (uint32_t)h + 1;
	}
	json_array_clear(queue);
	for (int h = 0; h < HOSTS; h++)
		if (up[h]) cstate_confchg(&hosts[h], ids, n);
	run();
}

static bool propose(int h, const char *op, json_t *args)
{
	int before = results[h];
	on_send((void *)(intptr_t)h, cstate_op(op, 7, args));
	json_decref(args);
	run();
	CHECK_EQ(results[h], before + 1);
	return last_ok[h];
}

static bool same_state(int a, int b)
{
	return json_equal(hosts[a].state, hosts[b].state);
}

static void test_join_and_operations(void)
{
	queue = json_array();
	start(0, cstate_new_cluster("lab", "h1", "10.0.0.1", "t0123456789012345678901234567890123"));
	start(1, NULL);
	start(2, NULL);
	configure(1);
	CHECK(hosts[0].synced && cstate_writable(&hosts[0]));
	CHECK_EQ(cstate_version(&hosts[0]), 1);
	CHECK(propose(0, "node-add", json_pack("{s:s, s:s}", "name", "h2", "addr", "10.0.0.2")));
	/* One node of two is no majority any more: the next add is refused until h2 is in. */
	CHECK(!propose(0, "node-add", json_pack("{s:s, s:s}", "name", "h3", "addr", "10.0.0.3")));
	CHECK(strstr(last_msg[0], "no quorum") != NULL);
	state_messages = 0;
	configure(3);
	CHECK_EQ(state_messages, 1); /* h2 had nothing: h1's state went whole */
	CHECK(hosts[1].synced && same_state(0, 1));
	CHECK(propose(1, "node-add", json_pack("{s:s, s:s}", "name", "h3", "addr", "10.0.0.3")));
	CHECK_EQ(json_integer_value(json_object_get(cstate_node(&hosts[1], 3), "id")), 3);
	configure(7);
	for (int h = 0; h < HOSTS; h++) CHECK(hosts[h].synced && same_state(0, h));
	/* An instance, a duplicate refused the same way on every host, HA settings. */
	json_t *def = json_pack("{s:s}", "name", "vm1");
	CHECK(propose(2, "inst-put",
	              json_pack("{s:s, s:s, s:i, s:O, s:b}", "name", "vm1", "type", "vm", "owner", 3,
	                        "definition", def, "create", 1)));
	CHECK(!propose(0, "inst-put",
	               json_pack("{s:s, s:s, s:i, s:O, s:b}", "name", "vm1", "type", "vm", "owner", 1,
	                         "definition", def, "create", 1)));
	CHECK(strstr(last_msg[0], "exists") != NULL);
	json_decref(def);
	CHECK(propose(0, "ha-set",
	              json_pack("{s:s, s:s, s:i}", "name", "vm1", "group", "", "max_restarts", 2)));
	CHECK(!propose(0, "ha-set", json_pack("{s:s, s:i}", "name", "nope", "max_restarts", 2)));
	CHECK_EQ(cstate_owner(&hosts[1], "vm1"), 3);
	for (int h = 0; h < HOSTS; h++) CHECK(same_state(0, h));
	CHECK_EQ(cstate_version(&hosts[0]), 5); /* the new cluster, 2 node-adds, inst-put, ha-set */
	CHECK(!propose(0, "no-such-op", json_object()));
	CHECK(strstr(last_msg[0], "unknown operation") != NULL);
}

static void test_partition_and_heal(void)
{
	/* Host 3 is cut off: alone it is no majority and changes nothing. */
	configure(3);
	up[2] = true; /* host 3 still runs, in a configuration of its own */
	uint32_t alone = 3;
	cstate_confchg(&hosts[2], &alone, 1);
	up[0] = up[1] = false;
	run();
	CHECK(hosts[2].synced && !cstate_majority(&hosts[2]) && !cstate_writable(&hosts[2]));
	uint64_t v3 = cstate_version(&hosts[2]);
	CHECK(!propose(2, "ha-rm", json_pack("{s:s}", "name", "vm1")));
	CHECK(strstr(last_msg[2], "no quorum") != NULL);
	CHECK_EQ(cstate_version(&hosts[2]), v3);
	/* The majority hands host 3's HA instance to host 1. */
	up[0] = up[1] = true;
	up[2] = false;
	uint32_t pair[] = {1, 2};
	cstate_confchg(&hosts[0], pair, 2);
	cstate_confchg(&hosts[1], pair, 2);
	run();
	CHECK(cstate_writable(&hosts[0]) && cstate_writable(&hosts[1]));
	CHECK(propose(0, "recover", json_pack("{s:i, s:{s:i}}", "node", 3, "moves", "vm1", 1)));
	CHECK_EQ(cstate_owner(&hosts[1], "vm1"), 1);
	CHECK_EQ(json_integer_value(
	             json_object_get(json_object_get(cstate_instance(&hosts[0], "vm1"), "ha"), "failovers")),
	         1);
	/* Healed: host 3's older state gives way to the majority's. */
	state_messages = 0;
	configure(7);
	CHECK_EQ(state_messages, 1);
	CHECK(same_state(0, 2) && cstate_owner(&hosts[2], "vm1") == 1);
	/* A recover for a host that is back is refused everywhere. */
	CHECK(!propose(1, "recover", json_pack("{s:i, s:{s:i}}", "node", 3, "moves", "vm1", 3)));
	CHECK(strstr(last_msg[1], "back in the group") != NULL);
	CHECK_EQ(cstate_owner(&hosts[2], "vm1"), 1);
	/* Same states on all: a membership change transfers nothing. */
	state_messages = 0;
	configure(7);
	CHECK_EQ(state_messages, 0);
	for (int h = 0; h < HOSTS; h++) CHECK(hosts[h].synced);
}

static void test_persist_failure(void)
{
	fail_persist[1] = true;
	CHECK(!propose(1, "token", json_pack("{s:s}", "token", "abcdefghijklmnopqrstuvwxyz0123456789")));
	CHECK(hosts[1].broken && !cstate_writable(&hosts[1]));
	CHECK(strstr(last_msg[1], "cannot store") != NULL);
	CHECK(cstate_writable(&hosts[0]));
	fail_persist[1] = false;
}

static void test_malformed_messages(void)
{
	json_t *before = json_deep_copy(hosts[0].state);
	const char *bad[] = {
	    "",
	    "{",
	    "[]",
	    "{\"t\":5}",
	    "{\"t\":\"offer\",\"version\":\"x\",\"hash\":\"1\"}",
	    "{\"t\":\"state\",\"state\":{\"version\":99}}",
	    "{\"t\":\"state\",\"state\":{\"version\":99,\"name\":\"x\",\"nodes\":[{\"id\":\"1\"}],"
	    "\"instances\":{}}}",
	    "{\"t\":\"state\",\"state\":{\"version\":99,\"name\":\"x\",\"nodes\":[],"
	    "\"instances\":{\"a\":{\"owner\":1}}}}",
	    "{\"t\":\"op\",\"op\":\"inst-put\",\"req\":1,\"name\":\"x\"}",
	    "{\"t\":\"op\",\"op\":\"node-add\",\"req\":1,\"name\":5,\"addr\":[]}",
	    "{\"t\":\"op\",\"op\":\"recover\",\"req\":1,\"node\":1,\"moves\":5}",
	    "{\"t\":\"op\",\"op\":\"ha-set\",\"req\":1,\"name\":\"vm1\",\"max_restarts\":-4}",
	    "{\"t\":\"op\",\"op\":\"token\",\"req\":1,\"token\":\"short\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cstate_deliver(&hosts[0], 2, bad[i], strlen(bad[i]));
		CHECK(json_equal(hosts[0].state, before));
	}
	/* A state from a host that is not a member is ignored too. */
	const char *foreign =
	    "{\"t\":\"state\",\"state\":{\"version\":999,\"name\":\"x\",\"nodes\":[],\"instances\":{}}}";
	cstate_deliver(&hosts[0], 9, foreign, strlen(foreign));
	CHECK(json_equal(hosts[0].state, before));
	json_decref(before);
	for (int h = 0; h < HOSTS; h++) cstate_free(&hosts[h]);
	json_decref(queue);
}

TEST_MAIN(test_join_and_operations, test_partition_and_heal, test_persist_failure, test_malformed_messages)
