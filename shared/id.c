/*
 * id: ULID-bodied identifiers; see id.h.
 */
#include <sys/random.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "id.h"

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

static const char *const prefixes[ID__MAX] = {
	[ID_ORG] = "org-",
	[ID_WS] = "ws-",
	[ID_PRJ] = "prj-",
	[ID_GRP] = "grp-",
	[ID_ROLE] = "role-",
	[ID_USR] = "hxb-usr-",
	[ID_TASK] = "task-",
	[ID_SES] = "ses-",
	[ID_INV] = "inv-",
	[ID_RA] = "ra-",
	[ID_CRA] = "cra-",
};

const char *
id_prefix(enum id_kind k)
{
	return k < ID__MAX ? prefixes[k] : NULL;
}

void
id_format(enum id_kind k, uint64_t ms, const uint8_t rnd[10],
    char out[ID_BUFSZ])
{
	size_t	 plen = strlen(prefixes[k]);
	char	*p = out + plen;
	int	 i, bit;

	memcpy(out, prefixes[k], plen);
	/* 48 bits of time as 10 characters (the top 2 bits are zero). */
	for (i = 9; i >= 0; i--) {
		p[i] = alphabet[ms & 31];
		ms >>= 5;
	}
	/* 80 random bits as 16 characters, most significant first. */
	for (i = 0; i < 16; i++) {
		int v = 0, j;

		for (j = 0; j < 5; j++) {
			bit = i * 5 + j;
			v = (v << 1) | ((rnd[bit / 8] >> (7 - bit % 8)) & 1);
		}
		p[10 + i] = alphabet[v];
	}
	p[ID_BODY_LEN] = '\0';
}

/* Add one to a big-endian 80-bit number; returns true on overflow. */
static bool
rand_increment(uint8_t r[10])
{
	int	 i;

	for (i = 9; i >= 0; i--)
		if (++r[i] != 0)
			return false;
	return true;
}

int
id_new(struct id_gen *g, enum id_kind k, char out[ID_BUFSZ])
{
	struct timespec	 ts;
	uint64_t	 ms;
	ssize_t		 n;

	if (k >= ID__MAX)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	ms &= (UINT64_C(1) << 48) - 1;

	if (ms <= g->last_ms) {
		/* Same millisecond or the clock stepped back: stay ordered. */
		ms = g->last_ms;
		if (rand_increment(g->last_rand))
			ms++;
	} else {
		do {
			n = getrandom(g->last_rand, sizeof(g->last_rand), 0);
		} while (n == -1 && errno == EINTR);
		if (n != (ssize_t)sizeof(g->last_rand))
			return -1;
		/* Leave headroom so increments rarely carry into the time. */
		g->last_rand[0] &= 0x7f;
	}
	g->last_ms = ms;
	id_format(k, ms, g->last_rand, out);
	return 0;
}

static int
alphabet_index(char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(alphabet, c)) == NULL)
		return -1;
	return (int)(p - alphabet);
}

bool
id_valid(const char *s, enum id_kind k)
{
	size_t	 plen, i;

	if (s == NULL || k >= ID__MAX)
		return false;
	plen = strlen(prefixes[k]);
	if (strncmp(s, prefixes[k], plen) != 0 ||
	    strlen(s) != plen + ID_BODY_LEN)
		return false;
	s += plen;
	/* The first character carries only 3 bits of the 48-bit time. */
	if (alphabet_index(s[0]) < 0 || alphabet_index(s[0]) > 7)
		return false;
	for (i = 1; i < ID_BODY_LEN; i++)
		if (alphabet_index(s[i]) < 0)
			return false;
	return true;
}

uint64_t
id_time_ms(const char *s, enum id_kind k)
{
	uint64_t	 ms = 0;
	size_t		 i;

	if (!id_valid(s, k))
		return 0;
	s += strlen(prefixes[k]);
	for (i = 0; i < 10; i++)
		ms = (ms << 5) | (uint64_t)alphabet_index(s[i]);
	return ms;
}
