/* main.c - bf-netprobe: runs the role its first argument names; assembles the usage. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "netprobe.h"

void netprobe_usage(FILE *f)
{
	fprintf(f, "Usage:\n");
	serve_usage(f);
	probe_usage(f);
	a2s_client_usage(f);
	forge_usage_brief(f);
	fprintf(f, "  " PROG " --help\n"
		   "Exit status: 0 everything answered, 1 loss or failure, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		netprobe_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		netprobe_usage(stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "udp") || !strcmp(argv[1], "tcp"))
		return cmd_probe(argc - 1, argv + 1, argv[1][0] == 't');
	if (!strcmp(argv[1], "a2s"))
		return cmd_a2s(argc - 1, argv + 1);
	if (!strcmp(argv[1], "forge"))
		return cmd_forge(argc - 1, argv + 1);
	fprintf(stderr, PROG ": unknown command '%s' (serve, udp, tcp, a2s, forge; see --help)\n",
		argv[1]);
	return 2;
}
