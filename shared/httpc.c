/*
 * httpc: see httpc.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "app.h"
#include "buf.h"
#include "httpc.h"
#include "log.h"
#include "url.h"

static CURL	*handle;
static bool	 global_done;

void
httpc_resp_init(struct httpc_resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, HTTPC_BODY_MAX);
}

void
httpc_resp_free(struct httpc_resp *r)
{
	buf_release(&r->body);
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf	*b = arg;

	buf_add(b, p, size * n);
	return b->failed ? 0 : size * n;	/* 0 aborts the transfer */
}

void
httpc_form_escape(struct buf *b, const char *s)
{
	url_escape(b, s, true);
}

int
httpc_request(struct app *app, const char *url, const char *form,
    const char *const *headers, struct httpc_resp *resp)
{
	return httpc_call(app, form != NULL ? "POST" : "GET", url, form,
	    headers, resp);
}

int
httpc_call(struct app *app, const char *method, const char *url,
    const char *form, const char *const *headers, struct httpc_resp *resp)
{
	struct curl_slist	*hl = NULL, *t;
	const char		*ca = config_str(&app->cfg, CFG_TLS_CA_FILE);
	CURLcode		 cc;
	int			 rc = -1;

	buf_reset(&resp->body);
	resp->status = 0;
	resp->error[0] = '\0';
	if (strncmp(url, "https://", 8) != 0) {
		snprintf(resp->error, sizeof(resp->error),
		    "refusing a non-https URL");
		return -1;
	}
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(resp->error, sizeof(resp->error),
			    "curl_global_init failed");
			return -1;
		}
		global_done = true;
	}
	if (handle == NULL && (handle = curl_easy_init()) == NULL) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return -1;
	}
	curl_easy_reset(handle);
	for (; headers != NULL && *headers != NULL; headers++) {
		if ((t = curl_slist_append(hl, *headers)) == NULL)
			goto out;
		hl = t;
	}
	if ((t = curl_slist_append(hl, "Expect:")) == NULL)
		goto out;
	hl = t;
	curl_easy_setopt(handle, CURLOPT_URL, url);
	curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(handle, CURLOPT_CAINFO, ca);
	curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
	    (long)config_int(&app->cfg, CFG_HTTP_TIMEOUT_MS));
	curl_easy_setopt(handle, CURLOPT_MAXFILESIZE, (long)HTTPC_BODY_MAX);
	curl_easy_setopt(handle, CURLOPT_USERAGENT, "hexabase-control-plane");
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(handle, CURLOPT_WRITEDATA, &resp->body);
	if (strcmp(method, "GET") != 0) {
		if (form == NULL)
			form = "";
		curl_easy_setopt(handle, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(form));
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method);
	}
	if ((cc = curl_easy_perform(handle)) != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s",
		    resp->body.failed ? "response too large" :
		    curl_easy_strerror(cc));
		log_warn(&app->log, "%s %s: %s", method, url, resp->error);
		goto out;
	}
	curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &resp->status);
	(void)buf_cstr(&resp->body);
	rc = 0;
out:
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	return rc;
}

void
httpc_cleanup(void)
{
	if (handle != NULL)
		curl_easy_cleanup(handle);
	handle = NULL;
	if (global_done)
		curl_global_cleanup();
	global_done = false;
}
