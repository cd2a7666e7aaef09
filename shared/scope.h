/*
 * scope: the routes about something that lives in a workspace or a
 * project (a group, a binding, a role, an assignment), read and removed
 * the same way everywhere.
 *
 * A struct scope describes one kind of such thing: the path parameter of
 * its workspace or project, its own id parameter and id kind, the
 * statements that list it ($1 the workspace or project id, $2 the page's
 * cursor id, $3 limit + 1), read one ($1 the same, $2 its id) and delete
 * one ($1, $2 as for reading), its row writer and the audit action of a
 * delete.  The caller's relation to the workspace is judged against the
 * route's permission (tenant.h), so a stranger gets 404 for the scope
 * and for every id in it.
 */
#ifndef HXB_SCOPE_H
#define HXB_SCOPE_H

#include <stdbool.h>

#include "id.h"
#include "tenant.h"

struct scope {
	const char		*param;		/* "wsId" or "projectId" */
	enum id_kind		 kind;		/* ID_WS or ID_PRJ */
	const char		*id_param;	/* its own, e.g. "id" */
	enum id_kind		 id_kind;
	bool			 presets;	/* ids may be preset names */
	const char		*what;		/* "role assignment" */
	const char		*path;		/* "roleassignments" */
	const struct db_stmt	*list;
	const struct db_stmt	*get;
	const struct db_stmt	*del;
	const char		*deleted;	/* audit action of a delete */
	tenant_write_fn		 row;
};

/*
 * The start of a POST that creates something in the workspace (ID_WS) or
 * project (ID_PRJ) named by path parameter `param`: the caller judged,
 * an Idempotency-Key looked up (a replay is answered), the new thing's
 * id of `kind` in id[ID_BUFSZ].  0 to go on, or -1 (answered).
 */
int	 scope_create_begin(struct req *, struct principal *,
	    const char *param, enum id_kind, struct tenant_ws *,
	    enum id_kind kind, char *id);

/* GET the page of things in the scope. */
void	 scope_list(struct req *, const struct scope *);

/* GET one. */
void	 scope_get(struct req *, const struct scope *);

/* DELETE one: read (the audit's before), audit, delete, 204. */
void	 scope_delete(struct req *, const struct scope *);

/*
 * A read of the workspace or project named by path parameter `param` and
 * n more statements in the same round trip (tenant_read()), the relation
 * judged: 0 with their results in out[0..n) (the caller PQclear()s
 * them), or -1 (answered).  `sub` is a second path id, checked against
 * sub_kind (or a preset name where `presets`); NULL for none.
 */
int	 scope_read(struct req *, struct principal *, const char *param,
	    enum id_kind, const char *sub, enum id_kind sub_kind,
	    bool presets, const char *sub_what, size_t n,
	    const struct db_stmt *const *, const char *const *const *params,
	    PGresult **out);

/*
 * One row of st as JSON through `row`, in the open transaction; NULL
 * after answering 404 "no such <what>" (or the database's error).
 */
json_t	*scope_one_json(struct req *, const struct db_stmt *,
	    const char *const *params, tenant_write_fn row, const char *what);

/*
 * The end of a create or an update in the open transaction: read the
 * thing as it now is (st with params, written by row), record `action`
 * with `before` (stolen; NULL for a create) and it in the audit log, and
 * answer `status` with it (tenant_answer(): commit, then publish).
 */
void	 scope_done(struct req *, const struct tenant_ws *, const char *actor,
	    const char *action, json_t *before, const struct db_stmt *,
	    const char *const *params, tenant_write_fn row, const char *what,
	    int status);

/*
 * A second path id in the open transaction: 0 if it is one of `kind`,
 * else -1 after answering 404 "no such <what>".
 */
int	 scope_sub_id(struct req *, const char *id, enum id_kind,
	    const char *what);

#endif
