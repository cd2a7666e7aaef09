/*
 * cursor: "<key>.<id>" in unpadded base64url; see cursor.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "cursor.h"

int
cursor_encode(long long key, const char *id, char out[CURSOR_MAX])
{
	char		 raw[CURSOR_ID_MAX + 32];
	struct buf	 b = BUF_INIT(CURSOR_MAX - 1);
	int		 len, rc = -1;

	if (strlen(id) >= CURSOR_ID_MAX)
		return -1;
	len = snprintf(raw, sizeof(raw), "%lld.%s", key, id);
	if (len < 0 || (size_t)len >= sizeof(raw))
		return -1;
	b64url_encode(&b, raw, (size_t)len);
	if (!b.failed) {
		memcpy(out, b.data, b.len + 1);
		rc = 0;
	}
	buf_release(&b);
	return rc;
}

int
cursor_decode(const char *s, long long *key, char id[CURSOR_ID_MAX])
{
	char		 again[CURSOR_MAX];
	char		*raw, *dot, *end;
	const char	*p;
	size_t		 n = strlen(s), rawlen;
	int		 rc = -1;

	/* b64url_decode() refuses padding, strays and spare bits. */
	if (n == 0 || n >= CURSOR_MAX ||
	    (raw = (char *)b64url_decode(s, n, &rawlen)) == NULL)
		return -1;
	if (strlen(raw) != rawlen || (dot = strchr(raw, '.')) == NULL)
		goto out;
	*dot = '\0';
	errno = 0;
	*key = strtoll(raw, &end, 10);
	if (raw[0] == '\0' || *end != '\0' || errno != 0)
		goto out;
	if (strlen(dot + 1) == 0 || strlen(dot + 1) >= CURSOR_ID_MAX)
		goto out;
	for (p = dot + 1; *p != '\0'; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			goto out;
	/* Only the spelling we make: no "+5" or "05". */
	if (cursor_encode(*key, dot + 1, again) != 0 || strcmp(again, s) != 0)
		goto out;
	strcpy(id, dot + 1);
	rc = 0;
out:
	free(raw);
	return rc;
}
