/* bench_fanout_report.c - bf-bench fanout's results: the run's JSON object over every
 * (follower, record) pair and per record, and the library's log replayed without the
 * refusals the bench causes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fanout_int.h"
#include "bench_fleet.h"

static void print_dist(const char *name, double *v, size_t n)
{
	double p50 = bench_quantile(v, n, 0.50), p99 = bench_quantile(v, n, 0.99);

	if (!n) {
		printf("\"%s\":{\"n\":0}", name);
		return;
	}
	printf("\"%s\":{\"n\":%zu,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}", name, n, p50,
	       p99, v[n - 1]);
}

/* A log line without its time stamp ("2026-11-30T12:00:00.123Z "). */
static const char *untimed(const char *line)
{
	const char *sp = strchr(line, ' ');

	return sp && sp - line == 24 ? sp + 1 : line;
}

/* The library's log lines, but the refusals to join <prefix>edges this bench causes; a
 * message many followers logged (a connect storm, the same cursor) once, at its first
 * time, with how many times. */
unsigned fanout_replay_log(FILE *tmp, const char *prefix)
{
	enum { DISTINCT = 256 };
	static char line[2048];
	static char *msg[DISTINCT];
	static unsigned times[DISTINCT];
	char pat[128];
	unsigned joins = 0, n = 0;

	snprintf(pat, sizeof(pat), " to %sedges (", prefix);
	rewind(tmp);
	while (fgets(line, sizeof(line), tmp)) {
		unsigned i;

		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "Redis refused to add ") && strstr(line, pat)) {
			joins++;
			continue;
		}
		for (i = 0; i < n && strcmp(untimed(msg[i]), untimed(line)); i++)
			;
		if (i < n) {
			times[i]++;
		} else if (n < DISTINCT && (msg[n] = strdup(line))) {
			times[n++] = 1;
		} else {
			fprintf(fanout_say_f, "%s\n", line);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (times[i] > 1)
			fprintf(fanout_say_f, "%s (%u times)\n", msg[i], times[i]);
		else
			fprintf(fanout_say_f, "%s\n", msg[i]);
		free(msg[i]);
	}
	fflush(fanout_say_f);
	return joins;
}

