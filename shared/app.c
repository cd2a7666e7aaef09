/*
 * app: process context and the FastCGI loop; see app.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "auth.h"
#include "buf.h"

/*
 * The one piece of mutable global state: a signal handler can reach
 * nothing else.  Signals are blocked except inside ppoll(), so the flag is
 * only ever seen changing between requests.
 */
static volatile sig_atomic_t app_stop;

static void
app_on_signal(int sig)
{
	(void)sig;
	app_stop = 1;
}

void
app_job_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool
app_stopping(void)
{
	return app_stop != 0;
}

static void
app_usage(const char *service, const char *const *flags, FILE *f)
{
	fprintf(f, "usage: %s [--print-config] [--listen PATH]", service);
	for (; flags != NULL && *flags != NULL; flags++)
		fprintf(f, " [%s]", *flags);
	fprintf(f, "\nConfiguration comes from HXB_* environment variables; "
	    "see docs/CONFIG.md.\n");
}

/* A flag is the argument itself, or, ending in '=', its prefix. */
static bool
app_own_flag(const char *const *flags, const char *arg)
{
	size_t	 n;

	for (; flags != NULL && *flags != NULL; flags++) {
		n = strlen(*flags);
		if (n > 0 && (*flags)[n - 1] == '=' ?
		    strncmp(*flags, arg, n) == 0 : strcmp(*flags, arg) == 0)
			return true;
	}
	return false;
}

int
app_init(struct app *app, const char *service, int argc, char **argv,
    const char *const *flags)
{
	struct buf	 err = BUF_INIT(64 * 1024);
	enum log_level	 lvl = LOGL_INFO;
	int		 i, print = 0, rc;

	memset(app, 0, sizeof(*app));
	app->service = service;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--print-config") == 0)
			print = 1;
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			app->listen = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			app_usage(service, flags, stdout);
			return 1;
		} else if (!app_own_flag(flags, argv[i])) {
			fprintf(stderr, "%s: unknown argument: %s\n", service,
			    argv[i]);
			app_usage(service, flags, stderr);
			return -1;
		}
	}
	rc = config_load(&app->cfg, NULL, NULL, &err);
	if (print) {
		config_print(&app->cfg, stdout);
		if (rc != 0)
			fprintf(stderr, "%s: configuration problems:\n%s",
			    service, buf_cstr(&err));
		buf_release(&err);
		return rc == 0 ? 1 : -1;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: configuration problems:\n%s", service,
		    buf_cstr(&err));
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	(void)log_level_parse(config_str(&app->cfg, CFG_LOG_LEVEL), &lvl);
	log_init(&app->log, service, lvl, STDERR_FILENO);
	db_init(&app->db, &app->cfg, &app->log, service);
	redis_init(&app->redis, &app->cfg, &app->log);
	bus_init(&app->bus, &app->cfg, &app->log, service);
	return 0;
}

void
app_fini(struct app *app)
{
	db_close(&app->db);
	redis_close(&app->redis);
	bus_close(&app->bus);
	keyring_free(&app->keys);
	auth_cache_clear();
	config_free(&app->cfg);
}

/* The FastCGI transport of http_serve(). */
static const char *
fcgi_param(void *ctx, const char *name)
{
	FCGX_Request	*fr = ctx;

	return FCGX_GetParam(name, fr->envp);
}

static long
fcgi_read(void *ctx, char *p, size_t len)
{
	FCGX_Request	*fr = ctx;

	return FCGX_GetStr(p, len > INT_MAX ? INT_MAX : (int)len, fr->in);
}

