/*
 * bus: the NATS JetStream connection of a process, opened lazily and kept
 * reconnecting by cnats in the background.
 *
 * Every message published through here carries the request id in an
 * X-Request-Id header, and optionally a Nats-Msg-Id for JetStream's
 * de-duplication window.
 *
 * Ownership: the struct borrows the configuration and logger; it owns the
 * connection and JetStream context, which bus_close() destroys.
 */
#ifndef HXB_BUS_H
#define HXB_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

struct config;
struct logger;

struct bus {
	natsConnection		*nc;
	jsCtx			*js;
	const struct config	*cfg;
	const struct logger	*log;
	const char		*name;
	bool			 opened;	/* the cnats library is in use */
	char			 errmsg[256];
};

void	 bus_init(struct bus *, const struct config *, const struct logger *,
	    const char *name);
void	 bus_close(struct bus *);

/* Connected, and JetStream answers within timeout_ms: 0. */
int	 bus_ping(struct bus *, int timeout_ms);

/*
 * The control plane's stream: BUS_STREAM keeps every subject under
 * BUS_SUBJECTS (file storage, the duplicate window of JetStream's default
 * two minutes).  Created if missing, left alone if there; 0, or -1 with
 * errmsg set.  jobs/migrate calls it, so that no publish meets no stream.
 */
#define BUS_STREAM	"HEXABASE_CP"
#define BUS_SUBJECTS	"hexabase.cp.>"

int	 bus_stream(struct bus *);

/*
 * Publish `data` to a JetStream subject and wait for the stream's ack.
 * `msg_id` may be NULL.  Returns 0, or -1 with errmsg set.
 */
int	 bus_publish(struct bus *, const char *subject, const void *data,
	    size_t len, const char *request_id, const char *msg_id);

#endif
