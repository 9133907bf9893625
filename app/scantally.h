/* scantally.h — what kaudit scan found, counted by rule and severity, for
 * the summary it prints at the end. */
#ifndef KAUDIT_SCANTALLY_H
#define KAUDIT_SCANTALLY_H

#include <stdint.h>
#include <stdio.h>

#include "base/hmap.h"

struct scantally {
	struct hmap	 rows;		/* "severity\0rule" -> struct scantally_row */
	uint64_t	 by_sev[5];	/* enum severity */
	uint64_t	 findings;
};

void	scantally_init(struct scantally *t);
void	scantally_free(struct scantally *t);
/* One finding of rule (NULL: "(no rule)") at severity sev (enum severity). */
void	scantally_add(struct scantally *t, const char *rule, int sev);
/* The summary: a line of totals, then one line per rule and severity, the
 * most severe first, then the most frequent. Rule ids are escaped for a
 * terminal (a rule file is the user's, but the output may be one). */
void	scantally_print(const struct scantally *t, FILE *f, uint64_t events,
	    uint64_t outside, uint64_t errors, double secs);

#endif
