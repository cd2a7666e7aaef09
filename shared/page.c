/*
 * page: list queries and answers; see page.h.
 */
#include <limits.h>
#include <stdio.h>

#include "http.h"
#include "page.h"

const struct field page_query[PAGE__MAX + 1] = {
	[PAGE_LIMIT] = { "limit", FIELD_INT, false, false, 1, 100, NULL,
	    NULL },
	[PAGE_CURSOR] = { "cursor", FIELD_STRING, false, false, 1,
	    CURSOR_MAX - 1, "[A-Za-z0-9_-]+",
	    "must be a next_cursor from an earlier page" },
	[PAGE__MAX] = { NULL },
};

int
page_read(struct req *r, long long dflt, struct page *pg)
{
	json_t	*errors;

	pg->limit = r->qv.present[PAGE_LIMIT] ? r->qv.num[PAGE_LIMIT] : dflt;
	pg->key = LLONG_MIN;
	pg->after[0] = '\0';
	snprintf(pg->limit_str, sizeof(pg->limit_str), "%lld", pg->limit + 1);
	if (r->qv.present[PAGE_CURSOR] && cursor_decode(r->qv.str[PAGE_CURSOR],
	    &pg->key, pg->after) != 0) {
		errors = json_array();
		validate_error(errors, "cursor", "must be a next_cursor from "
		    "an earlier page");
		http_problem(r, PROBLEM_INVALID_QUERY, "the cursor is not "
		    "valid", errors);
		return -1;
	}
	return 0;
}

json_t *
page_answer(const struct page *pg, json_t *items, int fetched,
    long long last_key, const char *last_id)
{
	char	 next[CURSOR_MAX];
	json_t	*o = json_object();

	json_object_set_new(o, "items", items);
	if (fetched > pg->limit && last_id != NULL &&
	    cursor_encode(last_key, last_id, next) == 0)
		json_object_set_new(o, "next_cursor", json_string(next));
	else
		json_object_set_new(o, "next_cursor", json_null());
	return o;
}
