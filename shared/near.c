/*
 * near: process-local copies of Redis values; see near.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "near.h"

void
near_init(struct near *c, long long ttl_ms, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->ttl_ms = ttl_ms;
	c->max = max;
}

/* FNV-1a. */
static size_t
near_slot(const char *key, size_t klen)
{
	uint64_t	 h = 1469598103934665603ULL;
	size_t		 i;

	for (i = 0; i < klen; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return (size_t)(h % NEAR_SLOTS);
}

/* The link pointing at key's entry, or at the NULL ending its chain. */
static struct near_entry **
near_find(struct near *c, const char *key, size_t klen)
{
	struct near_entry	**pp = &c->slot[near_slot(key, klen)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
			break;
	return pp;
}

static void
near_unlink(struct near *c, struct near_entry **pp)
{
	struct near_entry	*e = *pp;

	*pp = e->next;
	free(e->val);
	free(e);
	c->n--;
}

const struct near_entry *
near_get(struct near *c, const char *key, size_t klen, long long now)
{
	struct near_entry	**pp = near_find(c, key, klen);

	if (*pp == NULL)
		return NULL;
	if ((*pp)->expires <= now) {
		near_unlink(c, pp);
		return NULL;
	}
	return *pp;
}

int
near_put(struct near *c, const char *key, size_t klen, const char *val,
    size_t vlen, long long now)
{
	struct near_entry	**pp, *e;
	char			*v = NULL;

	if (c->ttl_ms <= 0 || c->max == 0)
		return -1;
	if (val != NULL) {
		if ((v = malloc(vlen + 1)) == NULL)
			return -1;
		memcpy(v, val, vlen);
		v[vlen] = '\0';
	}
	if (*(pp = near_find(c, key, klen)) != NULL)
		near_unlink(c, pp);
	else if (c->n >= c->max) {
		near_clear(c);
		pp = near_find(c, key, klen);
	}
	if ((e = malloc(sizeof(*e) + klen + 1)) == NULL) {
		free(v);
		return -1;
	}
	e->expires = now + c->ttl_ms;
	e->val = v;
	e->vlen = v != NULL ? vlen : 0;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	e->next = *pp;
	*pp = e;
	c->n++;
	return 0;
}

void
near_drop(struct near *c, const char *key, size_t klen)
{
	struct near_entry	**pp = near_find(c, key, klen);

	if (*pp != NULL)
		near_unlink(c, pp);
}

void
near_clear(struct near *c)
{
	size_t	 i;

	for (i = 0; i < NEAR_SLOTS; i++)
		while (c->slot[i] != NULL)
			near_unlink(c, &c->slot[i]);
}

void
near_invalidate(void *arg, const char *key, size_t klen)
{
	struct near	*c = arg;

	if (key == NULL)
		near_clear(c);
	else
		near_drop(c, key, klen);
}
