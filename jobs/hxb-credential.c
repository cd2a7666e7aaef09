/*
 * hxb-credential: the kubectl exec credential plugin of Hexabase.
 *
 *   hxb-credential login --server URL [--certificate-authority FILE]
 *	[--no-browser] [--listen-port N] [--idp NAME] [--timeout SECONDS]
 *   hxb-credential get-token --server URL --workspace WSID
 *	[--certificate-authority FILE]
 *   hxb-credential logout --server URL
 *
 * login signs the user in to the platform at URL through the browser,
 * with the authorization code flow and PKCE (RFC 7636, S256): it listens
 * on 127.0.0.1 (an ephemeral port unless --listen-port), prints the
 * authorization URL (and opens it with $BROWSER, or xdg-open on a
 * desktop, unless --no-browser), waits up to --timeout seconds (300) for
 * the redirect to http://127.0.0.1:PORT/callback, exchanges the code at
 * /oauth2/token and stores the refresh and access tokens.
 *
 * get-token is what kubectl runs, from a kubeconfig user such as
 *
 *	exec:
 *	  apiVersion: client.authentication.k8s.io/v1
 *	  command: hxb-credential
 *	  args: [get-token, --server, https://hxb.example, --workspace, ws-1]
 *	  interactiveMode: Never
 *
 * It prints exactly one ExecCredential on stdout: the cached workspace
 * token while it has more than a minute left, else a new one from
 * POST /api/v1/workspaces/WSID/token?format=exec-credential, made with
 * the access token (refreshed at /auth/refresh when it has 30 seconds or
 * less left, or once when the server refuses it).
 *
 * logout forgets what is stored for URL; the session is not ended on the
 * server.
 *
 * Files, in $HXB_CONFIG_DIR, else $XDG_CONFIG_HOME/hexabase, else
 * $HOME/.config/hexabase (created 0700):
 *
 *   credentials.json	{"servers": {URL: {"refresh_token", "access_token",
 *			"access_expires_at", "tokens": {WSID: {"token",
 *			"expires_at"}}}}}, mode 0600
 *   credentials.lock	held with flock(LOCK_EX) from reading the file to
 *			writing it back
 *
 * Security rules:
 *
 * - A refresh token rotates on every use, and presenting a used one ends
 *   the whole session on the server.  So every command holds the lock
 *   across its read-modify-write (two kubectl processes take turns and
 *   never spend the same token), and a rotated refresh token is written
 *   before anything else is done.
 * - credentials.json is written atomically (a temporary file created
 *   O_EXCL 0600, fsync, rename), and refused unless it is a regular file
 *   owned by the user without any group or other permission bit.
 * - Only https:// servers, or http:// on a loopback host for development.
 *   TLS peer and host verification are always on (--certificate-authority
 *   names the CA to trust; it turns nothing off), redirects are not
 *   followed, a request may take 30 s and an answer 1 MiB.
 * - The redirect listener binds 127.0.0.1 only and ends the wait only for
 *   GET /callback with this run's state: anything else is refused and the
 *   wait goes on.  What it echoes is HTML-escaped.
 * - No token is ever printed but the ExecCredential on stdout.  Text from
 *   the server or the browser loses its control characters before it
 *   reaches the terminal.  Memory that held secrets is wiped before it is
 *   freed (jansson's through its allocator hook).
 *
 * Exit status: 0 done, 1 failed, 2 usage.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "crypto.h"
#include "url.h"

#define PROG		"hxb-credential"
#define CLIENT_ID	"hexabase-cli"
#define BODY_MAX	(1024 * 1024)	/* an answer, or the credentials file */
#define REQUEST_TIMEOUT_S 30L
#define HEAD_MAX	8192		/* a browser's request head */
#define CONN_MAX	8		/* browser connections at once */
#define CONN_TIMEOUT_MS	10000
#define LOGIN_TIMEOUT_S	300
/* A cached workspace token, or an access token, is used while it has
 * more than this many seconds left. */
#define WS_MARGIN_S	60
#define ACCESS_MARGIN_S	30
#define TEXT_MAX	512		/* server text shown to the user */

enum cmd {
	CMD_LOGIN,
	CMD_GET_TOKEN,
	CMD_LOGOUT,
	CMD__MAX
};

static const char *const cmd_names[CMD__MAX] = {
	[CMD_LOGIN] = "login",
	[CMD_GET_TOKEN] = "get-token",
	[CMD_LOGOUT] = "logout",
};

enum opt {
	OPT_SERVER,
	OPT_CA,
	OPT_WORKSPACE,
	OPT_NO_BROWSER,
	OPT_PORT,
	OPT_IDP,
	OPT_TIMEOUT,
	OPT__MAX
};

#define IN(c)	(1u << (c))

/* Every option, once: its name, whether it takes a value, who takes it. */
static const struct optdef {
	const char	*name;
	bool		 value;
	unsigned int	 cmds;
} optdefs[OPT__MAX] = {
	[OPT_SERVER] = { "--server", true,
	    IN(CMD_LOGIN) | IN(CMD_GET_TOKEN) | IN(CMD_LOGOUT) },
	[OPT_CA] = { "--certificate-authority", true,
	    IN(CMD_LOGIN) | IN(CMD_GET_TOKEN) },
	[OPT_WORKSPACE] = { "--workspace", true, IN(CMD_GET_TOKEN) },
	[OPT_NO_BROWSER] = { "--no-browser", false, IN(CMD_LOGIN) },
	[OPT_PORT] = { "--listen-port", true, IN(CMD_LOGIN) },
	[OPT_IDP] = { "--idp", true, IN(CMD_LOGIN) },
	[OPT_TIMEOUT] = { "--timeout", true, IN(CMD_LOGIN) },
};

/* The command line, validated. */
struct args {
	enum cmd	 cmd;
	const char	*val[OPT__MAX];	/* borrowed from argv; "" for a flag */
	char		 server[1024];	/* without a trailing slash */
	long long	 port;
	long long	 timeout;
};

/* The credentials file, locked. */
struct store {
	char		 dir[PATH_MAX];
	char		 path[PATH_MAX];
	char		 lock[PATH_MAX];
	char		 tmp[PATH_MAX];
	int		 lockfd;
	json_t		*doc;
	json_t		*servers;	/* borrowed from doc */
};

