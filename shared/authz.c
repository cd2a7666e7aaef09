/*
 * authz: the policy table; see authz.h and docs/AUTHZ.md.
 */
#include <string.h>

#include "authz.h"

#define A	AZ_ALLOW
#define S	AZ_SELF
#define U	AZ_UNAUTHORIZED
#define N	AZ_NOT_FOUND
#define F	AZ_FORBIDDEN

/*
 * Rows: what a route needs.  Columns: who is asking, in relation to the
 * resource.  A workspace member who is also an organization member is
 * judged, for organization routes, as the member they are; an
 * organization member without a group in a workspace is, for that
 * workspace, a stranger (REL_STRANGER), never REL_ORG_MEMBER.
 */
static const enum authz_verdict table[PERM__MAX][REL__MAX] = {
	/*		   anonym  strangr  member  viewer  wsadm  orgadm */
	[PERM_UNSET] =	   { U,     N,       N,      N,      N,     N },
	[PERM_PUBLIC] =	   { A,     A,       A,      A,      A,     A },
	[PERM_SIGNED_IN] = { U,     A,       A,      A,      A,     A },
	[PERM_ORG_READ] =  { U,     N,       A,      A,      A,     A },
	[PERM_ORG_ADMIN] = { U,     N,       F,      F,      F,     A },
	[PERM_ORG_SELF] =  { U,     N,       S,      S,      S,     A },
	[PERM_WS_READ] =   { U,     N,       N,      A,      A,     A },
	[PERM_WS_ADMIN] =  { U,     N,       N,      F,      A,     A },
};

static const char *const perm_names[PERM__MAX] = {
	[PERM_UNSET] = "unset",
	[PERM_PUBLIC] = "public",
	[PERM_SIGNED_IN] = "signed_in",
	[PERM_ORG_READ] = "org_read",
	[PERM_ORG_ADMIN] = "org_admin",
	[PERM_ORG_SELF] = "org_admin_or_self",
	[PERM_WS_READ] = "ws_read",
	[PERM_WS_ADMIN] = "ws_admin",
};

static const char *const rel_names[REL__MAX] = {
	[REL_ANONYMOUS] = "anonymous",
	[REL_STRANGER] = "stranger",
	[REL_ORG_MEMBER] = "org_member",
	[REL_WS_VIEWER] = "ws_viewer",
	[REL_WS_ADMIN] = "ws_admin",
	[REL_ORG_ADMIN] = "org_admin",
};

static const char *const verdict_names[AZ__MAX] = {
	[AZ_ALLOW] = "allow",
	[AZ_SELF] = "self",
	[AZ_UNAUTHORIZED] = "401",
	[AZ_NOT_FOUND] = "404",
	[AZ_FORBIDDEN] = "403",
};

enum authz_verdict
authz_decide(enum perm p, enum authz_rel rel)
{
	if ((unsigned)p >= PERM__MAX || (unsigned)rel >= REL__MAX)
		return AZ_NOT_FOUND;
	return table[p][rel];
}

const char *
authz_perm_name(enum perm p)
{
	return (unsigned)p < PERM__MAX ? perm_names[p] : "unknown";
}

const char *
authz_rel_name(enum authz_rel rel)
{
	return (unsigned)rel < REL__MAX ? rel_names[rel] : "unknown";
}

const char *
authz_verdict_name(enum authz_verdict v)
{
	return (unsigned)v < AZ__MAX ? verdict_names[v] : "unknown";
}

enum authz_rel
authz_org_rel(const char *role)
{
	if (role == NULL)
		return REL_STRANGER;
	if (strcmp(role, "admin") == 0)
		return REL_ORG_ADMIN;
	if (strcmp(role, "member") == 0)
		return REL_ORG_MEMBER;
	return REL_STRANGER;
}

enum authz_rel
authz_ws_rel(const char *access)
{
	if (access == NULL)
		return REL_STRANGER;
	if (strcmp(access, "org_admin") == 0)
		return REL_ORG_ADMIN;
	if (strcmp(access, "admin") == 0)
		return REL_WS_ADMIN;
	if (strcmp(access, "viewer") == 0)
		return REL_WS_VIEWER;
	return REL_STRANGER;
}

bool
authz_ws_scoped(enum perm p)
{
	return p == PERM_WS_READ || p == PERM_WS_ADMIN;
}
