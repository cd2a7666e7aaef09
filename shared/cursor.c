/*
 * cursor: "<key>.<id>" in unpadded base64url; see cursor.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
cursor_encode(long long key, const char *id, char out[CURSOR_MAX])
{
	char		 raw[CURSOR_ID_MAX + 32];
	size_t		 n, i, o = 0;
	unsigned int	 v;
	int		 len;

	if (strlen(id) >= CURSOR_ID_MAX)
		return -1;
	len = snprintf(raw, sizeof(raw), "%lld.%s", key, id);
	if (len < 0 || (size_t)len >= sizeof(raw))
		return -1;
	n = (size_t)len;
	for (i = 0; i < n; i += 3) {
		v = (unsigned char)raw[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)raw[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)raw[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return 0;
}

int
cursor_decode(const char *s, long long *key, char id[CURSOR_ID_MAX])
{
	char		 raw[CURSOR_MAX], again[CURSOR_MAX];
	size_t		 n = strlen(s), i, o = 0, k;
	unsigned int	 v;
	const char	*p;
	char		*dot, *end;
	int		 bits;

	if (n == 0 || n >= CURSOR_MAX || n % 4 == 1)
		return -1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		bits = 0;
		for (k = i; k < i + 4 && k < n; k++) {
			if ((p = strchr(b64, s[k])) == NULL || s[k] == '\0')
				return -1;
			v = (v << 6) | (unsigned int)(p - b64);
			bits += 6;
		}
		for (; bits >= 8; bits -= 8)
			raw[o++] = (char)((v >> (bits - 8)) & 0xff);
	}
	raw[o] = '\0';
	if (strlen(raw) != o || (dot = strchr(raw, '.')) == NULL)
		return -1;
	*dot = '\0';
	errno = 0;
	*key = strtoll(raw, &end, 10);
	if (raw[0] == '\0' || *end != '\0' || errno != 0)
		return -1;
	if (strlen(dot + 1) == 0 || strlen(dot + 1) >= CURSOR_ID_MAX)
		return -1;
	for (p = dot + 1; *p != '\0'; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return -1;
	/* Only the spelling we make: no "+5" or "05", no stray low bits. */
	if (cursor_encode(*key, dot + 1, again) != 0 || strcmp(again, s) != 0)
		return -1;
	strcpy(id, dot + 1);
	return 0;
}
