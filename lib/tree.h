/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directory trees through fds, never following symlinks or crossing mounts:
 * copy (for /etc/skel), chown -R, rm -rf. */
#pragma once

#include <sys/types.h>

/* Copies the tree at from_fd into to_fd: regular files (mode kept), directories,
 * symlinks as links; entries that exist already are kept. */
int tree_copy(int from_fd, int to_fd);
/* chown -R uid:gid of the tree at dir_fd (symlinks themselves, not their targets). */
int tree_chown(int dir_fd, uid_t uid, gid_t gid);
/* rm -rf of the tree at dir_fd's contents; -EBUSY if a mount is inside. */
int tree_remove_contents(int dir_fd);
