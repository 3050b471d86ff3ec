/* relpath.h: paths as a card records them: relative, never naming the
 * machine's folders (a card is read by users on other machines). */
#ifndef ATELIER_RELPATH_H
#define ATELIER_RELPATH_H

#include <stddef.h>

/* path relative to base, both absolute, compared word by word after
 * dropping ".", ".." and repeated slashes (no symbolic link is followed):
 * "/work/shared/data" from "/work/style" is "../shared/data"; the same
 * folder is ".". Writes out; 0, or -1 when a path is not absolute or out
 * is too small. */
int relpath(const char *path, const char *base, char *out, size_t len);

/* path as named from the current directory: an absolute path made relative
 * to it (relpath), a relative one copied as it is. 0, or -1 when out is too
 * small or the current directory is unknown. */
int relpath_cwd(const char *path, char *out, size_t len);

#endif
