/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *program_name = "latchkey";
static enum log_level max_level = LOG_LEVEL_INFO;
static const char *log_context;

void log_setup(const char *program) {
        const char *e = getenv("LATCHKEY_LOG_LEVEL");

        program_name = program;
        if (e && strcmp(e, "debug") == 0)
                max_level = LOG_LEVEL_DEBUG;
}

void log_set_context(const char *context) {
        log_context = context;
}

void log_set_max_level(enum log_level level) {
        max_level = level;
}

static void log_va(enum log_level level, int r, const char *fmt, va_list ap) {
        int saved = errno;

        if (level > max_level)
                return;
        fprintf(stderr, "%s: ", program_name);
        if (log_context)
                fprintf(stderr, "%s: ", log_context);
        if (level == LOG_LEVEL_WARNING)
                fputs("warning: ", stderr);
        vfprintf(stderr, fmt, ap);
        if (r != 0)
                fprintf(stderr, ": %s", strerror(r < 0 ? -r : r));
        fputc('\n', stderr);
        errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_va(level, 0, fmt, ap);
        va_end(ap);
}

int log_errno(enum log_level level, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_va(level, r, fmt, ap);
        va_end(ap);
        return r < 0 ? r : -r;
}

int log_fail(int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_va(LOG_LEVEL_ERROR, 0, fmt, ap);
        va_end(ap);
        return r < 0 ? r : -r;
}
