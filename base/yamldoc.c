/* yamldoc.c — libyaml document helpers (see yamldoc.h). */
#include "base/yamldoc.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int
yamldoc_each(const char *name, const char *text, size_t len, yamldoc_fn fn,
    void *arg, struct buf *errs)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 0;

	if (!yaml_parser_initialize(&parser)) {
		buf_printf(errs, "%s:1: yaml: cannot initialize the parser\n", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		yaml_node_t *root;
		if (!yaml_parser_load(&parser, &doc)) {
			buf_printf(errs, "%s:%zu: yaml: %s%s%s\n", name,
			    parser.problem_mark.line + 1,
			    parser.problem ? parser.problem : "syntax error",
			    parser.context ? " " : "", parser.context ? parser.context : "");
			rc = -1;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (root == NULL) {
			yaml_document_delete(&doc);
			break;
		}
		rc = fn(arg, &doc, root);
		yaml_document_delete(&doc);
		if (rc < 0)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

yaml_node_t *
yamldoc_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		const char *k = yamldoc_scalar(yaml_document_get_node(d, p->key));
		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

const char *
yamldoc_scalar(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

int
yamldoc_line(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

int
yamldoc_plain(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int
yamldoc_bool(const yaml_node_t *n)
{
	const char *s = yamldoc_scalar(n);

	if (s == NULL || !yamldoc_plain(n))
		return -1;
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return 1;
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return 0;
	return -1;
}

static int
plain_number(const char *s, size_t n)
{
	char *end;
	double v;

	if (n == 0 || !(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.'))
		return 0;
	if (n > 1 && s[0] == '0' && isdigit((unsigned char)s[1]))
		return 0;	/* 0755 stays a string: JSON has no octal */
	v = strtod(s, &end);
	return end == s + n && isfinite(v) && strchr(s, 'x') == NULL && strchr(s, 'X') == NULL;
}

static int
scalar_json(const yaml_node_t *n, struct buf *out)
{
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;

	if (yamldoc_plain(n)) {
		if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
		    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
			buf_puts(out, "null");
			return 0;
		}
		if (yamldoc_bool(n) >= 0) {
			buf_puts(out, yamldoc_bool(n) ? "true" : "false");
			return 0;
		}
		if (plain_number(s, len)) {
			if (s[0] == '+')
				s++, len--;
			if (s[0] == '.' || (s[0] == '-' && s[1] == '.'))
				buf_printf(out, "%.17g", strtod(s, NULL));
			else
				buf_append(out, s, len);
			return 0;
		}
	}
	buf_json_str(out, s, len);
	return 0;
}

#define MERGE_MAX	1024	/* members of one mapping after merges */

struct members {
	yaml_node_t	*key[MERGE_MAX];
	yaml_node_t	*val[MERGE_MAX];
	size_t		 n;
};

static int
is_merge_key(const yaml_node_t *k)
{
	return yamldoc_plain(k) && strcmp((const char *)k->data.scalar.value, "<<") == 0;
}

static int
members_has(const struct members *m, const yaml_node_t *k)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->key[i]->data.scalar.length == k->data.scalar.length &&
		    memcmp(m->key[i]->data.scalar.value, k->data.scalar.value,
		    k->data.scalar.length) == 0)
			return 1;
	return 0;
}

/* Own keys first, then keys brought in by `<<: *anchor` merges (YAML 1.1
 * merge keys, which libyaml leaves to the application) unless already set. */
static int
members_collect(yaml_document_t *d, yaml_node_t *map, struct members *m, int depth)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE || depth > YAMLDOC_MAX_DEPTH)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
		    p < map->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(d, p->key);
			yaml_node_t *v = yaml_document_get_node(d, p->value);
			if (k == NULL || k->type != YAML_SCALAR_NODE)
				return -1;
			if (is_merge_key(k) != pass)
				continue;
			if (pass == 1) {
				if (v && v->type == YAML_SEQUENCE_NODE) {
					for (yaml_node_item_t *i = v->data.sequence.items.start;
					    i < v->data.sequence.items.top; i++)
						if (members_collect(d, yaml_document_get_node(d, *i), m, depth + 1) < 0)
							return -1;
				} else if (members_collect(d, v, m, depth + 1) < 0) {
					return -1;
				}
				continue;
			}
			if (members_has(m, k))
				continue;
			if (m->n == MERGE_MAX)
				return -1;
			m->key[m->n] = k;
			m->val[m->n++] = v;
		}
	}
	return 0;
}

static int node_json(yaml_document_t *d, yaml_node_t *n, struct buf *out, int depth,
    size_t base);

static int
map_json(yaml_document_t *d, yaml_node_t *n, struct buf *out, int depth, size_t base)
{
	struct members *m = calloc(1, sizeof(*m));
	int rc = 0;

	if (m == NULL || members_collect(d, n, m, depth) < 0) {
		free(m);
		return -1;
	}
	buf_putc(out, '{');
	for (size_t i = 0; i < m->n && rc == 0; i++) {
		if (i)
			buf_putc(out, ',');
		buf_json_str(out, (const char *)m->key[i]->data.scalar.value,
		    m->key[i]->data.scalar.length);
		buf_putc(out, ':');
		rc = node_json(d, m->val[i], out, depth + 1, base);
	}
	buf_putc(out, '}');
	free(m);
	return rc;
}

static int
node_json(yaml_document_t *d, yaml_node_t *n, struct buf *out, int depth, size_t base)
{
	if (n == NULL) {
		buf_puts(out, "null");
		return 0;
	}
	if (depth > YAMLDOC_MAX_DEPTH || out->len - base > YAMLDOC_MAX_JSON)
		return -1;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_json(n, out);
	case YAML_SEQUENCE_NODE:
		buf_putc(out, '[');
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		    i < n->data.sequence.items.top; i++) {
			if (i != n->data.sequence.items.start)
				buf_putc(out, ',');
			if (node_json(d, yaml_document_get_node(d, *i), out, depth + 1, base) < 0)
				return -1;
		}
		buf_putc(out, ']');
		return 0;
	case YAML_MAPPING_NODE:
		return map_json(d, n, out, depth, base);
	default:
		return -1;
	}
}

int
yamldoc_json(yaml_document_t *d, yaml_node_t *n, struct buf *out)
{
	return node_json(d, n, out, 0, out->len);
}