static int
fcgi_write(void *ctx, const char *p, size_t len)
{
	FCGX_Request	*fr = ctx;
	int		 n;

	while (len > 0) {
		n = len > INT_MAX ? INT_MAX : (int)len;
		if (FCGX_PutStr(p, n, fr->out) != n)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
app_listen_fd(struct app *app)
{
	int	 fd, fl;

	if (app->listen != NULL) {
		if ((fd = FCGX_OpenSocket(app->listen, 1024)) < 0) {
			log_error(&app->log, "cannot listen on %s",
			    app->listen);
			return -1;
		}
	} else {
		if (FCGX_IsCGI()) {
			log_error(&app->log, "not started by a FastCGI server: "
			    "run under spawn-fcgi, or pass --listen PATH");
			return -1;
		}
		fd = 0;
	}
	/* Non-blocking, so that losing an accept race never blocks. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_error(&app->log, "fcntl: %s", strerror(errno));
		return -1;
	}
	return fd;
}

static void
app_serve_one(struct app *app, const struct route *routes, size_t nroutes,
    FCGX_Request *fr)
{
	struct http_io	 io = { fcgi_param, fcgi_read, fcgi_write, fr };

	db_request_begin(&app->db);
	http_serve(app, routes, nroutes, &io);
	FCGX_Finish_r(fr);
}

/*
 * Keep the Redis invalidation connection (see redis_tracking()) in the
 * idle wait, so that invalidations are read as they come, not in a heap
 * at the next request.  Its descriptor changes when Redis reconnects;
 * a closed descriptor has already left the epoll set.
 */
static int
app_watch_tracking(struct app *app, int ep, unsigned *gen, int *fd)
{
	struct epoll_event	 ev;
	unsigned		 g;
	int			 tfd = redis_tracking_fd(&app->redis, &g);

	if (g == *gen)
		return *fd;
	*gen = g;
	if (*fd >= 0 && *fd != tfd)
		epoll_ctl(ep, EPOLL_CTL_DEL, *fd, NULL);
	*fd = -1;
	if (tfd < 0)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = tfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == -1 &&
	    (errno != EEXIST ||
	    epoll_ctl(ep, EPOLL_CTL_MOD, tfd, &ev) == -1)) {
		log_warn(&app->log, "cannot watch Redis invalidations: %s",
		    strerror(errno));
		return -1;
	}
	return *fd = tfd;
}

static bool
accept_again(int rc)
{
	return rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR ||
	    rc == -ECONNABORTED;
}

/*
 * The route table as lines of "METHOD PATTERN PERMISSION ACTION", for the
 * tests that hold docs/openapi.yaml and the authorization matrix to it.
 */
static void
app_print_routes(const struct route *routes, size_t nroutes)
{
	size_t	 i;

	for (i = 0; i < nroutes; i++)
		printf("%s %s %s %s\n", http_method_name(routes[i].method),
		    routes[i].pattern, authz_perm_name(routes[i].perm),
		    routes[i].action);
}

const char *const app_route_flags[] = { "--routes", NULL };

/* Every route names who may call it; a table that forgets one is a bug. */
static int
app_check_routes(const char *service, const struct route *routes,
    size_t nroutes)
{
	size_t	 i;
	int	 rc = 0;

	for (i = 0; i < nroutes; i++)
		if (routes[i].perm == PERM_UNSET ||
		    (unsigned)routes[i].perm >= PERM__MAX) {
			fprintf(stderr, "%s: route %s %s names no permission\n",
			    service, http_method_name(routes[i].method),
			    routes[i].pattern);
			rc = -1;
		}
	return rc;
}

int
app_serve(struct app *app, const struct route *routes, size_t nroutes)
{
	FCGX_Request		 fr;
	struct sigaction	 sa;
	struct pollfd		 pfd[2];
	struct epoll_event	 ev;
	unsigned		 tgen = 0;
	int			 tfd = -1;
	sigset_t		 block, orig;
	struct timespec		 ts;
	int			 lfd, ep, n, rc, due, status = 0;
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1,
				    SIGQUIT };
	size_t			 i;

	if (app_check_routes(app->service, routes, nroutes) != 0)
		return 2;
	if (FCGX_Init() != 0) {
		log_error(&app->log, "FCGX_Init failed");
		return 1;
	}
	if ((lfd = app_listen_fd(app)) < 0)
		return 1;

	sigemptyset(&block);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(&block, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, &orig);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(&orig, sigs[i]);

	if (FCGX_InitRequest(&fr, lfd, 0) != 0) {
		log_error(&app->log, "FCGX_InitRequest failed");
		return 1;
	}
	log_info(&app->log, "serving %zu routes", nroutes);
	log_buffering(config_int(&app->cfg, CFG_LOG_FLUSH_MS));

	/*
	 * Idle workers wait on the listening socket through epoll with
	 * EPOLLEXCLUSIVE, so a new connection wakes one of them rather than
	 * the whole pool.  A worker holding a kept-alive connection waits on
	 * that connection alone.
	 */
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_error(&app->log, "epoll_create1: %s", strerror(errno));
		return 1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		log_error(&app->log, "epoll_ctl: %s", strerror(errno));
		close(ep);
		return 1;
	}
	/*
	 * Waiting request lines are written when due, busy or idle;
	 * invalidations are read as they arrive.
	 */
	tgen = app->redis.tracking_gen - 1;
	while (!app_stop) {
		due = log_flush_due();
		app_watch_tracking(app, ep, &tgen, &tfd);
		if (fr.ipcFd >= 0) {
			pfd[0].fd = fr.ipcFd;
			pfd[0].events = POLLIN;
			pfd[1].fd = tfd;
			pfd[1].events = POLLIN;
			pfd[0].revents = pfd[1].revents = 0;
			ts.tv_sec = due / 1000;
			ts.tv_nsec = (due % 1000) * 1000000L;
			n = ppoll(pfd, 2, due >= 0 ? &ts : NULL, &orig);
			if (n > 0 && pfd[1].revents != 0 &&
			    pfd[0].revents == 0) {
				redis_tracking_poll(&app->redis);
				continue;
			}
		} else {
			n = epoll_pwait(ep, &ev, 1, due, &orig);
			if (n > 0 && ev.data.fd != lfd) {
				redis_tracking_poll(&app->redis);
				continue;
			}
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_error(&app->log, "wait: %s", strerror(errno));
			status = 1;
			break;
		}
		if (n == 0) {
			log_flush();
			continue;
		}
		if ((rc = FCGX_Accept_r(&fr)) < 0) {
			if (accept_again(rc))
				continue;
			log_error(&app->log, "accept failed: %s",
			    strerror(-rc));
			status = 1;
			break;
		}
		app_serve_one(app, routes, nroutes, &fr);
	}
	close(ep);

	/*
	 * Graceful stop: drop an idle kept-alive connection (nginx retries a
	 * request that meets a closed cached connection), then serve whatever
	 * is already queued on the listening socket.
	 */
	if (fr.ipcFd >= 0)
		FCGX_Free(&fr, 1);
	while ((rc = FCGX_Accept_r(&fr)) >= 0 || rc == -EINTR ||
	    rc == -ECONNABORTED) {
		if (rc < 0)
			continue;
		app_serve_one(app, routes, nroutes, &fr);
		FCGX_Free(&fr, 1);
	}
	FCGX_Free(&fr, 1);
	log_info(&app->log, "stopped");
	if (app->listen != NULL) {
		close(lfd);
		unlink(app->listen);
	}
	return status;
}

int
app_routes(const char *service, const struct route *routes, size_t nroutes,
    int argc, char **argv)
{
	int	 i;

	if (app_check_routes(service, routes, nroutes) != 0)
		return -1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--routes") == 0) {
			app_print_routes(routes, nroutes);
			return 1;
		}
	return 0;
}

int
app_main(const char *service, const struct route *routes, size_t nroutes,
    int argc, char **argv)
{
	struct app	 app;
	int		 rc, status;

	if ((rc = app_routes(service, routes, nroutes, argc, argv)) != 0)
		return rc > 0 ? 0 : 2;
	rc = app_init(&app, service, argc, argv, app_route_flags);
	if (rc != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : 2;
	}
	status = app_serve(&app, routes, nroutes);
	app_fini(&app);
	return status;
}