/* An HTTP answer. */
struct resp {
	long		 status;
	struct buf	 body;
};

/* What one browser request did to the wait for the callback. */
enum cb {
	CB_WAIT,
	CB_CODE,
	CB_FAILED
};

struct conn {
	int		 fd;		/* -1: a free slot */
	size_t		 len;
	long long	 deadline;	/* monotonic ms */
	char		 head[HEAD_MAX + 1];
};

static void	 errorf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

static void
errorf(const char *fmt, ...)
{
	va_list	 ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " login --server URL"
	    " [--certificate-authority FILE]\n"
	    "           [--no-browser] [--listen-port N] [--idp NAME]"
	    " [--timeout SECONDS]\n"
	    "       " PROG " get-token --server URL --workspace WSID\n"
	    "           [--certificate-authority FILE]\n"
	    "       " PROG " logout --server URL\n");
}

/*
 * jansson's free: every string it held (tokens among them) is wiped
 * first.
 */
static void
json_free_wiped(void *p)
{
	if (p != NULL)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/*
 * Copy text that came from the server or the browser for the terminal:
 * control characters become '?', and it is cut to fit `n`.
 */
static void
text_clean(char *out, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i + 1 < n && s[i] != '\0'; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ?
		    '?' : s[i];
	out[i] = '\0';
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
rfc3339_parse(const char *s, long long *t)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	*t = (long long)timegm(&tm);
	return 0;
}

/* A decimal number in [min, max]; digits only.  0, or -1. */
static int
number_parse(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Read the command line into `a`.  0 when it is good, 1 for --help, 2 for
 * bad usage (the reason said).
 */
static int
args_parse(int argc, char **argv, struct args *a)
{
	const char	*arg, *eq;
	size_t		 namelen;
	int		 i, c, o;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	if (argc < 2) {
		errorf("no command given");
		return 2;
	}
	for (c = 0; c < CMD__MAX; c++)
		if (strcmp(argv[1], cmd_names[c]) == 0)
			break;
	if (c == CMD__MAX) {
		errorf("unknown command %s", argv[1]);
		return 2;
	}
	a->cmd = (enum cmd)c;
	for (i = 2; i < argc; i++) {
		arg = argv[i];
		eq = strchr(arg, '=');
		namelen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (o = 0; o < OPT__MAX; o++)
			if (strlen(optdefs[o].name) == namelen &&
			    strncmp(arg, optdefs[o].name, namelen) == 0)
				break;
		if (o == OPT__MAX || !(optdefs[o].cmds & IN(c))) {
			errorf("%s does not take %.*s", cmd_names[c],
			    (int)namelen, arg);
			return 2;
		}
		if (a->val[o] != NULL) {
			errorf("%s is given twice", optdefs[o].name);
			return 2;
		}
		if (!optdefs[o].value) {
			if (eq != NULL) {
				errorf("%s takes no value", optdefs[o].name);
				return 2;
			}
			a->val[o] = "";
			continue;
		}
		if (eq != NULL)
			a->val[o] = eq + 1;
		else if (i + 1 < argc)
			a->val[o] = argv[++i];
		if (a->val[o] == NULL || a->val[o][0] == '\0') {
			errorf("%s needs a value", optdefs[o].name);
			return 2;
		}
	}
	if (a->val[OPT_SERVER] == NULL) {
		errorf("%s needs --server URL", cmd_names[c]);
		return 2;
	}
	if (c == CMD_GET_TOKEN && a->val[OPT_WORKSPACE] == NULL) {
		errorf("get-token needs --workspace WSID");
		return 2;
	}
	a->timeout = LOGIN_TIMEOUT_S;
	if (a->val[OPT_PORT] != NULL &&
	    number_parse(a->val[OPT_PORT], 0, 65535, &a->port) != 0) {
		errorf("--listen-port must be a number from 0 to 65535");
		return 2;
	}
	if (a->val[OPT_TIMEOUT] != NULL &&
	    number_parse(a->val[OPT_TIMEOUT], 1, 86400, &a->timeout) != 0) {
		errorf("--timeout must be a number of seconds from 1 to 86400");
		return 2;
	}
	return 0;
}

static bool
host_is_loopback(const char *h, size_t n)
{
	return (n == 9 && strncmp(h, "127.0.0.1", n) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", n) == 0) ||
	    (n == 9 && strncasecmp(h, "localhost", n) == 0);
}

/*
 * Check the --server URL and copy it without its trailing slash into
 * a->server: https, or http on a loopback host, since tokens travel on
 * it.  0, or -1 (said).
 */
static int
server_check(struct args *a)
{
	const char	*in = a->val[OPT_SERVER], *host, *end, *p;
	size_t		 len = strlen(in), n;
	bool		 tls;

	if (len > 0 && in[len - 1] == '/')
		len--;
	if (len >= sizeof(a->server)) {
		errorf("the --server URL is too long");
		return -1;
	}
	for (p = in; p < in + len; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' ||
		    *p == '#' || *p == '@') {
			errorf("--server must be a base URL such as "
			    "https://hxb.example, without spaces, user name, "
			    "query or fragment");
			return -1;
		}
	if (strncmp(in, "https://", 8) == 0)
		host = in + 8, tls = true;
	else if (strncmp(in, "http://", 7) == 0)
		host = in + 7, tls = false;
	else {
		errorf("--server %s: only https:// URLs are accepted", in);
		return -1;
	}
	for (end = host; end < in + len && *end != '/'; end++)
		continue;
	if (*host == '[')
		n = (p = memchr(host, ']', (size_t)(end - host))) != NULL ?
		    (size_t)(p - host) + 1 : 0;
	else
		n = (p = memchr(host, ':', (size_t)(end - host))) != NULL ?
		    (size_t)(p - host) : (size_t)(end - host);
	if (n == 0 || (*host == '[' && n == 2)) {
		errorf("--server %s has no host", in);
		return -1;
	}
	if (!tls && !host_is_loopback(host, n)) {
		errorf("refusing --server %s: tokens would cross the network "
		    "in clear text; use https://, or http:// only with "
		    "127.0.0.1, [::1] or localhost", in);
		return -1;
	}
	memcpy(a->server, in, len);
	a->server[len] = '\0';
	return 0;
}

static bool
workspace_valid(const char *s)
{
	size_t	 n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-");

	return n >= 1 && n <= 64 && s[n] == '\0';
}

static int
path_join(char out[PATH_MAX], const char *a, const char *b)
{
	int	 n = snprintf(out, PATH_MAX, "%s%s", a, b);

	if (n < 0 || n >= PATH_MAX) {
		errorf("the path %s%s is too long", a, b);
		return -1;
	}
	return 0;
}

/* mkdir -p, each directory created 0700.  0, or -1 (said). */
static int
dir_make(const char *dir)
{
	char		 p[PATH_MAX], *s, c;
	struct stat	 st;
	int		 e;

	if (path_join(p, dir, "") != 0)
		return -1;
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST) {
			e = errno;
			if (stat(p, &st) == -1 || !S_ISDIR(st.st_mode)) {
				errorf("cannot create %s: %s", p, strerror(e));
				return -1;
			}
		}
		if ((*s = c) == '\0')
			break;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		errorf("%s is not a directory", dir);
		return -1;
	}
	return 0;
}

static int
store_paths(struct store *s)
{
	const char	*v;

	if ((v = getenv("HXB_CONFIG_DIR")) != NULL && *v != '\0') {
		if (path_join(s->dir, v, "") != 0)
			return -1;
	} else if ((v = getenv("XDG_CONFIG_HOME")) != NULL && *v != '\0') {
		if (path_join(s->dir, v, "/hexabase") != 0)
			return -1;
	} else if ((v = getenv("HOME")) != NULL && *v != '\0') {
		if (path_join(s->dir, v, "/.config/hexabase") != 0)
			return -1;
	} else {
		errorf("HOME is not set, nor HXB_CONFIG_DIR: there is nowhere "
		    "to keep the credentials");
		return -1;
	}
	if (path_join(s->path, s->dir, "/credentials.json") != 0 ||
	    path_join(s->lock, s->dir, "/credentials.lock") != 0 ||
	    path_join(s->tmp, s->dir, "/credentials.json.tmp") != 0)
		return -1;
	return 0;
}

/*
 * Read credentials.json into s->doc, or start an empty one when there is
 * none.  A file others may read, a link, or one not ours is refused: it
 * holds refresh tokens.  Parse errors name the line only, never the text.
 */
static int
store_load(struct store *s)
{
	struct buf	 b = BUF_INIT(BODY_MAX);
	struct stat	 st;
	json_error_t	 je;
	ssize_t		 n;
	int		 fd, rc = -1;

	fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT) {
			s->doc = json_pack("{s:{}}", "servers");
			s->servers = json_object_get(s->doc, "servers");
			if (s->doc == NULL)
				errorf("out of memory");
			return s->doc != NULL ? 0 : -1;
		}
		if (errno == ELOOP)
			errorf("%s is a symbolic link; refusing to use it",
			    s->path);
		else
			errorf("cannot open %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		errorf("cannot stat %s: %s", s->path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errorf("%s is not a regular file; refusing to use it", s->path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		errorf("%s belongs to uid %u, not to you (uid %u); refusing "
		    "to use it", s->path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & 077) {
		errorf("%s is readable by others (mode %04o); "
		    "run: chmod 600 %s", s->path,
		    (unsigned)(st.st_mode & 07777), s->path);
		goto out;
	}
	for (;;) {
		if (!buf_grow(&b, 65536)) {
			errorf("%s is larger than 1 MiB", s->path);
			goto out;
		}
		n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			errorf("cannot read %s: %s", s->path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	s->doc = json_loadb(b.data, b.len, 0, &je);
	if (s->doc == NULL) {
		errorf("%s is not valid JSON (line %d); fix or remove it",
		    s->path, je.line);
		goto out;
	}
	s->servers = json_object_get(s->doc, "servers");
	if (s->servers == NULL && json_is_object(s->doc)) {
		s->servers = json_object();
		json_object_set_new(s->doc, "servers", s->servers);
	}
	if (!json_is_object(s->servers)) {
		errorf("%s is not a Hexabase credentials file (no \"servers\" "
		    "object); fix or remove it", s->path);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	buf_release_secret(&b);
	return rc;
}

/*
 * Make the directory, take the lock (waiting for whoever has it) and
 * load the file.  Release with store_close() whatever this returns.
 */
static int
store_open(struct store *s)
{
	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
	if (store_paths(s) != 0 || dir_make(s->dir) != 0)
		return -1;
	s->lockfd = open(s->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (s->lockfd == -1) {
		errorf("cannot open %s: %s", s->lock, strerror(errno));
		return -1;
	}
	while (flock(s->lockfd, LOCK_EX) == -1)
		if (errno != EINTR) {
			errorf("cannot lock %s: %s", s->lock, strerror(errno));
			return -1;
		}
	return store_load(s);
}

/* Write s->doc atomically.  0, or -1 (said; the old file is intact). */
static int
store_save(struct store *s)
{
	char	*text;
	int	 fd, dfd, rc = -1;

	if ((text = json_dumps(s->doc, JSON_INDENT(2))) == NULL) {
		errorf("out of memory");
		return -1;
	}
	/* A leftover of a crashed run; the lock says nobody else writes. */
	if (unlink(s->tmp) == -1 && errno != ENOENT) {
		errorf("cannot remove %s: %s", s->tmp, strerror(errno));
		goto out;
	}
	fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		errorf("cannot create %s: %s", s->tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, text, strlen(text)) != 0 ||
	    write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
		errorf("cannot write %s: %s", s->tmp, strerror(errno));
		close(fd);
		unlink(s->tmp);
		goto out;
	}
	if (close(fd) != 0 || rename(s->tmp, s->path) != 0) {
		errorf("cannot replace %s: %s", s->path, strerror(errno));
		unlink(s->tmp);
		goto out;
	}
	if ((dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	json_free_wiped(text);
	return rc;
}

static void
store_close(struct store *s)
{
	json_decref(s->doc);
	s->doc = s->servers = NULL;
	if (s->lockfd != -1)
		close(s->lockfd);	/* releases the lock */
	s->lockfd = -1;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf	*b = arg;

	return buf_add(b, p, size * n) ? size * n : 0;
}

/*
 * POST `body` to the server's `path`, with Content-Type `ctype` (none if
 * NULL) and a bearer token (none if NULL).  0 once an answer came, of any
 * status (r->status); -1 on a transport failure (said).  Release `r` with
 * resp_free() either way.
 */
static int
http_post(const struct args *a, const char *path, const char *ctype,
    const char *body, const char *bearer, struct resp *r)
{
	struct curl_slist	*hl = NULL, *t;
	struct buf		 url = BUF_INIT(0), ct = BUF_INIT(0);
	struct buf		 auth = BUF_INIT(0);
	const char		*hs[4];
	char			 err[CURL_ERROR_SIZE] = "";
	CURL			*h = NULL;
	CURLcode		 cc;
	size_t			 i, nh = 0;
	int			 rc = -1;

	r->status = 0;
	buf_init(&r->body, BODY_MAX);
	buf_addstr(&url, a->server);
	buf_addstr(&url, path);
	/* An empty value makes curl send no Content-Type at all. */
	buf_addf(&ct, "Content-Type:%s%s", ctype != NULL ? " " : "",
	    ctype != NULL ? ctype : "");
	hs[nh++] = "Accept: application/json";
	hs[nh++] = buf_cstr(&ct);
	hs[nh++] = "Expect:";
	if (bearer != NULL) {
		buf_addstr(&auth, "Authorization: Bearer ");
		buf_addstr(&auth, bearer);
		hs[nh++] = buf_cstr(&auth);
	}
	if (url.failed || ct.failed || auth.failed)
		goto nomem;
	for (i = 0; i < nh; i++) {
		if ((t = curl_slist_append(hl, hs[i])) == NULL)
			goto nomem;
		hl = t;
	}
	if ((h = curl_easy_init()) == NULL)
		goto nomem;
	curl_easy_setopt(h, CURLOPT_URL, url.data);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (a->val[OPT_CA] != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, a->val[OPT_CA]);
	curl_easy_setopt(h, CURLOPT_USERAGENT, PROG);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)BODY_MAX);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		if (r->body.failed || cc == CURLE_FILESIZE_EXCEEDED)
			errorf("POST %s: the answer is larger than 1 MiB",
			    url.data);
		else
			errorf("POST %s: %s%s", url.data, err[0] != '\0' ? err :
			    curl_easy_strerror(cc),
			    cc == CURLE_PEER_FAILED_VERIFICATION ? " (for a "
			    "private CA, use --certificate-authority FILE)" :
			    "");
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	rc = 0;
	goto out;
nomem:
	errorf("out of memory");
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	buf_release(&url);
	buf_release(&ct);
	buf_release_secret(&auth);
	return rc;
}

static void
resp_free(struct resp *r)
{
	buf_release_secret(&r->body);
}

/* The answer as JSON (a new reference), or NULL. */
static json_t *
resp_json(const struct resp *r)
{
	if (r->body.len == 0)
		return NULL;
	return json_loadb(r->body.data, r->body.len, 0, NULL);
}

/*
 * What went wrong, in the server's words (OAuth error_description, or
 * the problem's detail or title), fit for the terminal, into `out`.
 */
static void
resp_detail(const struct resp *r, char *out, size_t n)
{
	static const char *const keys[] = { "error_description", "detail",
	    "title", "error", NULL };
	json_t		*j = resp_json(r);
	const char	*s = NULL;
	size_t		 i;

	for (i = 0; keys[i] != NULL; i++)
		if ((s = json_string_value(json_object_get(j, keys[i]))) !=
		    NULL && *s != '\0')
			break;
	if (s == NULL || *s == '\0')
		snprintf(out, n, "no details given");
	else
		text_clean(out, n, s);
	json_decref(j);
}

/*
 * Spend the refresh token of `entry` for a new access token, and save
 * the rotated refresh token before anything else.  On 401 the session is
 * over: the entry is emptied and saved.  0 with *access borrowed from
 * `entry`, or -1 (said).
 */
static int
session_refresh(const struct args *a, struct store *s, json_t *entry,
    const char **access)
{
	struct resp	 r = { 0, BUF_INIT(0) };
	json_t		*req, *ans = NULL;
	const char	*at, *rt;
	json_int_t	 ttl;
	char		*body = NULL, detail[TEXT_MAX];
	int		 rc = -1;

	req = json_pack("{s:s}", "refresh_token", json_string_value(
	    json_object_get(entry, "refresh_token")));
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		errorf("out of memory");
		goto out;
	}
	if (http_post(a, "/auth/refresh", "application/json", body, NULL,
	    &r) != 0)
		goto out;
	if (r.status == 401) {
		resp_detail(&r, detail, sizeof(detail));
		json_object_clear(entry);
		(void)store_save(s);
		errorf("your session has ended (%s): run " PROG " login "
		    "--server %s", detail, a->server);
		goto out;
	}
	if (r.status != 200) {
		resp_detail(&r, detail, sizeof(detail));
		errorf("refreshing the session at %s failed (HTTP %ld): %s",
		    a->server, r.status, detail);
		goto out;
	}
	ans = resp_json(&r);
	if (json_unpack(ans, "{s:s, s:s, s:I}", "access_token", &at,
	    "refresh_token", &rt, "expires_in", &ttl) != 0) {
		errorf("%s/auth/refresh answered without the tokens expected",
		    a->server);
		goto out;
	}
	json_object_set_new(entry, "refresh_token", json_string(rt));
	json_object_set_new(entry, "access_token", json_string(at));
	json_object_set_new(entry, "access_expires_at",
	    json_integer((json_int_t)time(NULL) + ttl));
	if (store_save(s) != 0)
		goto out;
	if ((*access = json_string_value(json_object_get(entry,
	    "access_token"))) == NULL) {
		errorf("out of memory");
		goto out;
	}
	rc = 0;
out:
	json_free_wiped(body);
	json_decref(req);
	json_decref(ans);
	resp_free(&r);
	return rc;
}

/*
 * Ask for a workspace token.  0 with *token (caller frees) and its
 * expiry, 1 if the access token was refused (401, `detail` says why), -1
 * on any other failure (said).
 */
static int
ws_token_fetch(const struct args *a, const char *access, char **token,
    long long *exp, char *detail, size_t detailsz)
{
	struct resp	 r = { 0, BUF_INIT(0) };
	struct buf	 path = BUF_INIT(0);
	const char	*ws = a->val[OPT_WORKSPACE], *av, *kind, *tok, *ts;
	json_t		*ans = NULL;
	int		 rc = -1;

	buf_addstr(&path, "/api/v1/workspaces/");
	url_escape(&path, ws, false);
	buf_addstr(&path, "/token?format=exec-credential");
	if (path.failed) {
		errorf("out of memory");
		goto out;
	}
	if (http_post(a, path.data, NULL, "", access, &r) != 0)
		goto out;
	if (r.status != 200) {
		resp_detail(&r, detail, detailsz);
		if (r.status == 401)
			rc = 1;
		else if (r.status == 403 || r.status == 404)
			errorf("no token for workspace %s: %s", ws, detail);
		else
			errorf("getting a token for workspace %s failed "
			    "(HTTP %ld): %s", ws, r.status, detail);
		goto out;
	}
	ans = resp_json(&r);
	if (json_unpack(ans, "{s:s, s:s, s:{s:s, s:s}}", "apiVersion", &av,
	    "kind", &kind, "status", "token", &tok, "expirationTimestamp",
	    &ts) != 0 || strcmp(av, "client.authentication.k8s.io/v1") != 0 ||
	    strcmp(kind, "ExecCredential") != 0 || *tok == '\0' ||
	    rfc3339_parse(ts, exp) != 0) {
		errorf("%s answered with no ExecCredential for workspace %s",
		    a->server, ws);
		goto out;
	}
	if ((*token = strdup(tok)) == NULL) {
		errorf("out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(ans);
	buf_release(&path);
	resp_free(&r);
	return rc;
}

/* Keep `token` for the workspace, and forget the expired ones. */
static void
ws_token_keep(json_t *entry, const char *ws, const char *token,
    long long exp, long long now)
{
	json_t		*tokens = json_object_get(entry, "tokens"), *v;
	const char	*key;
	void		*tmp;

	if (!json_is_object(tokens)) {
		tokens = json_object();
		json_object_set_new(entry, "tokens", tokens);
	}
	json_object_foreach_safe(tokens, tmp, key, v)
		if (json_integer_value(json_object_get(v, "expires_at")) <= now)
			json_object_del(tokens, key);
	json_object_set_new(tokens, ws, json_pack("{s:s, s:I}", "token", token,
	    "expires_at", (json_int_t)exp));
}

/* The one line get-token prints: a client.authentication.k8s.io/v1 one. */
static int
exec_credential_print(const char *token, long long exp)
{
	struct tm	 tm;
	time_t		 t = (time_t)exp;
	json_t		*j;
	char		*text = NULL, when[32];
	int		 rc = -1;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		errorf("the token's expiry %lld is out of range", exp);
		return -1;
	}
	j = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion",
	    "client.authentication.k8s.io/v1", "kind", "ExecCredential",
	    "status", "token", token, "expirationTimestamp", when);
	if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL)
		errorf("out of memory");
	else if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
		errorf("cannot write to stdout: %s", strerror(errno));
	else
		rc = 0;
	json_free_wiped(text);
	json_decref(j);
	return rc;
}

static int
cmd_get_token(const struct args *a)
{
	struct store	 s;
	json_t		*entry, *cached;
	const char	*ws = a->val[OPT_WORKSPACE], *access, *tok;
	char		*token = NULL, detail[TEXT_MAX];
	long long	 now = (long long)time(NULL), exp;
	bool		 fresh = false;
	int		 rc = -1, got;

	if (store_open(&s) != 0)
		goto out;
	entry = json_object_get(s.servers, a->server);
	if (!json_is_string(json_object_get(entry, "refresh_token"))) {
		errorf("not signed in to %s: run " PROG " login --server %s",
		    a->server, a->server);
		goto out;
	}
	cached = json_object_get(json_object_get(entry, "tokens"), ws);
	tok = json_string_value(json_object_get(cached, "token"));
	exp = json_integer_value(json_object_get(cached, "expires_at"));
	if (tok != NULL && *tok != '\0' && exp - now > WS_MARGIN_S) {
		rc = exec_credential_print(tok, exp);
		goto out;
	}
	access = json_string_value(json_object_get(entry, "access_token"));
	if (access == NULL || json_integer_value(json_object_get(entry,
	    "access_expires_at")) - now <= ACCESS_MARGIN_S) {
		if (session_refresh(a, &s, entry, &access) != 0)
			goto out;
		fresh = true;
	}
	got = ws_token_fetch(a, access, &token, &exp, detail, sizeof(detail));
	if (got == 1 && !fresh) {
		/* Revoked early, perhaps: one new access token, one retry. */
		if (session_refresh(a, &s, entry, &access) != 0)
			goto out;
		got = ws_token_fetch(a, access, &token, &exp, detail,
		    sizeof(detail));
	}
	if (got == 1)
		errorf("%s refused a fresh access token (%s): run " PROG
		    " login --server %s", a->server, detail, a->server);
	if (got != 0)
		goto out;
	ws_token_keep(entry, ws, token, exp, now);
	if (store_save(&s) != 0)
		errorf("the token is not cached; the next run asks again");
	rc = exec_credential_print(token, exp);
out:
	if (token != NULL)
		explicit_bzero(token, strlen(token));
	free(token);
	store_close(&s);
	return rc;
}

static int
cmd_logout(const struct args *a)
{
	struct store	 s;
	int		 rc = -1;

	if (store_open(&s) != 0)
		goto out;
	if (json_object_get(s.servers, a->server) == NULL) {
		fprintf(stderr, "Not signed in to %s\n", a->server);
		rc = 0;
		goto out;
	}
	json_object_del(s.servers, a->server);
	if (store_save(&s) != 0)
		goto out;
	fprintf(stderr, "Signed out of %s\n", a->server);
	rc = 0;
out:
	store_close(&s);
	return rc;
}

/* Base64url of `n` random bytes appended to `b`.  0, or -1 (said). */
static int
random_b64(struct buf *b, size_t n)
{
	unsigned char	 raw[32];

	if (n > sizeof(raw) || crypto_random(raw, n) != 0) {
		errorf("no random bytes from the system");
		return -1;
	}
	b64url_encode(b, raw, n);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* A listening socket on 127.0.0.1:port; *bound is the port it got. */
static int
listen_loopback(long long port, int *bound)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		errorf("socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		errorf("cannot listen on 127.0.0.1:%lld: %s", port,
		    strerror(errno));
		close(fd);
		return -1;
	}
	*bound = ntohs(sin.sin_port);
	return fd;
}

