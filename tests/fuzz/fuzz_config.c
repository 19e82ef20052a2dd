/* fuzz_config.c - an operator's text: the edge's config file (edge_config_parse and
 * validate) and a Redis endpoint string. */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "endpoint.h"
#include "fuzz_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), err[512];
	struct edge_config cfg;
	struct bf_endpoint ep;

	if (!text)
		return 0;
	edge_config_init(&cfg);
	if (!edge_config_parse(&cfg, text, "fuzz.conf", err, sizeof(err)))
		edge_config_validate(&cfg, err, sizeof(err));
	edge_config_free(&cfg);
	bf_endpoint_parse(text, &ep, err, sizeof(err));
	free(text);
	return 0;
}
