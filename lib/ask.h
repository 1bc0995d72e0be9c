/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd's password agent protocol: ask files ([Ask] section, systemd's ini
 * dialect) in /run/systemd/ask-password or $XDG_RUNTIME_DIR/systemd/ask-password,
 * answered by one datagram "+pw\0…" or "-" on the AF_UNIX socket they name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "secret.h"

#define ASK_SYSTEM_DIR "/run/systemd/ask-password"
#define ASK_FILE_MAX (64U * 1024U)      /* ask files we read or write */
#define ASK_MESSAGE_MAX (16U * 1024U)   /* message, icon or id we write */
#define ASK_PASSWORD_MAX 2048U          /* reply payload after '+', as systemd */
#define ASK_SOCKET_PATH_MAX 107U        /* sun_path less the NUL */

struct ask_request {
        pid_t pid;          /* 0: unknown, no liveness check */
        char *socket;       /* absolute path of the reply socket */
        bool accept_cached;
        bool echo;
        bool silent;
        uint64_t not_after; /* CLOCK_MONOTONIC µs; 0: no deadline */
        char *message;      /* NULL when absent; icon and id likewise */
        char *icon;
        char *id;
};

void ask_request_clear(struct ask_request *r);

uint64_t mono_usec(void);

/* The system directory, or the per-user one ($XDG_RUNTIME_DIR must be absolute). */
int ask_dir(bool user, char **ret);

/* Parses an ask file. Strict where systemd is loose: NUL bytes, a second Socket=
 * or an unsafe socket path reject the file (-EBADMSG); unknown keys are ignored. */
int ask_file_parse(const char *data, size_t size, struct ask_request *ret);
/* Formats an ask file; message/icon/id are escaped so no byte can start a new key. */
int ask_file_format(const struct ask_request *r, char **ret, size_t *ret_len);
/* s with control bytes C-escaped, for showing untrusted text on a terminal. */
int ask_printable(const char *s, char **ret);
/* Absolute, at most 107 bytes, no control characters, quotes or backslashes. */
bool ask_socket_path_valid(const char *path);

/* Reads DIR/NAME for an agent: regular file (no symlinks), size-capped, and, when
 * owner != (uid_t) -1, owned by owner, not writable by others, its socket inside DIR. */
int ask_file_read(int dir_fd, const char *dir, const char *name, uid_t owner, struct ask_request *ret);

/* An ask.* regular file of a directory, as agents list them. */
struct ask_entry {
        char name[NAME_MAX + 1];
        struct stat st;
};
/* The ask.* regular files of a directory (no symlinks), oldest first: change time, then name. */
int ask_dir_list(int dir_fd, struct ask_entry **ret, size_t *ret_n);

/* Asks an agent has handled, by device, inode and change time of the file. */
struct ask_seen {
        dev_t dev;
        ino_t ino;
        struct timespec ctime;
};
bool ask_seen_find(const struct ask_seen *list, size_t n, const struct stat *st);
int ask_seen_add(struct ask_seen **list, size_t *n, const struct stat *st);

/* For watching agents: SIGTERM and SIGINT blocked and readable on *ret_signal_fd,
 * and an inotify fd (*ret_inotify_fd) for ask_watch_add(). */
int ask_watch_start(int *ret_signal_fd, int *ret_inotify_fd);
/* Creates dir if needed and watches it for new (moved in) or closed ask files. */
int ask_watch_add(int inotify_fd, const char *dir);
/* Reads and drops every queued event of a non-blocking inotify fd: true if one may
 * concern an ask file (named ask.*, or nameless such as IN_Q_OVERFLOW or on a watched file). */
bool ask_watch_drain(int inotify_fd);

/* Alive and not a zombie; EPERM from kill() counts as alive. */
bool ask_pid_alive(pid_t pid);

/* Reply datagram "+a\0b\0" → list "a\0b\0" (every password NUL-terminated);
 * "-" → -ECANCELED; anything else → -EBADMSG. */
int ask_reply_parse(const uint8_t *buf, size_t size, struct secret **ret);
/* Sends "+list" (list as above), or "-" when list is NULL, from fd (an unbound AF_UNIX
 * SOCK_DGRAM socket an agent keeps for all its replies), or from a new one when fd < 0. */
int ask_reply_send(int fd, const char *socket_path, const struct secret *list);

/* A pending query: the reply socket and the published ask file. */
struct ask_query {
        char *socket_path;
        char *ask_path;
        int fd;
        int dir_watch;  /* inotify: IN_ATTRIB on the directory, touched when a password gets cached */
};

/* Called while waiting when the ask directory was touched: 1 and *ret to finish, 0 to wait on. */
typedef int (*ask_recheck_t)(void *userdata, struct secret **ret);

/* Binds the reply socket (mode 0600, SO_PASSCRED) in dir and publishes the ask
 * file atomically; fills r->socket and r->pid. */
int ask_query_start(const char *dir, struct ask_request *r, struct ask_query *q);
/* Waits for the first valid reply from root or our own uid until not_after
 * (0: forever): the list, -ECANCELED, -ETIME, or -EINTR when signal_fd fires.
 * With recheck, also ends when recheck finds an answer (e.g. in the keyring). */
int ask_query_wait(struct ask_query *q, uint64_t not_after, int signal_fd, ask_recheck_t recheck, void *userdata,
                   struct secret **ret);
/* Removes socket and ask file. Safe to call twice. */
void ask_query_end(struct ask_query *q);