static bool
in_path(const char *name)
{
	const char	*p = getenv("PATH"), *e;
	char		 f[PATH_MAX];
	int		 n;

	for (; p != NULL; p = *e != '\0' ? e + 1 : NULL) {
		e = strchrnul(p, ':');
		n = snprintf(f, sizeof(f), "%.*s/%s", (int)(e - p), p, name);
		if (e > p && n > 0 && n < (int)sizeof(f) &&
		    access(f, X_OK) == 0)
			return true;
	}
	return false;
}

/*
 * Start $BROWSER, or xdg-open on a desktop, on `url` if there is one, and
 * do not wait for it: a grandchild runs it, without a shell, output to
 * /dev/null.  Whether it worked, the user reads the URL on the terminal.
 */
static void
browser_open(const char *url)
{
	const char	*cmd = getenv("BROWSER");
	pid_t		 pid;
	int		 fd;

	if (cmd == NULL || *cmd == '\0') {
		if ((getenv("DISPLAY") == NULL &&
		    getenv("WAYLAND_DISPLAY") == NULL) || !in_path("xdg-open"))
			return;
		cmd = "xdg-open";
	}
	if ((pid = fork()) == -1)
		return;
	if (pid == 0) {
		if (fork() != 0)
			_exit(0);
		(void)setsid();
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(cmd, (char *[]){ (char *)cmd, (char *)url, NULL });
		_exit(127);
	}
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		continue;
}

