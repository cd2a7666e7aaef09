/*
 * yaml: the kubeconfig subset is read exactly, and everything outside it
 * is refused with its line, never guessed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "yaml.h"

/* Parse s and compare it, as compact sorted JSON, with want. */
static void
same(const char *s, const char *want)
{
	char	 err[YAML_ERR_MAX];
	json_t	*v = yaml_parse(s, strlen(s), err);
	char	*got;

	if (v == NULL)
		fail_msg("refused: %s\n%s", err, s);
	got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
	    JSON_ENSURE_ASCII);
	if (strcmp(got, want) != 0)
		fail_msg("got %s\nwant %s", got, want);
	free(got);
	json_decref(v);
}

/* s must be refused, with a reason containing why. */
static void
refused(const char *s, const char *why)
{
	char	 err[YAML_ERR_MAX];
	json_t	*v = yaml_parse(s, strlen(s), err);

	if (v != NULL) {
		char *got = json_dumps(v, JSON_ENCODE_ANY);

		fail_msg("accepted as %s:\n%s", got, s);
	}
	if (strstr(err, why) == NULL)
		fail_msg("reason '%s' lacks '%s'", err, why);
}

static void
test_kubectl_shape(void **state)
{
	(void)state;
	same("apiVersion: v1\n"
	    "clusters:\n"
	    "- cluster:\n"
	    "    certificate-authority-data: QUJD\n"
	    "    server: https://127.0.0.1:6443\n"
	    "  name: c1\n"
	    "contexts:\n"
	    "- context:\n"
	    "    cluster: c1\n"
	    "    user: u1\n"
	    "  name: ctx\n"
	    "current-context: ctx\n"
	    "kind: Config\n"
	    "preferences: {}\n"
	    "users:\n"
	    "- name: u1\n"
	    "  user:\n"
	    "    token: abc\n",
	    "{\"apiVersion\":\"v1\",\"clusters\":[{\"cluster\":"
	    "{\"certificate-authority-data\":\"QUJD\",\"server\":"
	    "\"https://127.0.0.1:6443\"},\"name\":\"c1\"}],\"contexts\":"
	    "[{\"context\":{\"cluster\":\"c1\",\"user\":\"u1\"},\"name\":"
	    "\"ctx\"}],\"current-context\":\"ctx\",\"kind\":\"Config\","
	    "\"preferences\":{},\"users\":[{\"name\":\"u1\",\"user\":"
	    "{\"token\":\"abc\"}}]}");
}

static void
test_indented_sequences(void **state)
{
	(void)state;
	/* Sequences indented under their key, and nested ones. */
	same("a:\n  - x\n  - y\nb:\n  - - 1\n    - 2\n  - k: v\n    l: w\n",
	    "{\"a\":[\"x\",\"y\"],\"b\":[[\"1\",\"2\"],{\"k\":\"v\",\"l\":"
	    "\"w\"}]}");
	same("- a\n- b: c\n-\n  d: e\n", "[\"a\",{\"b\":\"c\"},{\"d\":\"e\"}]");
}

static void
test_scalars(void **state)
{
	(void)state;
	same("a: 'it''s'\nb: \"q\\\"\\n\\u00e9\"\nc: plain text # note\n"
	    "d:\ne: null\nf: ~\ng: []\nh: \"#not a comment\"\ni: a#b\n",
	    "{\"a\":\"it's\",\"b\":\"q\\\"\\n\\u00E9\",\"c\":\"plain text\","
	    "\"d\":null,\"e\":null,\"f\":null,\"g\":[],\"h\":\"#not a "
	    "comment\",\"i\":\"a#b\"}");
	/* Booleans and numbers stay strings: the reader compares them. */
	same("x: true\ny: 42\n", "{\"x\":\"true\",\"y\":\"42\"}");
	same("\"quoted key\": v\n", "{\"quoted key\":\"v\"}");
}

static void
test_documents(void **state)
{
	(void)state;
	same("---\na: b\n...\nignored: after the end\n", "{\"a\":\"b\"}");
	same("# only a comment\n\n", "null");
	same("{\"a\": [1, 2]}", "{\"a\":[1,2]}");
	same("a: b\r\nc: d\r\n", "{\"a\":\"b\",\"c\":\"d\"}");
}

static void
test_refused(void **state)
{
	(void)state;
	refused("a: &x b\n", "not supported");
	refused("a: *x\n", "not supported");
	refused("a: !!str b\n", "not supported");
	refused("a: |\n  text\n", "not supported");
	refused("a: {b: c}\n", "flow collections");
	refused("a: [b]\n", "flow collections");
	refused("a: b\na: c\n", "twice");
	refused("a: b\n  c: d\n", "line 2");
	refused("a:\n\tb: c\n", "tab");
	refused("a: b\n---\nc: d\n", "more than one document");
	refused("a: 'open\n", "not closed");
	refused("a: \"bad \\q\"\n", "escape");
	refused("a: x: y\n", "': '");
	refused("just text\n", "neither");
	refused("a: b\n- c\n", "sequence item");
	refused("a: \"x\" y\n", "text after");
	refused("a: \"\\ud800\"\n", "\\u");
	refused("{\"a\": 1, \"a\": 2}", "line 1");
	refused("a: \xff\n", "UTF-8");
}

static void
test_depth(void **state)
{
	char	 buf[4096] = "";
	size_t	 i;

	(void)state;
	for (i = 0; i < 100; i++)
		strcat(buf, "- ");
	strcat(buf, "x\n");
	refused(buf, "deeply");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubectl_shape),
		cmocka_unit_test(test_indented_sequences),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_depth),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
