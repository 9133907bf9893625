/* yamldoc.h — small helpers over libyaml's document API for the rule
 * compiler and the rule-test runner: walking documents, reading scalars with
 * their line numbers, and turning a YAML node into JSON text. */
#ifndef KAUDIT_YAMLDOC_H
#define KAUDIT_YAMLDOC_H

#include <stddef.h>

#include <yaml.h>

#include "base/buf.h"

#define YAMLDOC_MAX_DEPTH	64
#define YAMLDOC_MAX_JSON	(16u << 20)	/* bytes of JSON from one node */

/* Calls fn for the root node of every document in text. Returns 0, or -1
 * after appending `name:line: yaml: problem` to errs (fn returning -1 also
 * stops the walk). */
typedef int (*yamldoc_fn)(void *arg, yaml_document_t *doc, yaml_node_t *root);
int	yamldoc_each(const char *name, const char *text, size_t len,
	    yamldoc_fn fn, void *arg, struct buf *errs);

/* Value node of key in a mapping; NULL when absent or map is not one. */
yaml_node_t *yamldoc_get(yaml_document_t *d, yaml_node_t *map, const char *key);
/* NUL-terminated scalar text, or NULL for a non-scalar (or NULL) node. */
const char *yamldoc_scalar(const yaml_node_t *n);
/* 1-based line of the node. */
int	yamldoc_line(const yaml_node_t *n);
/* True for a scalar written without quotes (typed: number, bool, null). */
int	yamldoc_plain(const yaml_node_t *n);
/* Parses a boolean scalar: 1/0, or -1 when it is not true/false. */
int	yamldoc_bool(const yaml_node_t *n);

/* Appends n as JSON (plain scalars typed as YAML 1.2 core: null, booleans,
 * numbers; everything else a string). Returns -1 when deeper than
 * YAMLDOC_MAX_DEPTH or bigger than YAMLDOC_MAX_JSON (aliases can multiply). */
int	yamldoc_json(yaml_document_t *d, yaml_node_t *n, struct buf *out);

#endif
