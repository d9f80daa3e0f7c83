/*
 * fs.h — small filesystem helpers shared by the state and run directories.
 */
#ifndef CLOISON_UTIL_FS_H
#define CLOISON_UTIL_FS_H

#include <stdbool.h>
#include <sys/types.h>

/* Creates `path` and its missing parents with `mode` (as mkdir -p); errno set on failure. */
bool mkdir_p(const char *path, mode_t mode);

/* Replaces `path` all at once: `fill` writes the new content into PATH.tmp, which is synced to disk and
 * renamed over `path`; readers see the old file or the new one, never a part. On failure PATH.tmp is
 * removed and err says why (fill sets errno). */
bool fs_replace_file(const char *path, mode_t mode, bool (*fill)(int fd, void *opaque), void *opaque,
                     char *err, size_t errlen);
/* fs_replace_file with a buffer as the content. */
bool fs_write_file_atomic(const char *path, mode_t mode, const void *buf, size_t len, char *err,
                          size_t errlen);
/* The same without syncing: readers still see the old file or the new one, but after a host crash the
 * file may be empty. For runtime state that dies with the host's processes anyway. */
bool fs_write_file_volatile(const char *path, mode_t mode, const void *buf, size_t len, char *err,
                            size_t errlen);
/* Writes all of buf at offset off (retrying short writes and EINTR); false with errno set. */
bool fs_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Removes a directory tree (symbolic links are removed, never followed); what cannot be removed stays. */
void fs_remove_tree(const char *path);
/* A small text file whole (at most max bytes), malloc'd and NUL-terminated; NULL with err set. */
char *fs_read_text(const char *path, size_t max, char *err, size_t errlen);

/* $CLOISON_STATE_DIR, else /var/lib/cloison (root), else $XDG_STATE_HOME/cloison or
 * ~/.local/state/cloison. */
const char *cloison_state_dir(void);

#endif