int fanout_report(struct fan *fan, double *ping, size_t n_ping, double *ping_rep,
		  size_t n_ping_rep, unsigned joins_refused)
{
	size_t n_pairs = 0, n_last = 0;
	double *pairs, *last;
	unsigned got_min = fan->k, got_max = 0, incomplete = 0, on_rep = 0, up = 0;
	unsigned long long missing = 0, dup = 0, early = 0;
	uint64_t resyncs = 0, gaps = 0, mismatches = 0, disconnects = 0, fallbacks = 0;
	const char *why_not = NULL;
	double wall = fan->t_end - fan->t_write0;
	int rc = 0;

	printf("{\"config\":\"%s\",\"followers\":%u,\"records\":%u,\"interval_ms\":%d,"
	       "\"threads\":%u,\"replicas\":%u,",
	       fan->n_rep ? "replicas" : "single", fan->n, fan->k, fan->interval_ms, fan->threads,
	       fan->n_rep);
	print_dist("ping", ping, n_ping);
	printf(",");
	if (fan->n_rep) {
		print_dist("ping_replica", ping_rep, n_ping_rep);
		printf(",");
	}
	if (fan->fail) {
		printf("\"ok\":false,\"why\":\"%s\"}\n", fan->fail);
		fanout_say("%u followers, %s: not measured: %s", fan->n,
		    fan->n_rep ? "replicas" : "one Redis", fan->fail);
		return 0; /* a capacity found, not a broken bench: the JSON says why */
	}
	pairs = malloc(((size_t)fan->n * fan->k + 1) * sizeof(double));
	last = malloc(((size_t)fan->k + 1) * sizeof(double));
	if (!pairs || !last)
		return 1;
	for (unsigned i = 0; i < fan->n; i++) {
		struct follower *f = &fan->f[i];

		for (unsigned j = 1; j <= fan->k; j++)
			if (!isnan(f->lat_us[j]))
				pairs[n_pairs++] = f->lat_us[j];
		got_min = f->got < got_min ? f->got : got_min;
		got_max = f->got > got_max ? f->got : got_max;
		incomplete += f->got < fan->k;
		missing += fan->k - f->got;
		dup += f->dup;
		early += f->early;
		on_rep += f->on_replica;
		up += f->links_up;
		resyncs += f->resyncs;
		gaps += f->gaps;
		mismatches += f->digest_mismatches;
		disconnects += f->disconnects;
		fallbacks += f->replica_fallbacks;
		if (fan->n_rep && !f->on_replica && !why_not)
			why_not = f->why[0] ? f->why : "(not said)";
	}
	/* Per record: the last follower's time, for the records every follower got. */
	for (unsigned j = 1; j <= fan->k; j++) {
		double m = 0;
		unsigned n = 0;

		for (unsigned i = 0; i < fan->n; i++)
			if (!isnan(fan->f[i].lat_us[j])) {
				n++;
				m = fan->f[i].lat_us[j] > m ? fan->f[i].lat_us[j] : m;
			}
		if (n == fan->n)
			last[n_last++] = m;
	}
	printf("\"ready_s\":%.2f,\"primed_s\":%.2f,\"write_s\":%.3f,",
	       fan->t_ready_at - fan->t_start, fan->t_primed_at - fan->t_start,
	       fan->t_write1 - fan->t_write0);
	print_dist("latency", pairs, n_pairs);
	printf(",");
	print_dist("last_follower", last, n_last);
	printf(",\"got_min\":%u,\"got_max\":%u,\"incomplete\":%u,\"missing\":%llu,"
	       "\"duplicates\":%llu,\"write_errors\":%d,\"links_up_at_end\":%u,"
	       "\"joins_refused\":%u,",
	       got_min, got_max, incomplete, missing, dup, fan->write_errors, up, joins_refused);
	/* summed over the followers, from the priming record on */
	printf("\"resyncs\":%llu,\"gaps\":%llu,\"digest_mismatches\":%llu,\"disconnects\":%llu,",
	       (unsigned long long)resyncs, (unsigned long long)gaps,
	       (unsigned long long)mismatches, (unsigned long long)disconnects);
	if (fan->n_rep)
		printf("\"on_replica_at_start\":%u,\"on_replica_at_end\":%u,\"replica_fallbacks\":%llu,"
		       "\"replica_why\":\"%s\",",
		       fan->rep_at_start, on_rep, (unsigned long long)fallbacks,
		       why_not ? why_not : "");
	printf("\"bench_cpu_pct\":%.0f,\"redis_cpu_pct\":[", (fan->cpu1 - fan->cpu0) / wall * 100);
	for (unsigned s = 0; s <= fan->n_rep; s++)
		printf("%s%.0f", s ? "," : "", (fan->rcpu1[s] - fan->rcpu0[s]) / wall * 100);
	printf("],\"ok\":%s}\n", missing || early ? "false" : "true");
	if (missing || early) {
		unsigned shown = 0;

		fanout_say("FAILURE: %u of %u followers did not get every record: %llu (follower, record) "
		    "pairs missing %d s after the last write%s",
		    incomplete, fan->n, missing, fan->drain_s,
		    early ? " (some arrived before their write time was taken: a bench bug)" : "");
		for (unsigned i = 0; i < fan->n && shown < 5; i++)
			if (fan->f[i].got < fan->k) {
				fanout_say("  %s got %u of %u", fan->f[i].origin, fan->f[i].got, fan->k);
				shown++;
			}
		rc = 1;
	}
	if (fan->n_rep && on_rep < fan->n)
		fanout_say("NOTE: %u of %u followers read from the primary, not their replica, at the end "
		    "(one said: %s)",
		    fan->n - on_rep, fan->n, why_not ? why_not : "");
	free(pairs);
	free(last);
	return rc;
}
