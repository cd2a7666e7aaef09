/*
 * bus: NATS JetStream through cnats; see bus.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "log.h"

#define BUS_SERVERS_MAX	16

void
bus_init(struct bus *b, const struct config *cfg, const struct logger *log,
    const char *name)
{
	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	b->log = log;
	b->name = name;
}

static void
bus_drop(struct bus *b)
{
	if (b->js != NULL)
		jsCtx_Destroy(b->js);
	if (b->nc != NULL)
		natsConnection_Destroy(b->nc);
	b->js = NULL;
	b->nc = NULL;
}

void
bus_close(struct bus *b)
{
	bus_drop(b);
	if (b->opened)
		nats_CloseAndWait(2000);
	b->opened = false;
}

static void
bus_seterr(struct bus *b, const char *what, natsStatus s)
{
	const char *last = nats_GetLastError(NULL);

	snprintf(b->errmsg, sizeof(b->errmsg), "%s: %s%s%s", what,
	    natsStatus_GetText(s), last != NULL && *last ? ": " : "",
	    last != NULL ? last : "");
}

/* Split "nats://a:4222,nats://b:4222" into servers; returns the count. */
static int
bus_servers(char *urls, const char **out)
{
	char	*p, *save = NULL;
	int	 n = 0;

	for (p = strtok_r(urls, ",", &save); p != NULL && n < BUS_SERVERS_MAX;
	    p = strtok_r(NULL, ",", &save))
		if (*p != '\0')
			out[n++] = p;
	return n;
}

static int
bus_connect(struct bus *b, int timeout_ms)
{
	natsOptions	*o = NULL;
	natsStatus	 s;
	const char	*servers[BUS_SERVERS_MAX];
	const char	*token = config_str(b->cfg, CFG_NATS_TOKEN);
	char		*urls;
	int		 n;

	if ((urls = strdup(config_str(b->cfg, CFG_NATS_URL))) == NULL)
		return -1;
	n = bus_servers(urls, servers);
	b->opened = true;
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, servers, n);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, timeout_ms);
	if (s == NATS_OK && b->name != NULL)
		s = natsOptions_SetName(o, b->name);
	if (s == NATS_OK && token != NULL)
		s = natsOptions_SetToken(o, token);
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = natsConnection_Connect(&b->nc, o);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&b->js, b->nc, NULL);
	natsOptions_Destroy(o);
	free(urls);
	if (s != NATS_OK) {
		bus_seterr(b, "cannot connect to NATS", s);
		bus_drop(b);
		return -1;
	}
	return 0;
}

int
bus_ping(struct bus *b, int timeout_ms)
{
	jsOptions	 jo;
	jsAccountInfo	*ai = NULL;
	jsErrCode	 jerr = 0;
	natsStatus	 s;

	if (b->nc == NULL && bus_connect(b, timeout_ms) != 0)
		return -1;
	if (natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED) {
		snprintf(b->errmsg, sizeof(b->errmsg), "NATS connection is "
		    "not established (reconnecting)");
		return -1;
	}
	jsOptions_Init(&jo);
	jo.Wait = timeout_ms;
	s = js_GetAccountInfo(&ai, b->js, &jo, &jerr);
	if (ai != NULL)
		jsAccountInfo_Destroy(ai);
	if (s != NATS_OK) {
		bus_seterr(b, "JetStream did not answer", s);
		return -1;
	}
	return 0;
}

/*
 * A stream as `sc` describes it: created if missing, left alone if it is
 * there with the same retention.  A stream of another retention cannot be
 * changed in place: one without consumers is made again (what it held
 * was published from rows the relay still has); one with consumers is
 * an error for an operator.
 */
