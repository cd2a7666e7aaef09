/*
 * log: JSON lines; see log.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"

#define LOG_LINE_MAX	(16 * 1024)

static const char *const level_names[LOGL__MAX] = {
	[LOGL_DEBUG] = "DEBUG",
	[LOGL_INFO] = "INFO",
	[LOGL_WARN] = "WARN",
	[LOGL_ERROR] = "ERROR",
};

void
log_init(struct logger *l, const char *service, enum log_level min, int fd)
{
	l->service = service;
	l->min = min;
	l->fd = fd;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *const lower[LOGL__MAX] = {
		"debug", "info", "warn", "error"
	};
	size_t	 i;

	for (i = 0; i < LOGL__MAX; i++)
		if (strcmp(s, lower[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

/* Civil date from days since 1970-01-01 (H. Hinnant's algorithm). */
static void
civil_from_days(long long z, int *y, unsigned *m, unsigned *d)
{
	long long	 era, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	yoe = z - era * 146097;
	yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
	doy = z - era * 146097 - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/*
 * Start a line: {"timestamp":"...","level":"...","service":"...  The date
 * and time down to the second are formatted once a second.
 */
static void
log_open_line(struct buf *b, const struct logger *l, enum log_level lvl)
{
	static char	 stamp[48];
	static time_t	 stamp_sec = -1;
	struct timespec	 ts;
	long long	 secs;
	unsigned	 mo, d;
	int		 y;
	char		 ms[FMT_UINT_MAX];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != stamp_sec) {
		secs = ts.tv_sec;
		civil_from_days(secs / 86400, &y, &mo, &d);
		secs %= 86400;
		snprintf(stamp, sizeof(stamp), "%04d-%02u-%02uT%02lld:%02lld:"
		    "%02lld", y, mo, d, secs / 3600, secs / 60 % 60, secs % 60);
		stamp_sec = ts.tv_sec;
	}
	fmt_uint(ms, (unsigned long long)(ts.tv_nsec / 1000000L), 3);
	buf_addstr(b, "{\"timestamp\":\"");
	buf_addstr(b, stamp);
	buf_addch(b, '.');
	buf_add(b, ms, 3);
	buf_addstr(b, "Z\",\"level\":\"");
	buf_addstr(b, level_names[lvl]);
	buf_addstr(b, "\",\"service\":");
	buf_add_json_string(b, l->service != NULL ? l->service : "");
}

/* Milliseconds with three decimals, as %.3f would print them. */
static void
log_ms(struct buf *b, double ms)
{
	unsigned long long	 us;
	char			 frac[FMT_UINT_MAX];

	if (!(ms >= 0) || ms > 1e12) {		/* NaN, negative, absurd */
		buf_addf(b, "%.3f", ms);
		return;
	}
	us = (unsigned long long)(ms * 1000 + 0.5);
	buf_add_int(b, (long long)(us / 1000));
	buf_addch(b, '.');
	fmt_uint(frac, us % 1000, 3);
	buf_add(b, frac, 3);
}

static void
log_field(struct buf *b, const char *name, const char *v)
{
	buf_addstr(b, ",\"");
	buf_addstr(b, name);
	buf_addstr(b, "\":");
	if (v == NULL)
		buf_addstr(b, "null");
	else
		buf_add_json_string(b, v);
}

/* Write all of p; a short write is retried, a failing one dropped. */
static void
write_all(int fd, const char *p, size_t left)
{
	ssize_t	 n;

	while (left > 0) {
		n = write(fd, p, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

/*
 * Request lines at INFO waiting to be written, at most PIPE_BUF bytes so
 * that one write(2) of them stays atomic on a pipe as on a file: lines of
 * concurrent workers never interleave.  One batch per process.
 */
static struct {
	char		 data[PIPE_BUF];
	size_t		 len;
	int		 fd;
	long long	 since;		/* clock_ms() of the oldest line */
} pend;
static long long	 flush_ms;

void
log_flush(void)
{
	if (pend.len == 0)
		return;
	write_all(pend.fd, pend.data, pend.len);
	pend.len = 0;
}

void
log_buffering(long long ms)
{
	static bool	 registered;

	log_flush();
	flush_ms = ms > 0 ? ms : 0;
	if (flush_ms > 0 && !registered && atexit(log_flush) == 0)
		registered = true;
}

int
log_flush_due(void)
{
	long long	 left;

	if (pend.len == 0)
		return -1;
	left = pend.since + flush_ms - clock_ms();
	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Finish the line and write it in one go, after anything pending so that
 * a process's lines keep their order.  A line that may wait joins the
 * pending batch instead, which is written when full or flush_ms old.
 */
static void
log_write(const struct logger *l, struct buf *b, bool may_wait)
{
	buf_addstr(b, "}\n");
	if (b->failed)
		return;
	if (!may_wait || flush_ms == 0 || b->len > sizeof(pend.data) ||
	    (pend.len > 0 && pend.fd != l->fd)) {
		log_flush();
		write_all(l->fd, b->data, b->len);
		return;
	}
	if (pend.len + b->len > sizeof(pend.data))
		log_flush();
	if (pend.len == 0) {
		pend.fd = l->fd;
		pend.since = clock_ms();
	}
	memcpy(pend.data + pend.len, b->data, b->len);
	pend.len += b->len;
	if (log_flush_due() == 0)
		log_flush();
}

void
log_msg(const struct logger *l, enum log_level lvl, const char *func,
    const char *request_id, const char *fmt, ...)
{
	struct buf	 b = BUF_INIT(LOG_LINE_MAX);
	struct buf	 msg = BUF_INIT(LOG_LINE_MAX / 2);
	va_list		 ap;

	if (lvl < l->min)
		return;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (msg.failed) {
		buf_reset(&msg);
		buf_addstr(&msg, "(log message too long)");
	}
	log_open_line(&b, l, lvl);
	log_field(&b, "request_id", request_id);
	log_field(&b, "func", func);
	log_field(&b, "message", buf_cstr(&msg));
	log_write(l, &b, false);
	buf_release(&msg);
	buf_release(&b);
}

void
log_request(const struct logger *l, const struct log_request *r)
{
	struct buf	 b = BUF_INIT(LOG_LINE_MAX);
	enum log_level	 lvl;

	lvl = r->status >= 500 ? LOGL_ERROR :
	    r->status >= 400 ? LOGL_WARN : LOGL_INFO;
	if (lvl < l->min)
		return;
	log_open_line(&b, l, lvl);
	log_field(&b, "request_id", r->request_id);
	log_field(&b, "user_id", r->user_id);
	log_field(&b, "workspace_id", r->workspace_id);
	log_field(&b, "action", r->action);
	log_field(&b, "resource", r->resource);
	log_field(&b, "result", r->result);
	buf_addstr(&b, ",\"duration_ms\":");
	log_ms(&b, r->duration_ms);
	buf_addstr(&b, ",\"status\":");
	buf_add_int(&b, r->status);
	log_field(&b, "method", r->method);
	log_field(&b, "path", r->path);
	log_write(l, &b, lvl == LOGL_INFO);
	buf_release(&b);
}
