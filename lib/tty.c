/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "tty.h"

#define ANSI_HIGHLIGHT "\x1b[0;1;39m"
#define ANSI_GREY "\x1b[0;38;5;245m"
#define ANSI_NORMAL "\x1b[0m"
#define LOCK_AND_KEY "\xf0\x9f\x94\x90 " /* U+1F510 and a space */
#define PRESS_TAB "(press TAB for no echo) "
#define NO_ECHO "(no echo) "
#define SKIPPED "(skipped)"
#define BS "\b \b"
#define BS4 BS BS BS BS

static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP };

/* What the signal handler needs: the terminal to restore and the dispositions to hand back. */
static volatile sig_atomic_t raw_fd = -1;
static volatile sig_atomic_t raw_signal;
static struct termios raw_saved;
static struct sigaction raw_old[ELEMENTSOF(prompt_signals)];
static volatile sig_atomic_t raw_installed[ELEMENTSOF(prompt_signals)];
static bool raw_held; /* tty_raw_hold(): raw_fd stays raw between prompts */

/* The prompt's one secret buffer: the input, the bitmap of unit starts, and the output
 * not yet written (echoed keys are secret too). */
#define STARTS_SIZE (TTY_PASSWORD_MAX / 8 + 1)
#define OUT_OFFSET (TTY_PASSWORD_MAX + 1 + STARTS_SIZE)
#define OUT_SIZE (TTY_PROMPT_BUFFER - OUT_OFFSET)

_Static_assert(OUT_SIZE >= 1024, "room for a prompt and a batch of keys");

struct prompt_state {
        struct secret *s;  /* the input; the key being handled sits at data[size] */
        uint8_t *starts;   /* bitmap over data: a unit (code point or invalid byte) starts here */
        uint8_t *obuf;     /* output gathered until we would wait for a key: one write() per batch */
        size_t olen;
        int out_fd;
        size_t cut;        /* data[0, cut) is split into units; the rest is an incomplete code point */
        size_t units;      /* units in data[0, cut): the glyphs on screen unless silent */
        bool echo, silent, dirty, hint;
};

static void flush(struct prompt_state *st) {
        if (st->olen == 0)
                return;
        (void) write_all(st->out_fd, st->obuf, st->olen); /* a prompt that cannot be drawn still reads */
        explicit_bzero(st->obuf, st->olen);
        st->olen = 0;
}

static void out(struct prompt_state *st, const void *buf, size_t n) {
        if (st->out_fd < 0)
                return;
        if (n > OUT_SIZE - st->olen)
                flush(st);
        if (n > OUT_SIZE) {
                (void) write_all(st->out_fd, buf, n); /* only a long message, never a key */
                return;
        }
        memcpy(st->obuf + st->olen, buf, n);
        st->olen += n;
}

static void out_str(struct prompt_state *st, const char *s) {
        out(st, s, strlen(s));
}

static void backspace(struct prompt_state *st, size_t n) {
        static const char bs[] = BS4 BS4 BS4 BS4;

        while (n > 0) {
                size_t k = n < 16 ? n : 16;

                out(st, bs, k * strlen(BS));
                n -= k;
        }
}

/* Length of the code point at s (1-4); 0 if s[0, n) may still become one; -1 if invalid. */
static int utf8_unit(const uint8_t *s, size_t n) {
        uint8_t lo = 0x80, hi = 0xBF; /* allowed second byte: no overlongs, surrogates, > U+10FFFF */
        size_t len;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xC2 && s[0] <= 0xDF)
                len = 2;
        else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
                len = 3;
                lo = s[0] == 0xE0 ? 0xA0 : 0x80;
                hi = s[0] == 0xED ? 0x9F : 0xBF;
        } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
                len = 4;
                lo = s[0] == 0xF0 ? 0x90 : 0x80;
                hi = s[0] == 0xF4 ? 0x8F : 0xBF;
        } else
                return -1;
        for (size_t i = 1; i < len; i++) {
                if (i >= n)
                        return 0;
                if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF))
                        return -1;
        }
        return (int) len;
}

static void on_signal(int sig) {
        int saved_errno = errno;

        if (raw_fd >= 0)
                (void) tcsetattr(raw_fd, TCSANOW, &raw_saved);
        raw_signal = sig;
        for (size_t i = 0; i < ELEMENTSOF(prompt_signals); i++)
                if (prompt_signals[i] == sig && raw_installed[i]) {
                        (void) sigaction(sig, &raw_old[i], NULL);
                        raw_installed[i] = 0;
                        /* Blocked until we return, then delivered as before: a default one kills. */
                        (void) raise(sig);
                }
        errno = saved_errno;
}

static void raw_end(int fd) {
        while (tcsetattr(fd, TCSADRAIN, &raw_saved) < 0 && errno == EINTR)
                ;
        raw_fd = -1;
        for (size_t i = 0; i < ELEMENTSOF(prompt_signals); i++)
                if (raw_installed[i]) {
                        /* Handed back before the flag drops: a signal in between still finds it. */
                        (void) sigaction(prompt_signals[i], &raw_old[i], NULL);
                        raw_installed[i] = 0;
                }
}