/* An HTML page, `text` escaped, then the connection is done. */
static void
page_send(int fd, int status, const char *reason, const char *text)
{
	struct buf	 body = BUF_INIT(0), out = BUF_INIT(0);

	buf_addstr(&body, "<!doctype html>\n<html><head>"
	    "<meta charset=\"utf-8\"><title>Hexabase</title></head>\n"
	    "<body><p>");
	buf_add_html(&body, text);
	buf_addstr(&body, "</p></body></html>\n");
	buf_addf(&out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Security-Policy: default-src 'none'\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Connection: close\r\n\r\n", status, reason, body.len);
	buf_add(&out, body.data, body.len);
	if (!body.failed && !out.failed)
		(void)write_all(fd, out.data, out.len);
	buf_release(&body);
	buf_release(&out);
}

/*
 * Answer one complete request head.  Only GET /callback with our state
 * counts: its error ends the login (CB_FAILED), its code is the answer
 * (CB_CODE, *code for the caller to free); anything else is refused and
 * the wait goes on.
 */
static enum cb
callback_answer(int fd, char *head, const char *state, char **code)
{
	struct query	 q;
	const char	*st, *err, *desc, *c;
	char		*target, *sp, *qs, e1[TEXT_MAX], e2[TEXT_MAX];
	char		 page[3 * TEXT_MAX];
	size_t		 qlen;

	if (strncmp(head, "GET ", 4) != 0) {
		page_send(fd, 405, "Method Not Allowed", "Only GET is served.");
		return CB_WAIT;
	}
	target = head + 4;
	if ((sp = strpbrk(target, " \r\n")) == NULL || *sp != ' ') {
		page_send(fd, 400, "Bad Request", "Bad request.");
		return CB_WAIT;
	}
	*sp = '\0';
	if ((qs = strchr(target, '?')) != NULL)
		*qs++ = '\0';
	if (strcmp(target, "/callback") != 0) {
		page_send(fd, 404, "Not Found", "Not found.");
		return CB_WAIT;
	}
	if (qs == NULL || query_parse(qs, &q) != QUERY_OK) {
		page_send(fd, 400, "Bad Request", "This is not a sign-in "
		    "answer.");
		return CB_WAIT;
	}
	qlen = strlen(qs);
	st = query_get(&q, "state");
	if (st == NULL || strlen(st) != strlen(state) ||
	    !crypto_equal(st, state, strlen(state))) {
		page_send(fd, 400, "Bad Request", "This sign-in answer is not "
		    "for the sign-in in progress here; it is ignored.");
		query_free(&q);
		return CB_WAIT;
	}
	if ((err = query_get(&q, "error")) != NULL) {
		desc = query_get(&q, "error_description");
		text_clean(e1, sizeof(e1), err);
		text_clean(e2, sizeof(e2), desc != NULL ? desc : "");
		snprintf(page, sizeof(page), "Sign-in to Hexabase failed: "
		    "%s%s%s. See the terminal.", e1, *e2 ? ": " : "", e2);
		page_send(fd, 200, "OK", page);
		errorf("sign-in failed: %s%s%s", e1, *e2 ? ": " : "", e2);
		query_free(&q);
		return CB_FAILED;
	}
	if ((c = query_get(&q, "code")) == NULL || *c == '\0') {
		page_send(fd, 400, "Bad Request", "The sign-in answer has no "
		    "code.");
		query_free(&q);
		return CB_WAIT;
	}
	if ((*code = strdup(c)) == NULL) {
		page_send(fd, 500, "Internal Server Error", "Out of memory.");
		errorf("out of memory");
	} else
		page_send(fd, 200, "OK", "Signed in to Hexabase. You can close "
		    "this tab.");
	/* The code is in there too; query_parse() sized it so. */
	explicit_bzero(q.storage, qlen * 2 + 2);
	query_free(&q);
	return *code != NULL ? CB_CODE : CB_FAILED;
}

static void
conn_close(struct conn *cn)
{
	if (cn->fd != -1)
		close(cn->fd);
	cn->fd = -1;
	cn->len = 0;
}

static void
conn_accept(int lfd, struct conn *cs, long long now)
{
	struct timeval	 tv = { CONN_TIMEOUT_MS / 1000, 0 };
	int		 fd, i;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;		/* EAGAIN, EINTR, or the peer gave up */
	for (i = 0; i < CONN_MAX && cs[i].fd != -1; i++)
		continue;
	if (i == CONN_MAX) {
		close(fd);
		return;
	}
	/* Reads wait for poll; the answer must not block either. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cs[i].fd = fd;
	cs[i].len = 0;
	cs[i].deadline = now + CONN_TIMEOUT_MS;
}

/* Read what a readable connection has; answer once its head is whole. */
static enum cb
conn_read(struct conn *cn, const char *state, char **code)
{
	enum cb	 res;
	ssize_t	 n;

	n = read(cn->fd, cn->head + cn->len, HEAD_MAX - cn->len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return CB_WAIT;
	if (n <= 0) {
		conn_close(cn);
		return CB_WAIT;
	}
	cn->len += (size_t)n;
	cn->head[cn->len] = '\0';
	if (memmem(cn->head, cn->len, "\r\n\r\n", 4) == NULL &&
	    memmem(cn->head, cn->len, "\n\n", 2) == NULL) {
		if (cn->len == HEAD_MAX) {
			page_send(cn->fd, 431, "Request Header Fields Too "
			    "Large", "Request too large.");
			conn_close(cn);
		}
		return CB_WAIT;
	}
	res = callback_answer(cn->fd, cn->head, state, code);
	explicit_bzero(cn->head, cn->len);
	conn_close(cn);
	return res;
}

/*
 * Serve the loopback listener until the browser brings the code for
 * `state` (0, *code for the caller to free), or an error, or the timeout
 * (-1, said).  Several connections are read at once: browsers open
 * spare ones that may never send anything.
 */
static int
callback_wait(int lfd, long long timeout_s, const char *state, char **code)
{
	struct pollfd	 pfd[CONN_MAX + 1];
	struct conn	*cs;
	long long	 deadline = now_ms() + timeout_s * 1000, now, wake;
	enum cb		 res = CB_WAIT;
	int		 idx[CONN_MAX + 1], i, np, rc = -1;
	bool		 room;

	if ((cs = calloc(CONN_MAX, sizeof(*cs))) == NULL) {
		errorf("out of memory");
		return -1;
	}
	for (i = 0; i < CONN_MAX; i++)
		cs[i].fd = -1;
	while (res == CB_WAIT) {
		if ((now = now_ms()) >= deadline) {
			errorf("timed out after %lld seconds waiting for the "
			    "sign-in to finish in the browser", timeout_s);
			goto out;
		}
		wake = deadline;
		np = 0;
		room = false;
		for (i = 0; i < CONN_MAX; i++) {
			if (cs[i].fd != -1 && now >= cs[i].deadline)
				conn_close(&cs[i]);
			if (cs[i].fd == -1) {
				room = true;
				continue;
			}
			if (cs[i].deadline < wake)
				wake = cs[i].deadline;
			pfd[np].fd = cs[i].fd;
			pfd[np].events = POLLIN;
			idx[np++] = i;
		}
		if (room) {
			pfd[np].fd = lfd;
			pfd[np].events = POLLIN;
			idx[np++] = -1;
		}
		if (poll(pfd, (nfds_t)np, (int)(wake - now)) == -1) {
			if (errno == EINTR)
				continue;
			errorf("poll: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < np && res == CB_WAIT; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (idx[i] == -1)
				conn_accept(lfd, cs, now);
			else
				res = conn_read(&cs[idx[i]], state, code);
		}
	}
	rc = res == CB_CODE ? 0 : -1;
out:
	for (i = 0; i < CONN_MAX; i++)
		conn_close(&cs[i]);
	explicit_bzero(cs, CONN_MAX * sizeof(*cs));
	free(cs);
	return rc;
}

/*
 * Trade the code for tokens at /oauth2/token.  0 with *tokens (a new
 * reference holding access_token, refresh_token and expires_in), or -1
 * (said).
 */
static int
code_exchange(const struct args *a, const char *code, const char *redirect,
    const char *verifier, json_t **tokens)
{
	struct resp	 r = { 0, BUF_INIT(0) };
	struct buf	 form = BUF_INIT(0);
	const char	*at, *rt;
	json_int_t	 ttl;
	char		 detail[TEXT_MAX];
	int		 rc = -1;

	*tokens = NULL;
	buf_addstr(&form, "grant_type=authorization_code&code=");
	url_escape(&form, code, false);
	buf_addstr(&form, "&redirect_uri=");
	url_escape(&form, redirect, false);
	buf_addstr(&form, "&client_id=" CLIENT_ID "&code_verifier=");
	url_escape(&form, verifier, false);
	if (form.failed) {
		errorf("out of memory");
		goto out;
	}
	if (http_post(a, "/oauth2/token", "application/x-www-form-urlencoded",
	    form.data, NULL, &r) != 0)
		goto out;
	if (r.status != 200) {
		resp_detail(&r, detail, sizeof(detail));
		errorf("the token exchange failed: %s", detail);
		goto out;
	}
	*tokens = resp_json(&r);
	if (json_unpack(*tokens, "{s:s, s:s, s:I}", "access_token", &at,
	    "refresh_token", &rt, "expires_in", &ttl) != 0) {
		errorf("%s/oauth2/token answered without the tokens expected",
		    a->server);
		json_decref(*tokens);
		*tokens = NULL;
		goto out;
	}
	rc = 0;
out:
	buf_release_secret(&form);
	resp_free(&r);
	return rc;
}

/*
 * Who the ID token says signed in (email, else sub), for the message
 * only: it is not verified, and nothing is decided on it.
 */
static void
id_token_who(const char *idt, char *out, size_t n)
{
	const char	*p, *q, *who;
	unsigned char	*raw;
	size_t		 len;
	json_t		*j;

	out[0] = '\0';
	if (idt == NULL || (p = strchr(idt, '.')) == NULL ||
	    (q = strchr(p + 1, '.')) == NULL ||
	    (raw = b64url_decode(p + 1, (size_t)(q - p - 1), &len)) == NULL)
		return;
	j = json_loadb((const char *)raw, len, 0, NULL);
	if ((who = json_string_value(json_object_get(j, "email"))) == NULL)
		who = json_string_value(json_object_get(j, "sub"));
	if (who != NULL)
		text_clean(out, n, who);
	json_decref(j);
	free(raw);
}

/* Store the new session for the server, dropping its workspace tokens. */
static int
login_store(const struct args *a, json_t *tokens)
{
	struct store	 s;
	json_t		*entry;
	char		 who[TEXT_MAX];
	int		 rc = -1;

	if (store_open(&s) != 0)
		goto out;
	entry = json_pack("{s:O, s:O, s:I}",
	    "refresh_token", json_object_get(tokens, "refresh_token"),
	    "access_token", json_object_get(tokens, "access_token"),
	    "access_expires_at", (json_int_t)time(NULL) +
	    json_integer_value(json_object_get(tokens, "expires_in")));
	if (entry == NULL ||
	    json_object_set_new(s.servers, a->server, entry) != 0) {
		errorf("out of memory");
		goto out;
	}
	if (store_save(&s) != 0)
		goto out;
	id_token_who(json_string_value(json_object_get(tokens, "id_token")),
	    who, sizeof(who));
	fprintf(stderr, "Signed in to %s%s%s\n", a->server,
	    *who ? " as " : "", who);
	rc = 0;
out:
	store_close(&s);
	return rc;
}

static int
cmd_login(const struct args *a)
{
	struct buf	 state = BUF_INIT(0), nonce = BUF_INIT(0);
	struct buf	 verifier = BUF_INIT(0), challenge = BUF_INIT(0);
	struct buf	 redirect = BUF_INIT(0), url = BUF_INIT(0);
	struct store	 s;
	unsigned char	 digest[CRYPTO_SHA256_LEN];
	json_t		*tokens = NULL;
	char		*code = NULL;
	int		 lfd = -1, port, rc = -1;

	signal(SIGPIPE, SIG_IGN);	/* a browser may hang up on a page */
	/* A file that would be refused at the end is refused now. */
	if (store_open(&s) != 0) {
		store_close(&s);
		goto out;
	}
	store_close(&s);
	if (random_b64(&state, 32) != 0 || random_b64(&nonce, 32) != 0 ||
	    random_b64(&verifier, 32) != 0)
		goto out;
	crypto_sha256(verifier.data, verifier.len, digest);
	b64url_encode(&challenge, digest, sizeof(digest));
	if ((lfd = listen_loopback(a->port, &port)) == -1)
		goto out;
	buf_addf(&redirect, "http://127.0.0.1:%d/callback", port);
	buf_addstr(&url, a->server);
	buf_addstr(&url, "/oauth2/authorize?response_type=code&client_id="
	    CLIENT_ID "&redirect_uri=");
	url_escape(&url, buf_cstr(&redirect), false);
	buf_addstr(&url, "&scope=openid%20email%20offline_access&state=");
	url_escape(&url, buf_cstr(&state), false);
	buf_addstr(&url, "&nonce=");
	url_escape(&url, buf_cstr(&nonce), false);
	buf_addstr(&url, "&code_challenge=");
	url_escape(&url, buf_cstr(&challenge), false);
	buf_addstr(&url, "&code_challenge_method=S256");
	if (a->val[OPT_IDP] != NULL) {
		buf_addstr(&url, "&idp=");
		url_escape(&url, a->val[OPT_IDP], false);
	}
	if (state.failed || nonce.failed || verifier.failed ||
	    challenge.failed || redirect.failed || url.failed) {
		errorf("out of memory");
		goto out;
	}
	fprintf(stderr, "Open this URL in a browser to sign in:\n  %s\n"
	    "Waiting for the sign-in to finish...\n", url.data);
	if (a->val[OPT_NO_BROWSER] == NULL)
		browser_open(url.data);
	if (callback_wait(lfd, a->timeout, state.data, &code) != 0)
		goto out;
	close(lfd);
	lfd = -1;
	if (code_exchange(a, code, redirect.data, verifier.data,
	    &tokens) != 0)
		goto out;
	rc = login_store(a, tokens);
out:
	if (lfd != -1)
		close(lfd);
	if (code != NULL)
		explicit_bzero(code, strlen(code));
	free(code);
	json_decref(tokens);
	explicit_bzero(digest, sizeof(digest));
	buf_release_secret(&state);
	buf_release_secret(&nonce);
	buf_release_secret(&verifier);
	buf_release(&challenge);
	buf_release(&redirect);
	buf_release(&url);
	return rc;
}

int
main(int argc, char **argv)
{
	struct args	 a;
	int		 rc;

	switch (args_parse(argc, argv, &a)) {
	case 0:
		break;
	case 1:
		usage(stdout);
		return 0;
	default:
		usage(stderr);
		return 2;
	}
	if (server_check(&a) != 0)
		return 1;
	if (a.cmd == CMD_GET_TOKEN && !workspace_valid(a.val[OPT_WORKSPACE])) {
		errorf("--workspace must be a workspace id: 1 to 64 letters, "
		    "digits and dashes");
		return 1;
	}
	if (a.val[OPT_CA] != NULL && access(a.val[OPT_CA], R_OK) != 0) {
		errorf("cannot read %s: %s", a.val[OPT_CA], strerror(errno));
		return 1;
	}
	json_set_alloc_funcs(malloc, json_free_wiped);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errorf("cannot initialise libcurl");
		return 1;
	}
	switch (a.cmd) {
	case CMD_LOGIN:
		rc = cmd_login(&a);
		break;
	case CMD_GET_TOKEN:
		rc = cmd_get_token(&a);
		break;
	default:
		rc = cmd_logout(&a);
		break;
	}
	curl_global_cleanup();
	return rc == 0 ? 0 : 1;
}
