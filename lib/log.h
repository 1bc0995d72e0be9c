/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One-line diagnostics on stderr, prefixed with the program name. Errors are
 * logged once, where they are found; callers only propagate the return code. */
#pragma once

#include <errno.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_setup(const char *program);
void log_set_max_level(enum log_level level);
/* Prefixes following messages with "context: " (e.g. the file being read); NULL clears. */
void log_set_context(const char *context);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs "fmt: strerror(r)" and returns -|r|. */
int log_errno(enum log_level level, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_error_errno(r, ...) log_errno(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_errno(LOG_LEVEL_WARNING, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_errno(LOG_LEVEL_DEBUG, (r), __VA_ARGS__)

/* For errors that carry their own message: logs fmt without strerror, returns -|r|. */
int log_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_oom() log_fail(-ENOMEM, "out of memory")
