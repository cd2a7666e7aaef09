/*
 * id: prefixed, lowercase, time-sortable identifiers that are valid DNS
 * labels, e.g. "ws-01jd3k6q9n8x2c4v5b7m0p1r2t".
 *
 * The body is a ULID (48-bit millisecond time, 80 random bits) in
 * lowercase Crockford base32, 26 characters.  Within one generator the ids
 * are strictly increasing, even inside one millisecond or if the clock
 * steps back.
 */
#ifndef HXB_ID_H
#define HXB_ID_H

#include <stdbool.h>
#include <stdint.h>

enum id_kind {
	ID_ORG,
	ID_WS,
	ID_PRJ,
	ID_GRP,
	ID_ROLE,
	ID_USR,
	ID_TASK,
	ID_SES,
	ID_INV,
	ID_RA,
	ID_CRA,
	ID__MAX
};

#define ID_BODY_LEN	26
#define ID_BUFSZ	48	/* longest prefix + body + NUL, with room */

struct id_gen {
	uint64_t	 last_ms;
	uint8_t		 last_rand[10];
};

#define ID_GEN_INIT	{ 0, { 0 } }

const char	*id_prefix(enum id_kind);

/* Write a new id into out[ID_BUFSZ].  Returns 0, or -1 if no entropy. */
int		 id_new(struct id_gen *, enum id_kind, char out[ID_BUFSZ]);

/* As id_new() at a given time and with given randomness (for tests). */
void		 id_format(enum id_kind, uint64_t ms, const uint8_t rnd[10],
		    char out[ID_BUFSZ]);

bool		 id_valid(const char *, enum id_kind);

/* Milliseconds since the epoch encoded in a valid id, or 0. */
uint64_t	 id_time_ms(const char *, enum id_kind);

#endif
