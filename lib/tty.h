/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The password prompt on a terminal, shared by ask-client and ask-agent-tty:
 * systemd 252's keys and bytes, with termios restored on every exit path. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "secret.h"

/* Bytes a password may have; the next key rings BEL and is dropped (systemd's LINE_MAX). */
#define TTY_PASSWORD_MAX 2048

enum tty_echo { TTY_ECHO_MASKED, TTY_ECHO_ON, TTY_ECHO_SILENT };

struct tty_prompt {
        const char *message;      /* shown before the input; NULL = "Password:" */
        enum tty_echo echo;
        bool emoji;               /* prefix "🔐 " (only in a UTF-8 locale, TERM not dumb/linux) */
        bool colors;              /* bold message, grey hint; off for TERM=dumb */
        uint64_t deadline;        /* CLOCK_MONOTONIC µs, 0 = none → -ETIME when passed */
        int abort_fd;             /* -1, or an fd that becomes readable when the prompt must
                                   * stop (e.g. an inotify fd watching the ask file for
                                   * IN_ATTRIB|IN_DELETE_SELF|IN_MOVE_SELF) → -ENOENT */
};

/* Prompts on in_fd/out_fd and returns the typed password in *ret (NUL-terminated past
 * ->size), leaving *ret untouched on failure. out_fd may be -1: nothing is written.
 *
 * If in_fd is a TTY it is put in raw mode (ICANON and ECHO off, ISIG kept, VMIN=1) and
 * restored with TCSADRAIN on every return. While it is raw, SIGINT, SIGTERM and SIGHUP
 * restore termios first and then take their previous disposition: default ones still
 * kill the process, ignored ones stay ignored, and if a handler of the caller returns
 * the prompt ends with -EINTR. One prompt at a time per process (the handlers share
 * static state). Any other in_fd (a pipe) is read as it is, with the same keys.
 *
 * Keys: Enter or NUL accept; Ctrl-D prints "(skipped)" → -ECANCELED; Tab (not silent)
 * or Backspace as the first key switch to silent mode; Ctrl-U clears the input; one
 * glyph per UTF-8 code point, and Backspace removes a whole one. "\n" ends every prompt.
 * Unlike systemd, EOF accepts only when something is in the buffer: EOF on an empty
 * buffer (/dev/null, an empty pipe, a hung-up terminal) gives -EPIPE, never an empty
 * password. Unlike 252, invalid UTF-8 is masked and erased byte by byte, and Backspace
 * drops a still incomplete sequence without erasing a glyph that was never drawn.
 * The terminal is not acquired and typed-ahead input is kept (TCSADRAIN, no flush).
 *
 * Other results: -ETIME once the deadline passes, -ENOENT when abort_fd is readable,
 * -errno on I/O failure. Logs nothing: the caller decides what each result means. */
int tty_prompt(int in_fd, int out_fd, const struct tty_prompt *p, struct secret **ret);

/* Bytes of the secret buffer tty_prompt_buf() works in: the password, where its code
 * points start, and output not yet written. One page. */
#define TTY_PROMPT_BUFFER 3584

/* tty_prompt() into buf (grown to TTY_PROMPT_BUFFER if smaller), so that an agent can
 * reuse one locked buffer for every prompt: the password in data[0, size), NUL-terminated,
 * and nothing else left in it; on failure it is all wiped and size is 0. */
int tty_prompt_buf(int in_fd, int out_fd, const struct tty_prompt *p, struct secret *buf);

/* Raw mode on fd, with the same signal handling, across several tty_prompt_buf() calls
 * on it (no termios or sigaction calls per prompt), until tty_raw_release() restores it:
 * 1 = held, 0 = not a TTY (nothing to hold), -errno on failure. A prompt under a hold
 * ends with -EINTR at once if a handler of the caller took a signal since the hold began,
 * and one on another fd is refused with -EBUSY. */
int tty_raw_hold(int fd);
void tty_raw_release(void);

/* Whether the emoji may be shown: UTF-8 (or unset) locale and TERM not dumb or linux. */
bool tty_emoji_supported(void);
