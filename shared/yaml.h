/*
 * yaml: the block subset of YAML that kubeconfig files are written in,
 * read into jansson values.
 *
 * Kubeconfigs come from kubectl, k3s and vcluster, and are YAML.  What
 * they use is small: block mappings and sequences (a sequence may sit at
 * its key's own indentation), plain, single- and double-quoted scalars,
 * comments, the empty flow collections {} and [], and one document.  A
 * document that starts with '{' is JSON, which is YAML too.
 *
 * Everything else (anchors, aliases, tags, block scalars, flow collections
 * with content, several documents, tabs in indentation) is refused with
 * the line it is on; nothing is guessed.  Scalars become strings, except
 * that an empty value, "null" and "~" become null: a kubeconfig's reader
 * compares strings.
 */
#ifndef HXB_YAML_H
#define HXB_YAML_H

#include <stddef.h>

#include <jansson.h>

#define YAML_ERR_MAX	160

/*
 * Parse `len` bytes.  Returns a new reference, or NULL with the reason
 * (and its line) in `err`.
 */
json_t	*yaml_parse(const char *, size_t len, char err[YAML_ERR_MAX]);

#endif
