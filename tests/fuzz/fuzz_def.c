/*
 * fuzz_def.c — libFuzzer harness for cloisond's definition parser (what
 * `POST /v1/instances` and `cloison create -f` take from any client): bytes
 * as JSON, then as a definition and as a limits PATCH. A refusal must carry
 * a message; an accepted definition must print and parse back to the same
 * JSON (the `info` / `create -f` round trip).
 */
#include "daemon/def.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!j) return 0;
	struct inst_def d;
	char err[512] = "";
	if (inst_def_from_json(j, &d, err, sizeof(err))) {
		json_t *out = inst_def_to_json(&d);
		struct inst_def d2;
		char err2[512];
		if (!out || !inst_def_from_json(out, &d2, err2, sizeof(err2))) abort();
		json_t *out2 = inst_def_to_json(&d2);
		if (!json_equal(out, out2)) abort();
		json_decref(out);
		json_decref(out2);
		inst_def_free(&d2);
		inst_def_free(&d);
	} else if (!err[0]) {
		abort();
	}
	struct inst_limits l = {0};
	err[0] = 0;
	if (!inst_limits_from_json(j, &l, err, sizeof(err)) && !err[0]) abort();
	json_decref(j);
	return 0;
}
