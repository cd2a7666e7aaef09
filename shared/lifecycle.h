/*
 * lifecycle: what the application plane does to a workspace, step by
 * step, on the host K3s cluster and inside the workspace's vCluster.
 * Used by jobs/provisioner (the requests) and jobs/reconcile (drift).
 *
 * Every step is idempotent: objects are written by server-side apply
 * under the field manager "hexabase", waits only read.  A task run again
 * from its first step after a crash at any point ends in the same
 * objects, once.
 *
 * Names, for workspace ws-X of organization O on plan P:
 *   host namespace	hxb-ws-X, labelled hexabase.ai/{workspace,organization,
 *			tier,isolation}
 *   HelmChart		ws-X in hxb-ws-X (helm.cattle.io/v1; K3s's
 *			helm-controller runs Job helm-install-ws-X there)
 *   the vCluster	release ws-X: pods app=vcluster,release=ws-X, its
 *			admin kubeconfig in Secret vc-ws-X, never copied out
 *   inside it		ClusterRoles hexabase:workspace-{admin,viewer} and
 *			their bindings; per project a namespace with its
 *			ResourceQuota, LimitRange, NetworkPolicy, Roles and
 *			RoleBindings; all labelled
 *			app.kubernetes.io/managed-by=hexabase, so that what
 *			is no longer desired is found and pruned
 *
 * Ownership: a struct lc borrows the app; it owns its host client.  A
 * struct lc_task borrows the request JSON and owns the rest.
 */
#ifndef HXB_LIFECYCLE_H
#define HXB_LIFECYCLE_H

#include <stdbool.h>

#include <jansson.h>

#include "buf.h"
#include "k8s.h"

struct app;

#define LC_MANAGED_BY	"hexabase"
#define LC_LABEL_MANAGED "app.kubernetes.io/managed-by"

struct lc {
	struct app	*app;
	struct k8s	 host;
	char		 worker_id[160];	/* host:pid, the lease owner */
	struct buf	 issuer_ca;		/* PEM, or empty */
	long		 lease_s;
};

struct lc_task {
	struct lc	*lc;
	const json_t	*req;		/* the request's payload */
	const char	*task_id;	/* NULL: a reconcile run, no task */
	const char	*type;
	const char	*ws_id;
	const char	*org_id;
	const char	*request_id;
	int		 attempt;
	/* Called at every step and while waiting: the in-progress ack. */
	int		(*keepalive)(void *);
	void		*keepalive_arg;
	long long	 alive_ms;	/* when the lease was last renewed */
	long long	 outage_until;	/* waiting out an API that is away */
	int		 pct;		/* progress reported last */
	const char	*note;		/* for last_error with the next renewal */
	json_t		*desired;	/* hxb_ws_desired(), read once */
	char		 ns[80];	/* host namespace */
	char		 release[64];
	char		 step[100];
	bool		 permanent;	/* failed for good: do not retry */
	bool		 lost;		/* the lease is another worker's now */
	char		 err[1024];	/* what failed, for a person */
	unsigned	 repaired;	/* objects a sync changed */
	unsigned	 pruned;	/* objects a sync deleted */
};

/* 0, or -1 (configuration: logged). */
int	 lc_init(struct lc *, struct app *, const char *host);
void	 lc_fini(struct lc *);

/*
 * Read a request's payload; 0, or -1 if it lacks a task id, type,
 * workspace or organization, or names them badly.
 */
int	 lc_task_init(struct lc_task *, struct lc *, const json_t *req);
void	 lc_task_free(struct lc_task *);
/* A task of no request, for lc_sync_workspace(): 0, or -1 (bad ids). */
int	 lc_task_drift(struct lc_task *, struct lc *, const char *ws_id,
	    const char *org_id);

/*
 * Carry out a claimed task and publish its success answer: 0.  -1 with
 * err set, and permanent or lost when so; the caller retries or answers
 * the failure with lc_answer_failure().
 */
int	 lc_run(struct lc_task *);
int	 lc_answer_failure(struct lc_task *);

/*
 * Make the vCluster of a running workspace hold what PostgreSQL says it
 * should (RBAC, namespaces, quotas), pruning what it should not:
 * repaired and pruned count what differed.  0, or -1 with err set.
 * Used by reconcile's drift repair, without a task.
 */
int	 lc_sync_workspace(struct lc_task *);

/*
 * Test builds only (make's sanitizer build, -DHXB_TEST_FAULTS, which make
 * test runs): when HXB_TEST_STOP_AT names this point, the process stops
 * itself (SIGSTOP) there, so that a test can kill -9 it at a known step.
 * The points are the steps' names, "workspace RBAC (half)" and
 * "answered" (published, not yet acknowledged).  Nothing in other builds.
 */
void	 lc_fault_point(const char *point);

#endif
