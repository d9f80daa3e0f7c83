/*
 * fuzz_http.c — libFuzzer harness for the control socket's HTTP request
 * parser: arbitrary bytes as a request. A complete parse must name a method
 * and path and a body inside the input; a refusal must carry a 4xx/5xx
 * status and a reason.
 */
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	int status = 0;
	const char *why = NULL;
	enum http_parse r = http_parse_request((const char *)data, size, &req, &status, &why);
	if (r == HTTP_COMPLETE) {
		if (!req.method[0] || req.path[0] != '/') abort();
		if (req.header_len + req.body_len > size || req.body != (const char *)data + req.header_len)
			abort();
		for (size_t i = 0; i < req.body_len; i++)
			sink ^= (uint8_t)req.body[i]; /* ASan checks the bytes */
	} else if (r == HTTP_BAD) {
		if (status < 400 || status > 599 || !why || !*why) abort();
	}
	return 0;
}
