/*
 * audit: append a row to audit_log inside the caller's transaction, so a
 * change and its record commit or vanish together.
 */
#ifndef HXB_AUDIT_H
#define HXB_AUDIT_H

#include <stdbool.h>

#include <jansson.h>

struct req;

struct audit {
	const char	*organization_id;	/* NULL if none */
	const char	*workspace_id;		/* NULL if none */
	const char	*actor_id;		/* NULL: anonymous */
	const char	*action;		/* "auth.login" */
	const char	*resource;		/* "users/hxb-usr-…" */
	bool		 failure;
	json_t		*before;		/* borrowed; may be NULL */
	json_t		*after;			/* borrowed; may be NULL */
};

/* 0, or -1 (logged; the caller rolls back). Request id and IP are the request's. */
int	 audit_write(struct req *, const struct audit *);

/* Answer for a failed database call: 503 if unreachable or slow, else 500. */
void	 db_problem(struct req *);

#endif
