/* jtok.h — a strict, allocation-light JSON tokenizer for the hot path.
 *
 * Audit events are read far more often than they are built, and a rule reads
 * a handful of fields out of kilobytes of JSON. Instead of a full tree of
 * allocated nodes (jansson costs ~28 us for a 2.7 KB event), jtok_parse()
 * makes one pass that validates the text (RFC 8259) and fills a flat array of
 * tokens that point into it. Every token knows where its subtree ends, so
 * finding a key skips whole sibling subtrees in one step.
 *
 * Layout: token 0 is the document's root value. An object token is followed
 * by its members as key, value, key, value... (keys are JT_STR tokens); an
 * array by its elements. `next` is the index of the first token after the
 * subtree, so the children of t are t+1 up to tok[t].next.
 *
 * Strings keep their escapes in the text; JTOK_ESCAPED marks the ones that
 * have any, and jtok_str() unescapes those into caller scratch on demand.
 *
 * Named jtok_/JT_ rather than json_/JSON_: jansson owns that namespace
 * (json_type, JSON_TRUE, ...) and both headers meet in the rule engine.
 *
 * Ownership: a struct jdoc borrows the text; it owns the token array. */
#ifndef KAUDIT_JTOK_H
#define KAUDIT_JTOK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum jtok_type {
	JT_NONE = 0,		/* "absent": returned for missing fields */
	JT_OBJ,
	JT_ARR,
	JT_STR,
	JT_NUM,
	JT_TRUE,
	JT_FALSE,
	JT_NULL,
};

#define JTOK_ESCAPED	0x01	/* string contains backslash escapes */

#define JTOK_MAX_DEPTH	64		/* deeper documents are rejected */
#define JTOK_MAX_TOKENS	(1u << 22)	/* bigger documents are rejected */

struct jtok {
	uint8_t		type;	/* enum jtok_type */
	uint8_t		flags;	/* JTOK_* */
	uint32_t	start;	/* byte offset: strings, first byte after the quote;
				   objects/arrays, the '{' or '['; others, first byte */
	uint32_t	len;	/* bytes: strings without quotes; objects/arrays
				   up to and including the closing bracket */
	uint32_t	next;	/* index of the first token after this subtree */
	uint32_t	size;	/* objects: member count; arrays: element count */
};

struct jdoc {
	const char	*text;	/* borrowed */
	size_t		 len;
	struct jtok	*tok;	/* owned; reused across jtok_parse() calls */
	uint32_t	 ntok;
	uint32_t	 cap;
};

void	jdoc_init(struct jdoc *d);
void	jdoc_free(struct jdoc *d);

/* Tokenizes exactly one JSON value in text[0..len) (leading and trailing
 * whitespace allowed, nothing else). Returns 0, or -1 with a message such as
 * "offset 17: expected ':'" in err. Text longer than 4 GiB is rejected. */
int	jtok_parse(struct jdoc *d, const char *text, size_t len,
	    char *err, size_t errlen);

/* Like jtok_parse() but stops after the first complete value and stores in
 * *used the number of bytes consumed (value plus trailing whitespace), so a
 * caller can walk concatenated values or JSON lines. */
int	jtok_parse_prefix(struct jdoc *d, const char *text, size_t len,
	    size_t *used, char *err, size_t errlen);

/* Navigation. Token indices are int; -1 means "absent" and every function
 * accepts -1 as input and then returns -1 / JT_NONE. */
static inline enum jtok_type
jtok_type(const struct jdoc *d, int t)
{
	return t < 0 ? JT_NONE : (enum jtok_type)d->tok[t].type;
}

/* Value token of member `key` (keylen bytes, unescaped form) in object obj. */
int	jtok_get(const struct jdoc *d, int obj, const char *key, size_t keylen);
/* Same, with a NUL-terminated key. */
int	jtok_getz(const struct jdoc *d, int obj, const char *key);
/* Follows a dotted path of object keys: "objectRef.resource". */
int	jtok_path(const struct jdoc *d, int t, const char *dotted);
/* Element i of array arr. */
int	jtok_at(const struct jdoc *d, int arr, uint32_t i);
/* Iteration over array elements or object values:
 *   for (int c = jtok_first(d, t); c >= 0; c = jtok_next(d, t, c)) ...
 * For objects, c is the key token and c + 1 the value. */
int	jtok_first(const struct jdoc *d, int t);
int	jtok_next(const struct jdoc *d, int parent, int child);

/* String content. When the token has no escapes, returns a pointer into the
 * document text (not NUL-terminated) and sets *len. Otherwise unescapes into
 * scratch (which is reset first) and returns scratch->data. Returns NULL for
 * a non-string token. */
const char *jtok_str(const struct jdoc *d, int t, struct buf *scratch, size_t *len);
/* Compares a string token's unescaped content with s[0..n). */
int	jtok_str_eq(const struct jdoc *d, int t, const char *s, size_t n);
/* Newly allocated, NUL-terminated unescaped copy; NULL if not a string. */
char	*jtok_strdup(const struct jdoc *d, int t);
/* Number value (JT_NUM only), 0 and returns -1 otherwise. */
int	jtok_num(const struct jdoc *d, int t, double *out);
/* The raw JSON text of any token's value (for strings including the quotes). */
const char *jtok_raw(const struct jdoc *d, int t, size_t *len);

/* Unescapes a JSON string body src[0..n) (no quotes) into out (appending).
 * Returns 0, or -1 on a malformed escape. */
int	jtok_unescape(const char *src, size_t n, struct buf *out);

#endif
