/* common.c - the clock, shell-command, sort and interface helpers of common.h. */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ms(void)
{
	return mono_ns() / 1000000;
}

double mono_s(void)
{
	return (double)mono_ns() / 1e9;
}

int sh_vrun(const char *who, const char *fmt, va_list ap)
{
	char cmd[1024];

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	if (system(cmd) == 0)
		return 0;
	if (who)
		fprintf(stderr, "%s: command failed: %s\n", who, cmd);
	return -EIO;
}

int sh_run(const char *who, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sh_vrun(who, fmt, ap);
	va_end(ap);
	return rc;
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int if_hwaddr(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr))
		rc = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (s >= 0)
		close(s);
	return rc;
}
