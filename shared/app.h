/*
 * app: the process-wide context of a handler or job, created in main() and
 * passed down explicitly: configuration, logger, and the lazily opened
 * PostgreSQL, Redis and NATS connections.
 *
 * Handlers call app_main() with their route table.  It refuses a table
 * with a route that names no permission (authz.h), answers --routes (the
 * table, a line per route), --print-config and --help, then serves
 * FastCGI requests one at a time with the reentrant libfcgi API until
 * SIGTERM, SIGINT, SIGHUP, SIGQUIT or SIGUSR1 asks it to stop (Debian's
 * multiwatch sends SIGQUIT whatever its -s option says).  Stopping is
 * graceful: the request in progress is finished, connections already
 * queued on the listening socket are served, then the process exits.
 *
 * Ownership: struct app owns everything in it; app_fini() releases it.
 */
#ifndef HXB_APP_H
#define HXB_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "bus.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "id.h"
#include "keys.h"
#include "log.h"
#include "redis.h"

struct app {
	const char	*service;
	struct config	 cfg;
	struct logger	 log;
	struct db	 db;
	struct redis	 redis;
	struct bus	 bus;
	struct id_gen	 ids;
	struct keyring	 keys;		/* signing keys, loaded on use */
	struct req	*req;		/* the request being served, or NULL */
	const char	*listen;	/* --listen PATH, or NULL for fd 0 */
	void		*arg;		/* the program's own state */
};

/*
 * Read the command line and the configuration.  `flags` (NULL, or a
 * NULL-terminated list such as { "--status", NULL }) names the program's
 * own flags, which are left for it to read; any other argument is an
 * error.  Returns 0 to go on, 1 when the program has done what was asked
 * (--help, --print-config) and should exit 0, or -1 after printing what is
 * wrong (exit 2).  The app must be released with app_fini() in every case.
 */
int	 app_init(struct app *, const char *service, int argc, char **argv,
	    const char *const *flags);
void	 app_fini(struct app *);

/*
 * For a long-running job: SIGTERM and SIGINT set the stop flag that
 * app_stopping() reads (the job finishes what it holds, then returns);
 * SIGPIPE is ignored.
 */
void	 app_job_signals(void);
bool	 app_stopping(void);

/* Serve FastCGI until asked to stop.  Returns the exit status. */
int	 app_serve(struct app *, const struct route *, size_t nroutes);

/*
 * For a handler's main(), before app_init(): -1 (exit 2, said why) if a
 * route names no permission, 1 if --routes asked for the table (printed;
 * exit 0), else 0.  app_route_flags lets --routes through app_init().
 */
int	 app_routes(const char *service, const struct route *,
	    size_t nroutes, int argc, char **argv);
extern const char *const app_route_flags[];

/*
 * app_routes() + app_init() + app_serve() + app_fini(), for a handler's
 * main().
 */
int	 app_main(const char *service, const struct route *, size_t nroutes,
	    int argc, char **argv);

#endif
