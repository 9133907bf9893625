/* rulefiles.h — find, read and compile rule files (the I/O half of rule
 * loading; analyze/ compiles text and does no I/O). */
#ifndef KAUDIT_RULEFILES_H
#define KAUDIT_RULEFILES_H

#include <stddef.h>

#include "analyze/rules.h"
#include "base/buf.h"

/* Compiles the rule files named by paths (a file, or a folder whose *.yaml
 * and *.yml files are read in name order). With npaths == 0, compiles the
 * default pack compiled into the binary from config/rules. Returns NULL with
 * `file:line: message` lines in errs. Warnings of rules that did load go to
 * stderr as `file:line: warning: message` lines. */
struct ruleset *rulefiles_load(const char *const *paths, size_t npaths,
	    const struct rules_options *o, struct buf *errs);

#endif
