/*
 * clock: monotonic time for deadlines, caches and durations.
 */
#ifndef HXB_CLOCK_H
#define HXB_CLOCK_H

#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC; only differences mean anything. */
long long	 clock_ms(void);

/* Fractional milliseconds elapsed since `start` (CLOCK_MONOTONIC). */
double		 clock_since_ms(const struct timespec *start);

/*
 * Exponential backoff with equal jitter: the delay before retry n
 * (0-based), base_ms doubled n times and at most max_ms (never less
 * than base_ms), of which half
 * is fixed and half taken from rnd, so that retries spread out.
 */
long		 clock_backoff_ms(long base_ms, long max_ms, int n,
		    unsigned rnd);

#endif
