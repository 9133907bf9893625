/* jtok.h — a strict, allocation-light JSON tokenizer for the hot path.
 *
 * Audit events are read far more often than they are built, and a rule reads
 * a handful of fields out of kilobytes of JSON. Instead of a full tree of
 * allocated nodes (jansson costs ~28 us for a 2.7 KB event), jtok_parse()
 * makes one pass that checks the grammar (RFC 8259) and fills a flat array of
 * tokens that point into the text. Every token knows where its subtree ends,
 * so finding a key skips whole sibling subtrees in one step.
 *
 * Layout: token 0 is the document's root value. An object token is followed
 * by its members as key, value, key, value... (keys are JT_STR tokens); an
 * array by its elements. `next` is the index of the first token after the
 * subtree, so the children of t are t+1 up to tok[t].next.
 *
 * What the text means is what the Kubernetes API server's Go decoder makes
 * of it, because that is what the cluster acted on (a patch body is logged
 * verbatim in requestObject, so a client writes those bytes), and what
 * PostgreSQL's jsonb stores:
 *   - A key that appears twice in an object: the LAST one counts (Go and
 *     jsonb alike), for jtok_get(), jtok_path() and the event's fields.
 *     Keys are equal when they decode to the same string ("verb" and
 *     "\u0076erb" are one key).
 *   - A string holding bytes that are not UTF-8 (overlong forms, UTF-16
 *     surrogates, truncated sequences, above U+10FFFF), or a \u escape of a
 *     lone surrogate: each bad byte, or the lone escape, reads as U+FFFD, as
 *     Go decodes it; schema/db.c stores the same.
 * Such documents are not rejected: a client could otherwise hide its request
 * from every rule by adding a duplicate key. They are marked instead, per
 * token (JTOK_BADUTF8 on the string, JTOK_DUPKEYS on the object) and for the
 * whole document (jdoc.flags), so rules can flag the ambiguity. Checking
 * costs little: UTF-8 is validated only in strings that hold a byte >= 0x80,
 * and the keys of an object are compared when it closes, only when a filter
 * of their lengths and end bytes says two of them may be equal.
 *
 * Strings keep their escapes in the text. JTOK_ESCAPED and JTOK_BADUTF8
 * mark the ones that are not their own content; jtok_str() decodes those
 * into caller scratch on demand, the others are read in place.
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
#define JTOK_BADUTF8	0x02	/* string has bytes that are not UTF-8, or a \u
				   escape of a lone surrogate: read as U+FFFD */
#define JTOK_DUPKEYS	0x04	/* object has a key twice: the last one counts */
#define JTOK_DECODE	(JTOK_ESCAPED | JTOK_BADUTF8)	/* not read in place */

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
	uint8_t		 flags;	/* every token's flags or-ed together */
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

/* Value token of member `key` (keylen bytes, decoded form) in object obj;
 * of its last occurrence when the key appears more than once. */
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

/* The flags (JTOK_*, only those in mask) of the tokens of t's subtree,
 * or-ed; 0 at once when no token of the document has any of them. */
unsigned jtok_flags(const struct jdoc *d, int t, unsigned mask);

/* String content, always valid UTF-8. When the token is neither
 * JTOK_ESCAPED nor JTOK_BADUTF8, returns a pointer into the document text
 * (not NUL-terminated) and sets *len. Otherwise decodes into scratch (which
 * is reset first) and returns scratch->data. Returns NULL for a non-string
 * token. */
const char *jtok_str(const struct jdoc *d, int t, struct buf *scratch, size_t *len);
/* Compares a string token's content, as jtok_str() reads it, with s[0..n). */
int	jtok_str_eq(const struct jdoc *d, int t, const char *s, size_t n);
/* Newly allocated, NUL-terminated copy of the content as jtok_str() reads
 * it; NULL if not a string. */
char	*jtok_strdup(const struct jdoc *d, int t);
/* Number value (JT_NUM only), 0 and returns -1 otherwise. */
int	jtok_num(const struct jdoc *d, int t, double *out);
/* The raw JSON text of any token's value (for strings including the quotes). */
const char *jtok_raw(const struct jdoc *d, int t, size_t *len);

/* Unescapes a JSON string body src[0..n) (no quotes) into out (appending);
 * a \u escape of a lone surrogate becomes U+FFFD, and other bytes are
 * copied as they are, valid UTF-8 or not (a document unwrapped from a
 * string is then checked by its own jtok_parse()). Returns 0, or -1 on a
 * malformed escape. */
int	jtok_unescape(const char *src, size_t n, struct buf *out);

#endif
