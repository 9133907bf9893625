/* file.h — reading a whole file with a size limit. Every reader of a
 * configuration, rule or test file goes through here, so none truncates
 * silently and every error names the file. */
#ifndef KAUDIT_FILE_H
#define KAUDIT_FILE_H

#include <stddef.h>

#include "base/buf.h"

/* Replaces out's content with the file at path (NUL-terminated as every
 * buf). Returns 0, or -1 with a one-line reason in err ("cannot open: No
 * such file or directory", "larger than 16777216 bytes") when it cannot be
 * read or holds more than max bytes. */
int	file_read(const char *path, size_t max, struct buf *out, char *err, size_t errlen);

/* 1 when name ends in .yaml or .yml and does not start with a dot: the
 * one test of what a rule, test or config folder holds. */
int	file_is_yaml(const char *name);

#endif