static int
bus_ensure(struct bus *b, jsStreamConfig *sc)
{
	jsStreamInfo	*si = NULL;
	jsErrCode	 jerr = 0;
	natsStatus	 s;
	bool		 remake = false;

	if (js_GetStreamInfo(&si, b->js, sc->Name, NULL, &jerr) == NATS_OK) {
		if (si->Config->Retention == sc->Retention) {
			jsStreamInfo_Destroy(si);
			return 0;
		}
		if (si->State.Consumers > 0) {
			jsStreamInfo_Destroy(si);
			snprintf(b->errmsg, sizeof(b->errmsg), "stream %s has "
			    "another retention policy and consumers: delete "
			    "it by hand", sc->Name);
			return -1;
		}
		jsStreamInfo_Destroy(si);
		si = NULL;
		if ((s = js_DeleteStream(b->js, sc->Name, NULL, &jerr)) !=
		    NATS_OK) {
			bus_seterr(b, "cannot delete the stream", s);
			return -1;
		}
		remake = true;
	}
	if ((s = js_AddStream(&si, b->js, sc, NULL, &jerr)) != NATS_OK) {
		snprintf(b->errmsg, sizeof(b->errmsg), "cannot create stream "
		    "%s: %s (%d)", sc->Name, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	jsStreamInfo_Destroy(si);
	log_info(b->log, "%s JetStream stream %s for %s",
	    remake ? "made again (retention changed)" : "created", sc->Name,
	    sc->Subjects[0]);
	return 0;
}

int
bus_stream(struct bus *b)
{
	static const char *const cp[] = { BUS_SUBJECTS };
	static const char *const app[] = { BUS_APP_SUBJECTS };
	static const char *const stripe[] = { BUS_STRIPE_SUBJECTS };
	static const struct {
		const char		*name;
		const char *const	*subjects;
		jsRetentionPolicy	 retention;
		int64_t			 max_age_s;	/* 0: none */
	} streams[] = {
		{ BUS_STREAM, cp, js_WorkQueuePolicy, 0 },
		{ BUS_APP_STREAM, app, js_LimitsPolicy, BUS_APP_MAX_AGE_S },
		{ BUS_STRIPE_STREAM, stripe, js_LimitsPolicy,
		    BUS_APP_MAX_AGE_S },
	};
	jsStreamConfig	 sc;
	size_t		 i;
	int		 timeout = (int)config_int(b->cfg, CFG_NATS_TIMEOUT_MS);

	if (b->nc == NULL && bus_connect(b, timeout) != 0)
		return -1;
	for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		jsStreamConfig_Init(&sc);
		sc.Name = streams[i].name;
		sc.Subjects = (const char **)streams[i].subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Retention = streams[i].retention;
		sc.MaxAge = streams[i].max_age_s * 1000000000;
		if (bus_ensure(b, &sc) != 0)
			return -1;
	}
	return 0;
}

int
bus_pull(struct bus *b, const struct bus_pull *p, natsSubscription **sub)
{
	jsSubOptions	 so;
	jsErrCode	 jerr = 0;
	natsStatus	 s;
	int		 timeout = (int)config_int(b->cfg, CFG_NATS_TIMEOUT_MS);

	*sub = NULL;
	if (b->nc == NULL && bus_connect(b, timeout) != 0)
		return -1;
	jsSubOptions_Init(&so);
	so.Stream = p->stream;
	so.Config.Durable = p->durable;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.AckWait = (int64_t)p->ack_wait_ms * 1000000;
	so.Config.MaxDeliver = -1;
	so.Config.MaxAckPending = p->max_ack_pending;
	so.Config.FilterSubject = p->filter;
	if ((s = js_PullSubscribe(sub, b->js, p->filter, p->durable, NULL, &so,
	    &jerr)) != NATS_OK) {
		snprintf(b->errmsg, sizeof(b->errmsg), "cannot consume %s as "
		    "%s: %s (%d)", p->filter, p->durable, natsStatus_GetText(s),
		    (int)jerr);
		*sub = NULL;
		return -1;
	}
	return 0;
}

int
bus_fetch(struct bus *b, natsSubscription *sub, natsMsgList *list, int max,
    int timeout_ms)
{
	jsErrCode	 jerr = 0;
	natsStatus	 s;

	memset(list, 0, sizeof(*list));
	s = natsSubscription_Fetch(list, sub, max, timeout_ms, &jerr);
	if (s == NATS_OK)
		return list->Count;
	if (s == NATS_TIMEOUT)
		return 0;
	bus_seterr(b, "JetStream fetch failed", s);
	return -1;
}

int
bus_publish(struct bus *b, const char *subject, const void *data,
    size_t len, const char *request_id, const char *msg_id)
{
	natsMsg		*m = NULL;
	jsPubOptions	 po;
	jsPubAck	*ack = NULL;
	jsErrCode	 jerr = 0;
	natsStatus	 s;
	int		 timeout = (int)config_int(b->cfg, CFG_NATS_TIMEOUT_MS);

	if (b->nc == NULL && bus_connect(b, timeout) != 0)
		goto fail;
	s = natsMsg_Create(&m, subject, NULL, data, (int)len);
	if (s == NATS_OK && request_id != NULL)
		s = natsMsgHeader_Set(m, "X-Request-Id", request_id);
	if (s == NATS_OK) {
		jsPubOptions_Init(&po);
		po.MaxWait = timeout;
		po.MsgId = msg_id;
		s = js_PublishMsg(&ack, b->js, m, &po, &jerr);
	}
	if (ack != NULL)
		jsPubAck_Destroy(ack);
	natsMsg_Destroy(m);
	if (s != NATS_OK) {
		bus_seterr(b, "JetStream publish failed", s);
		goto fail;
	}
	return 0;
fail:
	log_msg(b->log, LOGL_ERROR, __func__, request_id, "%s: %s", subject,
	    b->errmsg);
	return -1;
}
