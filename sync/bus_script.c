/* bus_script.c - the bus's Lua as a Functions library and as an EVAL script. */
#include <stdlib.h>
#include <string.h>

#include "bus_script.h"

extern const char bf_bus_lua[];

const char *bf_bus_library(void)
{
	return bf_bus_lua;
}

/* The library under a plain "#!lua" line (a script with flags: Redis then
 * refuses it whole when out of memory, before any write, as it does a
 * function), a local `redis` whose register_function does nothing (EVAL has
 * none), then a call of the batch writer: the edges run exactly the code the
 * library holds. */
const char *bf_bus_eval_script(void)
{
	static const char head[] =
		"#!lua\n"
		"local redis = setmetatable({ register_function = function() end },"
		" { __index = redis })\n";
	static const char tail[] = "\nreturn batch(KEYS, ARGV)\n";
	static char *script;
	const char *body = strchr(bf_bus_lua, '\n');
	size_t n;

	if (script)
		return script;
	body = body ? body + 1 : bf_bus_lua;
	n = strlen(head) + strlen(body) + strlen(tail) + 1;
	script = malloc(n);
	if (!script)
		return NULL;
	strcpy(script, head);
	strcat(script, body);
	strcat(script, tail);
	return script;
}
