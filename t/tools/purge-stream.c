/*
 * purge-stream: drop every message of a JetStream stream, as a lost
 * stream would, for the test of jobs/reconcile's stuck tasks.  Test
 * tooling, never installed.
 *
 *   purge-stream STREAM
 *
 * Run it with the handlers' environment (t/stack.sh with-env DIR ...),
 * which names NATS and its token.  Prints "purged".
 */
#include <stdio.h>
#include <string.h>

#include "app.h"

int
main(int argc, char **argv)
{
	struct app	 app;
	jsErrCode	 jerr = 0;
	natsStatus	 s;
	int		 rc;

	if (argc != 2) {
		fprintf(stderr, "usage: purge-stream STREAM\n");
		return 2;
	}
	if ((rc = app_init(&app, "purge-stream", 1, argv, NULL)) != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : 2;
	}
	if (bus_ping(&app.bus, 2000) != 0) {
		fprintf(stderr, "purge-stream: %s\n", app.bus.errmsg);
		app_fini(&app);
		return 1;
	}
	s = js_PurgeStream(app.bus.js, argv[1], NULL, &jerr);
	if (s != NATS_OK)
		fprintf(stderr, "purge-stream: %s (%d)\n",
		    natsStatus_GetText(s), (int)jerr);
	else
		printf("purged\n");
	app_fini(&app);
	return s == NATS_OK ? 0 : 1;
}
