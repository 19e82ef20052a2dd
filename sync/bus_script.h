/* bus_script.h - the bus's Lua (sync/bifrost.lua): the Redis Functions library
 * `bifrost` (FUNCTION LOAD) and, built from the same source, the EVAL script
 * the edges write with (they may not load functions). */
#ifndef BF_BUS_SCRIPT_H
#define BF_BUS_SCRIPT_H

#define BF_BUS_LIBRARY "bifrost"

/* The library's source, for FUNCTION LOAD [REPLACE]. */
const char *bf_bus_library(void);

/* The same code as one EVAL script running bifrost_batch(KEYS, ARGV):
 * built once, never freed. NULL only if out of memory. */
const char *bf_bus_eval_script(void);

#endif
