/* metrics.c - GET /metrics for Prometheus, served from the edge's event loop.
 * A scrape reads the counters at that moment (exact totals, no rates: the
 * server computes those); requests are bounded in size and time. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

#define METRICS_MAX_HEADERS 8192
#define METRICS_MAX_BODY 1024
#define METRICS_TIMEOUT_S 5

struct edge_metrics {
	struct evhttp *http;
	edge_metrics_fill_cb fill;
	void *ctx;
	uint64_t scrapes;
};

const char *edge_metrics_label_esc(const char *s, char *buf, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return buf;
	for (; s && *s; s++) {
		const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		size_t n = rep ? 2 : 1;

		if (o + n >= cap)
			break; /* cut before a whole escape, never inside one */
		if (rep)
			memcpy(buf + o, rep, 2);
		else
			buf[o] = *s;
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(FILE *f, const char *name, const char *type, const char *help,
		   unsigned long long v)
{
	head(f, name, type, help);
	fprintf(f, "%s %llu\n", name, v);
}

static void conn_metric(FILE *f, const struct edge_metrics_snap *s, const char *name,
			const char *help, bool bytes)
{
	head(f, name, "counter", help);
	for (size_t i = 0; i < s->sample.n_conns; i++) {
		const struct edge_conn_sample *c = &s->sample.conns[i];
		char a[BF_ADDR_STRLEN];
		const char *proto = bf_proto_name(c->key.proto);
		unsigned port = ntohs(c->key.bind_port);

		bf_ipv4_str(c->key.bind_ip, a);
		fprintf(f, "%s{proto=\"%s\",bind=\"%s:%u\",direction=\"in\"} %llu\n", name,
			proto ? proto : "other", a, port,
			(unsigned long long)(bytes ? c->c.in_bytes : c->c.in_packets));
		fprintf(f, "%s{proto=\"%s\",bind=\"%s:%u\",direction=\"out\"} %llu\n", name,
			proto ? proto : "other", a, port,
			(unsigned long long)(bytes ? c->c.out_bytes : c->c.out_packets));
	}
}

/* The handshake validation counters of the connections that validate (and those that
 * did: the counters outlive a change of the connection). */
static void conn_validation(FILE *f, const struct edge_metrics_snap *s)
{
	static const char *const what[] = { "handshake_passed", "unvalidated_dropped", "validated" };

	head(f, "bifrost_conn_validation_total", "counter",
	     "Per connection with `validate`: handshake or query packets of unvalidated sources "
	     "passed, packets of unvalidated sources dropped, clients validated here.");
	for (size_t i = 0; i < s->sample.n_conns; i++) {
		const struct edge_conn_sample *c = &s->sample.conns[i];
		const uint64_t v[] = { c->c.hs_packets, c->c.unvalidated, c->c.validated };
		char a[BF_ADDR_STRLEN];

		if (!v[0] && !v[1] && !v[2])
			continue;
		bf_ipv4_str(c->key.bind_ip, a);
		for (int j = 0; j < 3; j++)
			fprintf(f, "bifrost_conn_validation_total{proto=\"%s\",bind=\"%s:%u\",event=\"%s\"} "
				   "%llu\n",
				bf_proto_name(c->key.proto), a, ntohs(c->key.bind_port), what[j],
				(unsigned long long)v[j]);
	}
}

