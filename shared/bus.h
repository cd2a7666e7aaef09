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
 * The streams, created if missing by jobs/migrate and by every consumer
 * at start-up (file storage, JetStream's default duplicate window of two
 * minutes):
 *
 *   BUS_STREAM	    the control plane's requests (hexabase.cp.>), with
 *		    work-queue retention: a message is gone once a worker
 *		    acknowledged it;
 *   BUS_APP_STREAM the application plane's answers and events
 *		    (hexabase.app.>), kept BUS_APP_MAX_AGE_S for every
 *		    consumer that reads them;
 *   BUS_STRIPE_STREAM
 *		    Stripe's verified webhook events, republished as
 *		    stripe.webhook.<type>, kept as long.
 *
 * 0, or -1 with errmsg set.
 */
#define BUS_STREAM		"HEXABASE_CP"
#define BUS_SUBJECTS		"hexabase.cp.>"
#define BUS_APP_STREAM		"HEXABASE_APP"
#define BUS_APP_SUBJECTS	"hexabase.app.>"
#define BUS_APP_MAX_AGE_S	(7 * 24 * 3600)
#define BUS_STRIPE_STREAM	"STRIPE_WEBHOOK"
#define BUS_STRIPE_SUBJECTS	"stripe.webhook.>"

int	 bus_stream(struct bus *);

/*
 * A durable pull consumer, shared by every process that names it: each
 * message goes to one of them (the spec's queue group).  Acknowledged
 * explicitly; redelivered after ack_wait_ms without an ack or an
 * in-progress ack; delivered without limit (the tasks table counts
 * attempts).  The subscription is the caller's (natsSubscription_Destroy).
 */
struct bus_pull {
	const char	*stream;
	const char	*durable;
	const char	*filter;	/* subject filter */
	long		 ack_wait_ms;
	int		 max_ack_pending;
};

int	 bus_pull(struct bus *, const struct bus_pull *, natsSubscription **);

/*
 * Up to `max` messages within timeout_ms: the count (0 if none came), or
 * -1 with errmsg set.  The caller acks each and natsMsgList_Destroy()s
 * the list.
 */
int	 bus_fetch(struct bus *, natsSubscription *, natsMsgList *, int max,
	    int timeout_ms);

/*
 * Publish `data` to a JetStream subject and wait for the stream's ack.
 * `msg_id` may be NULL.  Returns 0, or -1 with errmsg set.
 */
int	 bus_publish(struct bus *, const char *subject, const void *data,
	    size_t len, const char *request_id, const char *msg_id);

#endif
