/*
 * fs.h — small filesystem helpers shared by the state and run directories.
 */
#ifndef CLOISON_UTIL_FS_H
#define CLOISON_UTIL_FS_H

#include <stdbool.h>
#include <sys/types.h>

/* Creates `path` and its missing parents with `mode` (as mkdir -p); errno set on failure. */
bool mkdir_p(const char *path, mode_t mode);

#endif
