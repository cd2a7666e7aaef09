/*
 * health: liveness and readiness.
 *
 *   GET /healthz	the process answers: 200
 *   GET /readyz	PostgreSQL, Redis and NATS JetStream each answer
 *			within HXB_READY_TIMEOUT_MS: 200, else 503; the
 *			body gives each dependency's status
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "app.h"
#include "clock.h"

static void	 get_healthz(struct req *);
static void	 get_readyz(struct req *);

static const struct route routes[] = {
	{ HTTP_GET, "/healthz", get_healthz, PERM_PUBLIC, "healthz", NULL,
	    NULL },
	{ HTTP_GET, "/readyz", get_readyz, PERM_PUBLIC, "readyz", NULL, NULL },
};

static void
get_healthz(struct req *r)
{
	http_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* Add {status, latency_ms[, error]} for one dependency; true if up. */
static bool
check_add(json_t *checks, const char *name, int rc, const char *errmsg,
    const struct timespec *t0)
{
	json_t	*c;

	c = json_pack("{s:s, s:f}", "status", rc == 0 ? "up" : "down",
	    "latency_ms", clock_since_ms(t0));
	if (rc != 0)
		json_object_set_new(c, "error", json_string(errmsg));
	json_object_set_new(checks, name, c);
	return rc == 0;
}

static void
get_readyz(struct req *r)
{
	struct app	*app = r->app;
	int		 budget = (int)config_int(&app->cfg,
			    CFG_READY_TIMEOUT_MS);
	struct timespec	 t0;
	json_t		*checks = json_object();
	bool		 ok = true;
	int		 rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = db_ping(&app->db, budget);
	ok &= check_add(checks, "postgres", rc, app->db.errmsg, &t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = redis_ping(&app->redis, budget);
	ok &= check_add(checks, "redis", rc, app->redis.errmsg, &t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = bus_ping(&app->bus, budget);
	ok &= check_add(checks, "nats", rc, app->bus.errmsg, &t0);

	if (!ok) {
		char *s = json_dumps(checks, JSON_COMPACT);

		log_msg(&app->log, LOGL_WARN, __func__, r->request_id,
		    "not ready: %s", s != NULL ? s : "?");
		free(s);
	}
	http_json(r, ok ? 200 : 503, json_pack("{s:s, s:o}", "status",
	    ok ? "ready" : "unavailable", "checks", checks));
}

int
main(int argc, char **argv)
{
	return app_main("health", routes, sizeof(routes) / sizeof(routes[0]),
	    argc, argv);
}
