/*
 * authz: who may call what, as one table.
 *
 * Every route names the permission it needs (struct route's perm).  A
 * handler learns the caller's relation to the resource the route is about
 * (from PostgreSQL, in the request's transaction: tenant.h) and asks
 * authz_decide() for the verdict; the table in authz.c is the whole
 * policy, and docs/AUTHZ.md shows it.
 *
 * Relations are about one resource: for an organization route, the
 * caller's role in it; for a workspace, project, group or task route, the
 * caller's access to its workspace.  An organization member who holds no
 * group in a workspace does not see it: for workspace routes they are a
 * stranger.  A stranger gets 404 for everything, exactly as for an id
 * that never existed, so that ids cannot be probed; a caller who can see
 * the resource but lacks the permission gets 403.
 */
#ifndef HXB_AUTHZ_H
#define HXB_AUTHZ_H

#include <stdbool.h>

enum perm {
	PERM_UNSET,		/* a route that names none: refused at start */
	PERM_PUBLIC,		/* anyone, without a token */
	PERM_SIGNED_IN,		/* any valid access token */
	PERM_ORG_READ,		/* members of the organization */
	PERM_ORG_ADMIN,		/* its admins */
	PERM_ORG_SELF,		/* its admins, or a member about themselves */
	PERM_WS_READ,		/* whoever sees the workspace */
	PERM_WS_ADMIN,		/* workspace admins */
	PERM__MAX
};

enum authz_rel {
	REL_ANONYMOUS,		/* no valid token */
	REL_STRANGER,		/* signed in, and nothing to do with it */
	REL_ORG_MEMBER,		/* a member of the organization */
	REL_WS_VIEWER,		/* sees the workspace through a group */
	REL_WS_ADMIN,		/* a group bound to hexabase:workspace-admin */
	REL_ORG_ADMIN,		/* an admin of the organization */
	REL__MAX
};

enum authz_verdict {
	AZ_ALLOW,
	AZ_SELF,		/* allowed about oneself only, else 403 */
	AZ_UNAUTHORIZED,	/* 401 */
	AZ_NOT_FOUND,		/* 404: no existence oracle */
	AZ_FORBIDDEN,		/* 403 */
	AZ__MAX
};

enum authz_verdict authz_decide(enum perm, enum authz_rel);

/* Names as docs/AUTHZ.md and `handler --routes` print them. */
const char	*authz_perm_name(enum perm);
const char	*authz_rel_name(enum authz_rel);
const char	*authz_verdict_name(enum authz_verdict);

/* An organization role ("admin", "member", anything else) as a relation. */
enum authz_rel	 authz_org_rel(const char *role);

/* A workspace access ("admin", "viewer", anything else) as a relation. */
enum authz_rel	 authz_ws_rel(const char *access);

/* Whether a permission is about a workspace (else an organization). */
bool		 authz_ws_scoped(enum perm);

#endif
