/* rules_fixture.c - the fixture of the rule and limit tables (rules_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "rules_fixture.h"

void config(const char *rules)
{
	char text[8192];

	snprintf(text, sizeof(text), "%s%s", BASE, rules ? rules : "");
	harness_config(text);
}

int group_setup(void **state)
{
	if (harness_setup())
		return -1;
	return 0;
}

int group_teardown(void **state)
{
	harness_teardown();
	return 0;
}

struct bf_counter rule_counter(uint32_t id)
{
	struct edge_rule_stat *st;
	struct bf_counter c = { 0 };
	size_t n;

	assert_int_equal(edge_maps_rule_stats(&H.maps.fd, &st, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (st[i].id == id) {
			c.packets = st[i].packets;
			c.bytes = st[i].bytes;
		}
	free(st);
	return c;
}

int rule_live(uint32_t id)
{
	struct edge_rule_stat *st;
	size_t n;
	int live = 0;

	assert_int_equal(edge_maps_rule_stats(&H.maps.fd, &st, &n), 0);
	for (size_t i = 0; i < n; i++)
		live |= st[i].id == id;
	free(st);
	return live;
}

