/* driver.c — a plain main() around a libFuzzer target, so every target
 * builds with the normal compiler and replays its seeds and saved crashes
 * in `make check`. Arguments are files or folders (their regular files).
 * Exits 2 when it was given nothing to run: a replay of no input proves
 * nothing. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>

#include "base/file.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
driver_file(const char *path)
{
	struct buf b;
	char why[256];
	uint8_t *exact;

	buf_init(&b);
	if (file_read(path, (size_t)1 << 30, &b, why, sizeof(why)) < 0) {
		fprintf(stderr, "driver: %s: %s\n", path, why);
		buf_free(&b);
		return -1;
	}
	/* an exact-size copy, so reads past the end are caught */
	if ((exact = malloc(b.len ? b.len : 1)) == NULL)
		abort();
	memcpy(exact, b.data, b.len);
	LLVMFuzzerTestOneInput(exact, b.len);
	free(exact);
	buf_free(&b);
	return 0;
}

static int
driver_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char path[4096];
	int rc = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (driver_file(path) < 0)
			rc = -1;
		else
			(*count)++;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (driver_dir(argv[i], &count) < 0)
				rc = 1;
		} else if (driver_file(argv[i]) < 0)
			rc = 1;
		else
			count++;
	}
	printf("driver: ran %zu inputs\n", count);
	return count == 0 ? 2 : rc;
}