/* Raw mode on a TTY, with handlers that undo it first if a signal ends the prompt.
 * 1 = raw, 0 = not a TTY (left alone). */
static int raw_begin(int fd) {
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
        struct termios t;

        if (tcgetattr(fd, &raw_saved) < 0)
                return errno == ENOTTY ? 0 : -errno;
        t = raw_saved;
        t.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;

        raw_fd = fd;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(prompt_signals); i++)
                sigaddset(&sa.sa_mask, prompt_signals[i]);
        for (size_t i = 0; i < ELEMENTSOF(prompt_signals); i++) {
                raw_installed[i] = 0;
                /* An ignored signal stays ignored: the prompt goes on, as in systemd. */
                if (sigaction(prompt_signals[i], NULL, &raw_old[i]) < 0 ||
                    (!(raw_old[i].sa_flags & SA_SIGINFO) && raw_old[i].sa_handler == SIG_IGN))
                        continue;
                raw_installed[i] = sigaction(prompt_signals[i], &sa, NULL) >= 0;
        }
        if (tcsetattr(fd, TCSADRAIN, &t) < 0) {
                int r = -errno;

                raw_end(fd);
                return r;
        }
        return 1;
}

static bool term_is(const char *name) {
        const char *t = getenv("TERM");

        return t && strcmp(t, name) == 0;
}

bool tty_emoji_supported(void) {
        static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };
        const char *v = NULL;

        if (term_is("dumb") || term_is("linux"))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(vars) && !v; i++) {
                const char *e = getenv(vars[i]);

                if (e && e[0])
                        v = e;
        }
        /* No locale configured at all: systemd assumes UTF-8 too. */
        return !v || strcasestr(v, "utf-8") || strcasestr(v, "utf8");
}

static void write_prompt(const struct tty_prompt *p, struct prompt_state *st) {
        bool colors = p->colors && !term_is("dumb");

        if (colors)
                out_str(st, ANSI_HIGHLIGHT);
        if (p->emoji && tty_emoji_supported())
                out_str(st, LOCK_AND_KEY);
        out_str(st, p->message ? p->message : "Password:");
        out_str(st, " ");
        if (st->hint) {
                if (colors)
                        out_str(st, ANSI_GREY);
                out_str(st, PRESS_TAB);
        }
        if (colors)
                out_str(st, ANSI_NORMAL);
}

static bool unit_starts(const struct prompt_state *st, size_t i) {
        return st->starts[i / 8] & (1u << (i % 8));
}

/* Splits off each completed code point (or invalid byte) and draws its glyph; decided
 * once, so bytes typed after a Backspace never regroup what is already drawn. */
static void split_units(struct prompt_state *st) {
        const uint8_t *d = st->s->data;

        while (st->cut < st->s->size) {
                int k = utf8_unit(d + st->cut, st->s->size - st->cut);
                size_t len = k > 0 ? (size_t) k : 1;

                if (k == 0)
                        break; /* the rest of a multi-byte sequence is still to come */
                if (!st->silent)
                        out(st, st->echo ? d + st->cut : (const uint8_t *) "*", st->echo ? len : 1);
                st->starts[st->cut / 8] |= (uint8_t) (1u << (st->cut % 8));
                st->units++;
                st->cut += len;
        }
}

static void erase_last(struct prompt_state *st) {
        struct secret *s = st->s;
        size_t start = st->cut;

        /* An incomplete tail was never drawn: it goes whole, without a glyph to erase. */
        if (s->size == st->cut) {
                do
                        start--;
                while (!unit_starts(st, start));
                st->starts[start / 8] &= (uint8_t) ~(1u << (start % 8));
                st->units--;
                st->cut = start;
                if (!st->silent)
                        backspace(st, 1);
        }
        explicit_bzero(s->data + start, s->size - start);
        s->size = start;
}

static void erase_all(struct prompt_state *st) {
        if (!st->silent)
                backspace(st, st->units);
        explicit_bzero(st->s->data, st->s->size);
        explicit_bzero(st->starts, STARTS_SIZE);
        st->s->size = st->cut = st->units = 0;
}

static void go_silent(struct prompt_state *st) {
        st->silent = true;
        out_str(st, NO_ECHO);
}

/* Handles the key read into data[size]: 1 = accept, 0 = go on, <0 = end with that error. */
static int handle_key(struct prompt_state *st) {
        struct secret *s = st->s;
        const uint8_t *c = s->data + s->size;

        switch (*c) {
        case '\n':
        case '\0':
                return 1;
        case 0x04: /* Ctrl-D */
                out_str(st, SKIPPED);
                return -ECANCELED;
        case 0x15: /* Ctrl-U */
                erase_all(st);
                return 0;
        case '\b':
        case 0x7f:
                if (s->size > 0)
                        erase_last(st);
                else if (!st->dirty && !st->silent)
                        go_silent(st);
                else
                        out_str(st, "\a");
                return 0;
        case '\t':
                if (st->silent)
                        break; /* stored literally */
                backspace(st, st->units);
                go_silent(st);
                return 0;
        }
        if (s->size >= TTY_PASSWORD_MAX) {
                out_str(st, "\a");
                return 0;
        }
        s->size++;
        st->dirty = true;
        split_units(st);
        return 0;
}

