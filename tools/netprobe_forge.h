/* netprobe_forge.h - bf-netprobe forge: hand-built Ethernet frames with forged fields. */
#ifndef BF_NETPROBE_FORGE_H
#define BF_NETPROBE_FORGE_H

/* The forge subcommand; argv[0] is "forge". Returns the exit status: 0 all sent,
 * 1 send error or stopped early, 2 bad usage or no destination MAC. */
int netprobe_forge_main(int argc, char **argv);

#endif
