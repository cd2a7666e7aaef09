/*
 * clock: monotonic time; see clock.h.
 */
#include "clock.h"

long long
clock_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
clock_since_ms(const struct timespec *start)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

long
clock_backoff_ms(long base_ms, long max_ms, int n, unsigned rnd)
{
	long	 d = base_ms > 0 ? base_ms : 1;
	long	 max = max_ms > d ? max_ms : d;

	while (n-- > 0 && d < max)
		d *= 2;
	if (d > max)
		d = max;
	return d / 2 + (long)(rnd % (unsigned long)(d / 2 + 1));
}
