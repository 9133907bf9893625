/* file.c — whole-file reads with a limit (see file.h). */
#include "base/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
file_read(const char *path, size_t max, struct buf *out, char *err, size_t errlen)
{
	FILE *f;
	char chunk[65536];
	size_t n;
	int rc = 0;

	buf_reset(out);
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > max) {
			snprintf(err, errlen, "larger than %zu bytes", max);
			rc = -1;
			break;
		}
		buf_append(out, chunk, n);
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "read error: %s", strerror(errno));
		rc = -1;
	}
	fclose(f);
	if (rc == 0 && out->data == NULL)
		buf_append(out, "", 0);
	return rc;
}

int
file_is_yaml(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}
