/* schema.h - the Redis schema (docs/REDIS.md) as pure functions: includes every part of it. */
/* Nothing here talks to Redis; everything read from Redis is validated here
 * first. One header a record kind; includers need only this one. */
#ifndef BF_SCHEMA_H
#define BF_SCHEMA_H

#include "schema_keys.h"
#include "schema_field.h"
#include "schema_entry.h"
#include "schema_limits.h"
#include "schema_conn.h"
#include "schema_rule.h"
#include "schema_log.h"
#include "schema_evt.h"
#include "schema_stats.h"
#include "schema_msgpack.h"
#include "schema_acl.h"

#endif
