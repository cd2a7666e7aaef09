/*
 * page: the query of every list endpoint, ?limit (1 to 100) and ?cursor
 * (an opaque next_cursor from the page before; see cursor.h), and the
 * {items, next_cursor} answer.
 */
#ifndef HXB_PAGE_H
#define HXB_PAGE_H

#include <stdbool.h>

#include <jansson.h>

#include "cursor.h"
#include "validate.h"

struct req;

enum page_field { PAGE_LIMIT, PAGE_CURSOR, PAGE__MAX };

extern const struct field page_query[PAGE__MAX + 1];

struct page {
	long long	 limit;
	long long	 key;			/* of the last row shown;
						 * LLONG_MIN from the start */
	char		 after[CURSOR_ID_MAX];	/* "" from the start */
	char		 limit_str[24];		/* limit + 1, for SQL */
};

/* Read the page asked for; 0, or -1 after answering 400. */
int	 page_read(struct req *, long long dflt, struct page *);

/*
 * {items, next_cursor}: items stolen; fetched is how many rows the query
 * returned for limit + 1 asked, last_key/last_id the last row shown.
 */
json_t	*page_answer(const struct page *, json_t *items, int fetched,
	    long long last_key, const char *last_id);

#endif
