/*
 * cmd_token.c — `cloison token …`: the API tokens that open cloisond's
 * remote listener (HTTPS, the web interface), managed on the host's unix
 * socket only. A new token is printed once, alone on stdout, so scripts can
 * take it; the daemon keeps only its hash.
 *
 * Exit status: 0 done; 1 refused or failed; 2 usage; 3 daemon unreachable.
 */
#include "commands.h"
#include "daemon_client.h"
#include "output.h"
#include "usage.h"

#include <stdio.h>
#include <string.h>

static int token_usage(FILE *out, int rc)
{
	fprintf(out,
	        "Usage: cloison token create NAME\n"
	        "   or: cloison token list [--format table|json|yaml|csv]\n"
	        "   or: cloison token rm NAME          (revokes it at once)\n"
	        "\n"
	        "API tokens for cloisond's remote listener (cloisond --listen ADDR:PORT): HTTPS clients\n"
	        "send `Authorization: Bearer TOKEN`; the web interface asks for one. `create` prints the\n"
	        "token once on stdout: the daemon keeps only its hash. See docs/web.md.\n");
	return rc;
}

int cmd_token(int argc, char **argv)
{
	static const struct out_column cols[] = {{"NAME", "name", OUT_TEXT},
	                                         {"CREATED", "created_at", OUT_AGE}};
	enum out_format fmt;
	if (out_take_format("token", &argc, argv, &fmt)) return 2;
	if (argc < 2 || cli_help_anywhere(argc, argv))
		return token_usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
	const char *verb = argv[1];
	if (!strcmp(verb, "list") && argc == 2) {
		json_t *a = NULL;
		int st = dc_call("GET", "/v1/tokens", NULL, &a);
		if (st == 200) out_table(stdout, a, cols, sizeof(cols) / sizeof(cols[0]), fmt);
		json_decref(a);
		return dc_rc(st);
	}
	if (!strcmp(verb, "create") && argc == 3) {
		json_t *body = json_pack("{s:s}", "name", argv[2]), *ans = NULL;
		int st = dc_call("POST", "/v1/tokens", body, &ans);
		json_decref(body);
		if (st == 201) {
			printf("%s\n", json_string_value(json_object_get(ans, "token")));
			if (!cli_quiet) /* stderr: stdout holds the token alone, for scripts */
				fprintf(stderr, "created token %s (shown once: keep it now)\n", argv[2]);
		}
		json_decref(ans);
		return dc_rc(st);
	}
	if (!strcmp(verb, "rm") && argc == 3 && strlen(argv[2]) < 100) {
		char path[160];
		snprintf(path, sizeof(path), "/v1/tokens/%s", argv[2]);
		int st = dc_call("DELETE", path, NULL, NULL);
		if (st && st < 300) cli_done("revoked token %s", argv[2]);
		return dc_rc(st);
	}
	return cli_usage_error("token", "unknown verb or wrong arguments: '%s'", verb);
}
