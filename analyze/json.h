/* json.h — a strict, allocation-light JSON tokenizer for the hot path.
 *
 * Audit events are read far more often than they are built, and a rule reads
 * a handful of fields out of kilobytes of JSON. Instead of a full tree of
 * allocated nodes (jansson costs ~28 us for a 2.7 KB event), json_tokenize()
 * makes one pass that validates the text (RFC 8259) and fills a flat array of
 * tokens that point into it. Every token knows where its subtree ends, so
 * finding a key skips whole sibling subtrees in one step.
 *
 * Layout: token 0 is the document's root value. An object token is followed
 * by its members as key, value, key, value... (keys are JSON_STR tokens); an
 * array by its elements. `next` is the index of the first token after the
 * subtree, so the children of t are t+1 up to tok[t].next.
 *
 * Strings keep their escapes in the text; JTOK_ESCAPED marks the ones that
 * have any, and json_str() unescapes those into caller scratch on demand.
 *
 * Ownership: a struct jdoc borrows the text; it owns the token array. */
#ifndef KAUDIT_JSON_H
#define KAUDIT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum json_type {
	JSON_NONE = 0,		/* "absent": returned for missing fields */
	JSON_OBJ,
	JSON_ARR,
	JSON_STR,
	JSON_NUM,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

#define JTOK_ESCAPED	0x01	/* string contains backslash escapes */

#define JSON_MAX_DEPTH	64		/* deeper documents are rejected */
#define JSON_MAX_TOKENS	(1u << 22)	/* bigger documents are rejected */

struct jtok {
	uint8_t		type;	/* enum json_type */
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
	struct jtok	*tok;	/* owned; reused across json_tokenize() calls */
	uint32_t	 ntok;
	uint32_t	 cap;
};

void	json_doc_init(struct jdoc *d);
void	json_doc_free(struct jdoc *d);

/* Tokenizes exactly one JSON value in text[0..len) (leading and trailing
 * whitespace allowed, nothing else). Returns 0, or -1 with a message such as
 * "offset 17: expected ':'" in err. Text longer than 4 GiB is rejected. */
int	json_tokenize(struct jdoc *d, const char *text, size_t len,
	    char *err, size_t errlen);

/* Like json_tokenize() but stops after the first complete value and stores in
 * *used the number of bytes consumed (value plus trailing whitespace), so a
 * caller can walk concatenated values or JSON lines. */
int	json_tokenize_prefix(struct jdoc *d, const char *text, size_t len,
	    size_t *used, char *err, size_t errlen);

/* Navigation. Token indices are int; -1 means "absent" and every function
 * accepts -1 as input and then returns -1 / JSON_NONE. */
static inline enum json_type
json_type(const struct jdoc *d, int t)
{
	return t < 0 ? JSON_NONE : (enum json_type)d->tok[t].type;
}

/* Value token of member `key` (keylen bytes, unescaped form) in object obj. */
int	json_get(const struct jdoc *d, int obj, const char *key, size_t keylen);
/* Same, with a NUL-terminated key. */
int	json_getz(const struct jdoc *d, int obj, const char *key);
/* Follows a dotted path of object keys: "objectRef.resource". */
int	json_path(const struct jdoc *d, int t, const char *dotted);
/* Element i of array arr. */
int	json_at(const struct jdoc *d, int arr, uint32_t i);
/* Iteration over array elements or object values:
 *   for (int c = json_first(d, t); c >= 0; c = json_next(d, t, c)) ...
 * For objects, c is the key token and c + 1 the value. */
int	json_first(const struct jdoc *d, int t);
int	json_next(const struct jdoc *d, int parent, int child);

/* String content. When the token has no escapes, returns a pointer into the
 * document text (not NUL-terminated) and sets *len. Otherwise unescapes into
 * scratch (which is reset first) and returns scratch->data. Returns NULL for
 * a non-string token. */
const char *json_str(const struct jdoc *d, int t, struct buf *scratch, size_t *len);
/* Compares a string token's unescaped content with s[0..n). */
int	json_str_eq(const struct jdoc *d, int t, const char *s, size_t n);
/* Newly allocated, NUL-terminated unescaped copy; NULL if not a string. */
char	*json_strdup(const struct jdoc *d, int t);
/* Number value (JSON_NUM only), 0 and returns -1 otherwise. */
int	json_num(const struct jdoc *d, int t, double *out);
/* The raw JSON text of any token's value (for strings including the quotes). */
const char *json_raw(const struct jdoc *d, int t, size_t *len);

/* Unescapes a JSON string body src[0..n) (no quotes) into out (appending).
 * Returns 0, or -1 on a malformed escape. */
int	json_unescape(const char *src, size_t n, struct buf *out);

#endif