int edge_metrics_render(const struct edge_metrics_snap *s, FILE *f)
{
	char v[128], id[160];

	head(f, "bifrost_build_info", "gauge", "Version of the running bifrost-edge (always 1).");
	fprintf(f, "bifrost_build_info{version=\"%s\",edge=\"%s\"} 1\n",
		edge_metrics_label_esc(s->version, v, sizeof(v)),
		edge_metrics_label_esc(s->id, id, sizeof(id)));

	head(f, "bifrost_packets_total", "counter",
	     "Packets by XDP verdict reason; verdict is drop, forward or pass, or side for a "
	     "count beside the packet's verdict (sum verdict!=\"side\" for what was received).");
	for (unsigned r = 0; r < BF_R_MAX; r++)
		fprintf(f, "bifrost_packets_total{reason=\"%s\",verdict=\"%s\"} %llu\n",
			bf_reason_name(r), bf_verdict_name(bf_reason_verdict(r)),
			(unsigned long long)s->sample.r[r].packets);
	head(f, "bifrost_bytes_total", "counter",
	     "Bytes (whole frames) by XDP verdict reason; verdict as bifrost_packets_total.");
	for (unsigned r = 0; r < BF_R_MAX; r++)
		fprintf(f, "bifrost_bytes_total{reason=\"%s\",verdict=\"%s\"} %llu\n",
			bf_reason_name(r), bf_verdict_name(bf_reason_verdict(r)),
			(unsigned long long)s->sample.r[r].bytes);

	conn_metric(f, s, "bifrost_conn_packets_total",
		    "Packets of a connection: in = player to game server (forwarded), out = replies.",
		    false);
	conn_validation(f, s);
	conn_metric(f, s, "bifrost_conn_bytes_total",
		    "IP bytes of a connection's player-side packets, by direction.", true);

	scalar(f, "bifrost_blacklist_entries", "gauge", "Blacklist entries in the map.",
	       s->bl_entries);
	scalar(f, "bifrost_whitelist_entries", "gauge", "Whitelist entries in the map.",
	       s->wl_entries);

	{
		static const char *why[5] = { "unknown_machine", "not_served", "machine_budget",
					      "table_full", "origin_cap" };

		head(f, "bifrost_punches_refused_total", "counter",
		     "Peers' punches this edge refused to apply, by why (XDP's own refusals are "
		     "bifrost_packets_total{reason=\"punch_refused\"}).");
		for (int i = 0; i < 5; i++)
			fprintf(f, "bifrost_punches_refused_total{why=\"%s\"} %llu\n", why[i],
				(unsigned long long)s->punch_refused[i]);
	}
	if (s->n_guard) {
		head(f, "bifrost_bus_refused_total", "counter",
		     "What this edge refused from the fleet bus, by kind and why: prefix (shorter "
		     "than min_prefix), cap (over max_per_origin), match_all (a rule dropping every "
		     "packet), too_many and too_big (a key over its cap or a value over its size: "
		     "not read).");
		for (size_t i = 0; i < s->n_guard; i++)
			fprintf(f, "bifrost_bus_refused_total{kind=\"%s\",why=\"%s\"} %llu\n",
				s->guard[i].kind, s->guard[i].why,
				(unsigned long long)s->guard[i].n);
	}
	scalar(f, "bifrost_publish_capped_total", "counter",
	       "Own entries not published: more than publish_max_pps a second.", s->publish_capped);
	scalar(f, "bifrost_sync_connected", "gauge",
	       "1 when the Redis command connection is up (0 also when no Redis is configured).",
	       s->fleet && s->sync_connected);
	scalar(f, "bifrost_sync_pending_writes", "gauge",
	       "Own entries waiting to be written to Redis.", s->sync.pending);
	scalar(f, "bifrost_sync_peers", "gauge", "Peer origins whose logs this edge follows.",
	       s->sync.peers);
	scalar(f, "bifrost_sync_connects_total", "counter", "Redis connections established.",
	       s->sync.connects);
	scalar(f, "bifrost_sync_primary_switches_total", "counter",
	       "Redis Sentinel: times the sentinels moved the primary (+switch-master), each "
	       "followed by every connection.",
	       s->sync.primary_switches);
	scalar(f, "bifrost_sync_writes_total", "counter", "Own entries written to Redis.",
	       s->sync.written);
	scalar(f, "bifrost_sync_pruned_total", "counter",
	       "Own expired entries removed from Redis (each a del record).", s->sync.pruned);
	scalar(f, "bifrost_sync_dropped_writes_total", "counter",
	       "Own entries dropped because the write buffer was full.", s->sync.dropped);
	scalar(f, "bifrost_sync_records_total", "counter", "Peer log records applied.",
	       s->sync.records);
	scalar(f, "bifrost_sync_resyncs_total", "counter", "Full resyncs from a peer's ZSET.",
	       s->sync.resyncs);
	scalar(f, "bifrost_sync_bad_records_total", "counter",
	       "Peer log records refused as invalid.", s->sync.bad_records);
	scalar(f, "bifrost_sync_bad_frames_total", "counter",
	       "Event-channel frames refused as invalid.", s->sync.bad_frames);
	scalar(f, "bifrost_sync_deadline_misses_total", "counter",
	       "Redis connections torn down because a command or read went unanswered (a dead peer).",
	       s->sync.deadline_misses);
	scalar(f, "bifrost_sync_login_failures_total", "counter",
	       "Logins Redis refused (user or password).", s->sync.login_failures);
	scalar(f, "bifrost_sync_read_errors_total", "counter",
	       "Reads of peers' logs Redis refused (WRONGTYPE, NOPERM, a bad cursor).",
	       s->sync.read_errors);
	scalar(f, "bifrost_sync_bad_logs", "gauge",
	       "Peers' logs skipped now because Redis refuses them (retried with backoff).",
	       s->sync.bad_logs);
	scalar(f, "bifrost_sync_write_retries_total", "counter",
	       "Batches of own writes Redis refused whole (out of memory, ...) and that were kept to "
	       "send again.", s->sync.write_retries);
	scalar(f, "bifrost_sync_write_errors_total", "counter",
	       "Own writes Redis refused for good (a key of the wrong type, the ACL).",
	       s->sync.write_errors);
	scalar(f, "bifrost_sync_id_conflict", "gauge",
	       "1 while another live edge holds this edge's id: this one publishes nothing.",
	       s->fleet && s->sync.id_conflict);
	head(f, "bifrost_sync_link_up", "gauge",
	     "1 while this Redis connection is up (commands, stream reads, events).");
	for (int i = 0; i < SYNC_LINKS; i++) {
		static const char *const links[SYNC_LINKS] = { "commands", "reads", "events" };

		fprintf(f, "bifrost_sync_link_up{link=\"%s\"} %d\n", links[i],
			s->fleet && s->sync.link_state[i] && !strcmp(s->sync.link_state[i], "up"));
	}
	if (s->fleet && s->sync.replica_set) {
		scalar(f, "bifrost_sync_replica_reading", "gauge",
		       "1 while the stream reads, events and plain reads go to the read replica "
		       "(redis_replica); 0 while they are on the primary.",
		       s->sync.replica_reading);
		scalar(f, "bifrost_sync_replica_link_up", "gauge",
		       "1 while the connection to the read replica is up.",
		       !strcmp(s->sync.replica_link, "up"));
		scalar(f, "bifrost_sync_replica_fallbacks_total", "counter",
		       "Times reads left the read replica for the primary (down, lagging, promoted, "
		       "its link to the primary down).",
		       s->sync.replica_fallbacks);
		if (s->sync.replica_lag_ms >= 0) {
			head(f, "bifrost_sync_replica_lag_seconds", "gauge",
			     "How far the read replica was behind the primary at the last check "
			     "(a lower bound, to the half-second checks).");
			fprintf(f, "bifrost_sync_replica_lag_seconds %.3f\n",
				(double)s->sync.replica_lag_ms / 1000.0);
		}
	}
	head(f, "bifrost_sync_divergence_total", "counter",
	     "Peers' lists found changed without their log and read again, by how it was found.");
	fprintf(f, "bifrost_sync_divergence_total{found_by=\"notification\"} %llu\n",
		(unsigned long long)s->sync.bare_writes);
	fprintf(f, "bifrost_sync_divergence_total{found_by=\"digest\"} %llu\n",
		(unsigned long long)s->sync.digest_mismatches);
	scalar(f, "bifrost_stats_frames_total", "counter",
	       "Stats frames published to Redis and answered.", s->stats_frames);
	scalar(f, "bifrost_stats_frames_dropped_total", "counter",
	       "Stats frames not published: Redis away or the previous second unanswered.",
	       s->stats_dropped);
	scalar(f, "bifrost_stats_frames_refused_total", "counter",
	       "Stats frames Redis did not take: a command refused (NOPERM, OOM) or the "
	       "connection lost while they were in flight.",
	       s->stats_refused);
	if (s->a2s) {
		static const char *kinds[] = { "info", "player", "rules" };
		const struct edge_a2s_counters *c = &s->a2s_counters;

		scalar(f, "bifrost_a2s_workers", "gauge", "AF_XDP sockets answering A2S queries.",
		       c->workers);
		fprintf(f, "# HELP bifrost_a2s_requests_total A2S requests the AF_XDP workers "
			   "handled, by outcome.\n# TYPE bifrost_a2s_requests_total counter\n");
		fprintf(f, "bifrost_a2s_requests_total{outcome=\"served\"} %llu\n",
			(unsigned long long)c->served);
		fprintf(f, "bifrost_a2s_requests_total{outcome=\"challenged\"} %llu\n",
			(unsigned long long)c->challenged);
		fprintf(f, "bifrost_a2s_requests_total{outcome=\"bad\"} %llu\n",
			(unsigned long long)c->bad);
		fprintf(f, "bifrost_a2s_requests_total{outcome=\"dropped\"} %llu\n",
			(unsigned long long)c->dropped);
		fprintf(f, "# HELP bifrost_a2s_cache_age_seconds Time since the cached reply last "
			   "changed (a refresher stored a new answer).\n"
			   "# TYPE bifrost_a2s_cache_age_seconds gauge\n");
		for (size_t i = 0; i < s->n_a2s_seen; i++) {
			const struct edge_a2s_seen *a = &s->a2s_seen[i];
			char ip[BF_ADDR_STRLEN];

			if (a->kind < 0 || a->kind > 2)
				continue;
			fprintf(f, "bifrost_a2s_cache_age_seconds{bind=\"%s:%u\",kind=\"%s\"} %.3f\n",
				bf_ipv4_str(a->ip, ip), a->port, kinds[a->kind],
				(double)(s->now_ms - a->changed_ms) / 1000.0);
		}
		fprintf(f, "# HELP bifrost_a2s_cache_ttl_seconds TTL the cached reply had left in "
			   "Redis when last read.\n# TYPE bifrost_a2s_cache_ttl_seconds gauge\n");
		for (size_t i = 0; i < s->n_a2s_seen; i++) {
			const struct edge_a2s_seen *a = &s->a2s_seen[i];
			char ip[BF_ADDR_STRLEN];

			if (a->kind < 0 || a->kind > 2)
				continue;
			fprintf(f, "bifrost_a2s_cache_ttl_seconds{bind=\"%s:%u\",kind=\"%s\"} %.3f\n",
				bf_ipv4_str(a->ip, ip), a->port, kinds[a->kind],
				(double)(a->ttl_ms - (s->now_ms - a->read_ms)) / 1000.0);
		}
	}
	return ferror(f) ? -EIO : 0;
}

