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

#endif
