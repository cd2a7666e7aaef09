/*
 * bus: publishing to JetStream on the test stack's real nats-server.  The
 * request id travels as X-Request-Id and the message id as Nats-Msg-Id,
 * which JetStream uses to drop duplicates.  Skipped outside `make test`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "bus.h"
#include "config.h"
#include "log.h"

struct fixture {
	struct config	 cfg;
	struct logger	 log;
	struct bus	 bus;
	char		 url[64];
	char		 token_file[512];
	int		 devnull;
};

static const char *
lookup(const char *name, void *arg)
{
	struct fixture	*f = arg;

	if (strcmp(name, "HXB_DATABASE_URL") == 0)
		return "unused";
	if (strcmp(name, "HXB_NATS_URL") == 0)
		return f->url;
	if (strcmp(name, "HXB_NATS_TOKEN_FILE") == 0)
		return f->token_file;
	return NULL;
}

/* NATS_PORT from the stack's state file. */
static int
stack_nats_port(const char *stack)
{
	char	 path[512], line[256];
	FILE	*fp;
	int	 port = 0;

	snprintf(path, sizeof(path), "%s/stack.env", stack);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "NATS_PORT=", 10) == 0)
			port = atoi(line + 10);
	fclose(fp);
	return port;
}

static int
setup(void **state)
{
	const char	*stack = getenv("HXB_TEST_STACK");
	struct fixture	*f;
	struct buf	 err = BUF_INIT(4096);
	int		 port;

	if (stack == NULL || (port = stack_nats_port(stack)) == 0) {
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->url, sizeof(f->url), "nats://127.0.0.1:%d", port);
	snprintf(f->token_file, sizeof(f->token_file), "%s/secrets/nats",
	    stack);
	assert_int_equal(config_load(&f->cfg, lookup, f, &err), 0);
	buf_release(&err);
	/* The expected failure below logs; keep it out of the TAP stream. */
	f->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	log_init(&f->log, "bus-test", LOGL_ERROR, f->devnull);
	bus_init(&f->bus, &f->cfg, &f->log, "bus-test");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	if (f == NULL)
		return 0;
	bus_close(&f->bus);
	config_free(&f->cfg);
	close(f->devnull);
	free(f);
	return 0;
}

static void
test_ping(void **state)
{
	struct fixture	*f = *state;

	if (f == NULL)
		skip();
	assert_int_equal(bus_ping(&f->bus, 1000), 0);
}

static void
test_publish_headers_and_dedup(void **state)
{
	struct fixture	*f = *state;
	jsStreamConfig	 sc;
	jsStreamInfo	*si = NULL;
	jsErrCode	 jerr = 0;
	natsMsg		*m = NULL;
	const char	*subjects[] = { "hxbtest.>" };
	const char	*v = NULL;

	if (f == NULL)
		skip();
	assert_int_equal(bus_ping(&f->bus, 1000), 0);
	js_DeleteStream(f->bus.js, "HXB_BUS_TEST", NULL, &jerr);
	jsStreamConfig_Init(&sc);
	sc.Name = "HXB_BUS_TEST";
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_MemoryStorage;
	assert_int_equal(js_AddStream(&si, f->bus.js, &sc, NULL, &jerr),
	    NATS_OK);
	jsStreamInfo_Destroy(si);
	si = NULL;

	assert_int_equal(bus_publish(&f->bus, "hxbtest.request", "{\"a\":1}",
	    7, "req-0123456789", "task-1"), 0);
	/* The same message id again is a duplicate: acked, not stored. */
	assert_int_equal(bus_publish(&f->bus, "hxbtest.request", "{\"a\":1}",
	    7, "req-0123456789", "task-1"), 0);
	assert_int_equal(js_GetStreamInfo(&si, f->bus.js, "HXB_BUS_TEST", NULL,
	    &jerr), NATS_OK);
	assert_int_equal(si->State.Msgs, 1);
	jsStreamInfo_Destroy(si);

	assert_int_equal(js_GetLastMsg(&m, f->bus.js, "HXB_BUS_TEST",
	    "hxbtest.request", NULL, &jerr), NATS_OK);
	assert_int_equal(natsMsgHeader_Get(m, "X-Request-Id", &v), NATS_OK);
	assert_string_equal(v, "req-0123456789");
	assert_int_equal(natsMsgHeader_Get(m, "Nats-Msg-Id", &v), NATS_OK);
	assert_string_equal(v, "task-1");
	assert_memory_equal(natsMsg_GetData(m), "{\"a\":1}", 7);
	natsMsg_Destroy(m);

	assert_int_equal(js_DeleteStream(f->bus.js, "HXB_BUS_TEST", NULL,
	    &jerr), NATS_OK);
}

static void
test_publish_without_stream_fails(void **state)
{
	struct fixture	*f = *state;

	if (f == NULL)
		skip();
	assert_int_equal(bus_publish(&f->bus, "hxbtest-nostream.x", "{}", 2,
	    "req-1", NULL), -1);
	assert_true(strlen(f->bus.errmsg) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_publish_headers_and_dedup),
		cmocka_unit_test(test_publish_without_stream_fails),
	};

	/* cmocka reports skip() as "not ok"; skip the whole file instead. */
	if (getenv("HXB_TEST_STACK") == NULL) {
		printf("1..0 # SKIP no test stack (run make test)\n");
		return 0;
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("bus", tests, setup, teardown);
}
