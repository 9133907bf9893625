/* version.h — the release version, shown by --version and sent as User-Agent. */
#ifndef KAUDIT_VERSION_H
#define KAUDIT_VERSION_H

#define KAUDIT_VERSION "0.1.0"

#endif