static void reply_text(struct evhttp_request *req, int code, const char *reason,
		       const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	if (b)
		evbuffer_add_printf(b, "%s\n", body);
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct edge_metrics *m = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct edge_metrics_snap s;
	struct evbuffer *b;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!path || strcmp(path, "/metrics")) {
		reply_text(req, HTTP_NOTFOUND, "Not Found", "not found: only /metrics is served");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		reply_text(req, 405, "Method Not Allowed", "method not allowed: GET only");
		return;
	}
	memset(&s, 0, sizeof(s));
	rc = m->fill(m->ctx, &s);
	f = rc ? NULL : open_memstream(&text, &len);
	if (!f || edge_metrics_render(&s, f)) {
		if (f)
			fclose(f);
		free(text);
		edge_stats_sample_free(&s.sample);
		reply_text(req, HTTP_INTERNAL, "Internal Server Error", "reading the counters failed");
		return;
	}
	fclose(f);
	edge_stats_sample_free(&s.sample);
	m->scrapes++;
	b = evbuffer_new();
	if (b)
		evbuffer_add(b, text, len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	if (b)
		evbuffer_free(b);
	free(text);
}

struct edge_metrics *edge_metrics_new(struct event_base *base, uint32_t addr, uint16_t port,
				      edge_metrics_fill_cb fill, void *ctx)
{
	struct edge_metrics *m = calloc(1, sizeof(*m));
	char a[BF_ADDR_STRLEN];

	if (!m)
		return NULL;
	bf_ipv4_str(addr, a);
	m->fill = fill;
	m->ctx = ctx;
	m->http = evhttp_new(base);
	if (!m->http) {
		free(m);
		return NULL;
	}
	/* A slow or hostile client cannot hold memory or the loop for long. */
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_gencb(m->http, on_request, m);
	if (!evhttp_bind_socket_with_handle(m->http, a, port)) {
		pr_err("metrics: cannot listen on %s:%u: %s", a, port, strerror(errno));
		evhttp_free(m->http);
		free(m);
		return NULL;
	}
	pr_info("metrics: serving http://%s:%u/metrics", a, port);
	return m;
}

void edge_metrics_free(struct edge_metrics *m)
{
	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
}
