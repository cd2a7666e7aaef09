/*
 * log: one JSON object per line on a file descriptor (stderr by default).
 *
 * Request lines carry the seed's fields (timestamp, level, service,
 * request_id, user_id, workspace_id, action, resource, result, duration_ms)
 * plus status, method and path.  Each line is written with one write(2) so
 * that lines from concurrent worker processes never interleave.
 *
 * Request lines at INFO may wait, when log_buffering() allows it, in one
 * per-process batch of at most PIPE_BUF bytes, written in one write(2)
 * when it is full, when its oldest line is that old, before any other
 * line, by log_flush() and at exit.  Warnings and errors never wait.
 *
 * Ownership: a struct logger borrows `service`; it must outlive the logger.
 */
#ifndef HXB_LOG_H
#define HXB_LOG_H

#include <stdarg.h>

enum log_level {
	LOGL_DEBUG,
	LOGL_INFO,
	LOGL_WARN,
	LOGL_ERROR,
	LOGL__MAX
};

struct logger {
	const char	*service;
	enum log_level	 min;
	int		 fd;
};

/* The per-request fields; NULL strings are written as JSON null. */
struct log_request {
	const char	*request_id;
	const char	*user_id;
	const char	*workspace_id;
	const char	*action;
	const char	*resource;
	const char	*result;
	const char	*method;
	const char	*path;
	int		 status;
	double		 duration_ms;
};

void	 log_init(struct logger *, const char *service, enum log_level, int fd);
int	 log_level_parse(const char *, enum log_level *);

/* A free-form event; `func` is __func__ of the caller. */
void	 log_msg(const struct logger *, enum log_level, const char *func,
	    const char *request_id, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

void	 log_request(const struct logger *, const struct log_request *);

/* Let INFO request lines wait up to `ms` (0: write every line at once). */
void	 log_buffering(long long ms);
/* Write the waiting lines now. */
void	 log_flush(void);
/* Milliseconds until the waiting lines are due: -1 none, 0 now. */
int	 log_flush_due(void);

#define log_error(l, ...)	log_msg((l), LOGL_ERROR, __func__, NULL, __VA_ARGS__)
#define log_warn(l, ...)	log_msg((l), LOGL_WARN, __func__, NULL, __VA_ARGS__)
#define log_info(l, ...)	log_msg((l), LOGL_INFO, __func__, NULL, __VA_ARGS__)
#define log_debug(l, ...)	log_msg((l), LOGL_DEBUG, __func__, NULL, __VA_ARGS__)

#endif