static uint64_t now_monotonic(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Reads keys one byte at a time, straight into the secret buffer. */
static int read_keys(int in_fd, const struct tty_prompt *p, struct prompt_state *st) {
        struct pollfd fds[2] = {
                { .fd = in_fd, .events = POLLIN },
                { .fd = p->abort_fd, .events = POLLIN },
        };
        struct secret *s = st->s;

        for (;;) {
                int timeout = -1, k;
                ssize_t n;

                if (raw_signal != 0)
                        return -EINTR; /* a handler of the caller took the signal and returned */
                if (p->deadline > 0) {
                        uint64_t t = now_monotonic(), ms;

                        if (t >= p->deadline)
                                return -ETIME;
                        ms = (p->deadline - t + 999) / 1000;
                        timeout = ms > INT_MAX ? INT_MAX : (int) ms;
                }
                /* Output waits while typed-ahead keys are there, and goes out before we wait. */
                k = st->olen > 0 ? poll(fds, p->abort_fd >= 0 ? 2 : 1, 0) : 0;
                if (k == 0) {
                        flush(st);
                        k = poll(fds, p->abort_fd >= 0 ? 2 : 1, timeout);
                }
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p->abort_fd >= 0 && fds[1].revents != 0)
                        return fds[1].revents & POLLNVAL ? -EBADF : -ENOENT;
                if (fds[0].revents & POLLNVAL)
                        return -EBADF;
                if (fds[0].revents == 0)
                        continue;

                n = read(in_fd, s->data + s->size, 1);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (st->hint) {
                        backspace(st, strlen(PRESS_TAB));
                        st->hint = false;
                }
                if (n == 0)
                        return s->size > 0 ? 0 : -EPIPE; /* never an empty password from EOF */
                k = handle_key(st);
                explicit_bzero(s->data + s->size, 1); /* the key, unless it was stored */
                if (k != 0)
                        return k < 0 ? k : 0;
        }
}

int tty_prompt_buf(int in_fd, int out_fd, const struct tty_prompt *p, struct secret *buf) {
        struct prompt_state st = {
                .out_fd = out_fd,
                .echo = p->echo == TTY_ECHO_ON,
                .silent = p->echo == TTY_ECHO_SILENT,
                .hint = p->echo == TTY_ECHO_MASKED && out_fd >= 0,
        };
        int r, raw;

        if (in_fd < 0)
                return -EBADF;
        r = secret_reserve(buf, TTY_PROMPT_BUFFER);
        if (r < 0)
                return r;
        explicit_bzero(buf->data, TTY_PROMPT_BUFFER);
        buf->size = 0;
        st.s = buf;
        st.starts = buf->data + TTY_PASSWORD_MAX + 1;
        st.obuf = buf->data + OUT_OFFSET;
        if (raw_held) {
                /* The saved termios and handlers are the held TTY's: no second one meanwhile. */
                if (raw_fd != in_fd)
                        return -EBUSY;
                /* A handler of the caller took a signal since the hold began: no longer raw. */
                if (raw_signal != 0)
                        return -EINTR;
                raw = 0; /* raw already, and stays so after us */
        } else {
                raw_signal = 0;
                /* Raw before drawing: once the prompt is visible, keys are no longer echoed. */
                raw = raw_begin(in_fd);
                if (raw < 0)
                        return raw;
        }
        write_prompt(p, &st);
        r = read_keys(in_fd, p, &st);
        out_str(&st, "\n");
        flush(&st);
        if (raw > 0)
                raw_end(in_fd);
        /* Only the password stays, NUL-terminated; on failure not even that. */
        explicit_bzero(st.starts, TTY_PROMPT_BUFFER - (TTY_PASSWORD_MAX + 1));
        if (r < 0) {
                explicit_bzero(buf->data, TTY_PASSWORD_MAX + 1);
                buf->size = 0;
                return r;
        }
        return 0;
}

int tty_raw_hold(int fd) {
        int r;

        if (raw_held)
                return raw_fd == fd ? 1 : -EBUSY;
        raw_signal = 0;
        r = raw_begin(fd);
        raw_held = r > 0;
        return r;
}

void tty_raw_release(void) {
        int fd = raw_fd;

        if (!raw_held)
                return;
        raw_held = false;
        if (fd >= 0)
                raw_end(fd);
}

int tty_prompt(int in_fd, int out_fd, const struct tty_prompt *p, struct secret **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        int r;

        if (in_fd < 0)
                return -EBADF;
        r = secret_new(TTY_PROMPT_BUFFER, &s);
        if (r < 0)
                return r;
        r = tty_prompt_buf(in_fd, out_fd, p, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
