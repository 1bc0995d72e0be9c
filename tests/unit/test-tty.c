/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/tty.c: the prompt runs in a forked child on a real pseudo-terminal,
 * the test types on the master side and compares every byte the prompt draws. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "io.h"
#include "secret.h"
#include "tmpdir.h"
#include "tty.h"

#define KEYS(s) (s), (sizeof(s) - 1) /* literal with its embedded NULs, without the final one */
#define PROMPT "Password: "
#define HINT "(press TAB for no echo) "
#define BS "\b \b"

/* What the child reports over its pipe. */
struct report {
        int r;
        bool restored;       /* tcgetattr after the prompt equals the one before */
        bool nul_terminated; /* data[size] == 0 */
        bool handler_called; /* the child's own signal handler ran */
        bool handler_back;   /* and is installed again after the prompt */
        uint64_t elapsed;    /* µs spent in tty_prompt() */
        size_t pw_len;
        uint8_t pw[TTY_PASSWORD_MAX + 1];
};

struct run {
        struct tty_prompt prompt;
        const char *keys;
        size_t nkeys;
        void (*act)(struct run *run, pid_t child, int master); /* instead of typing keys */
        int handler_signal;  /* child installs a handler for it first */
        int ignore_signal;   /* child ignores it first */
        bool expect_end;     /* output ends with "\r\n" (false when the child is killed) */
        int abort_write;     /* for act: the other end of prompt.abort_fd */
        const char *rename_from, *rename_to;
        /* Results. */
        struct report rep;
        bool reported, raw_seen, restored_parent;
        int status;
        size_t out_len;
        char out[16384];
};

static bool termios_equal(const struct termios *a, const struct termios *b) {
        return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
               a->c_lflag == b->c_lflag && memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) == 0 &&
               cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

/* putenv() of literals: setenv() copies leave "possibly lost" noise in valgrind's children. */
#define setvar(kv) putenv((char *) (kv))

static uint64_t now_mono(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static volatile sig_atomic_t child_caught;
static void child_handler(int sig) {
        child_caught = sig;
}

/* Runs in the forked child: no cmocka here, and everything freed before _exit. */
static _Noreturn void child_main(struct run *run, int slave, int report_fd) {
        struct report rep = {};
        struct termios before, after;
        struct secret *s = NULL;
        struct sigaction sa = { .sa_handler = child_handler }, now;
        uint64_t t0;

        alarm(30); /* a broken prompt must not hang the suite */
        /* A background shell may have us ignore SIGINT; start from the defaults. */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        if (run->handler_signal)
                sigaction(run->handler_signal, &sa, NULL);
        if (run->ignore_signal)
                signal(run->ignore_signal, SIG_IGN);
        if (tcgetattr(slave, &before) < 0)
                _exit(3);
        t0 = now_mono();
        rep.r = tty_prompt(slave, slave, &run->prompt, &s);
        rep.elapsed = now_mono() - t0;
        rep.restored = tcgetattr(slave, &after) == 0 && termios_equal(&before, &after);
        rep.handler_called = child_caught != 0;
        if (run->handler_signal)
                rep.handler_back = sigaction(run->handler_signal, NULL, &now) == 0 &&
                                   now.sa_handler == child_handler;
        if (s) {
                rep.pw_len = s->size;
                memcpy(rep.pw, s->data, s->size);
                rep.nul_terminated = s->data[s->size] == 0;
        }
        secret_free(s);
        if (write_all(report_fd, &rep, sizeof(rep)) < 0)
                _exit(4);
        explicit_bzero(&rep, sizeof(rep));
        _exit(0);
}

/* Reads what the master has within timeout_ms; returns bytes added. */
static size_t read_master(struct run *run, int master, int timeout_ms) {
        struct pollfd pfd = { .fd = master, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, timeout_ms) <= 0)
                return 0;
        n = read(master, run->out + run->out_len, sizeof(run->out) - run->out_len);
        assert_true(n >= 0);
        run->out_len += (size_t) n;
        assert_true(run->out_len < sizeof(run->out));
        return (size_t) n;
}

static bool ends_with_crlf(const struct run *run) {
        return run->out_len >= 2 && memcmp(run->out + run->out_len - 2, "\r\n", 2) == 0;
}

/* Waits for the report while draining the master, so the child never blocks on output. */
static void collect(struct run *run, int master, int report_fd) {
        size_t got = 0;

        for (;;) {
                struct pollfd pfd[2] = { { .fd = master, .events = POLLIN }, { .fd = report_fd, .events = POLLIN } };
                ssize_t n;

                assert_true(poll(pfd, 2, 30000) > 0);
                if (pfd[0].revents & POLLIN)
                        (void) read_master(run, master, 0);
                if (!pfd[1].revents)
                        continue;
                n = read(report_fd, (uint8_t *) &run->rep + got, sizeof(run->rep) - got);
                assert_true(n >= 0);
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        run->reported = got == sizeof(run->rep);
        assert_true(got == 0 || run->reported);
        /* pty output may lag behind the child's exit; the final "\r\n" closes it. */
        if (run->expect_end)
                while (!ends_with_crlf(run) && read_master(run, master, 5000) > 0)
                        ;
        else
                while (read_master(run, master, 200) > 0)
                        ;
}

static void type_keys(struct run *run, pid_t child, int master) {
        if (run->nkeys > 0)
                assert_int_equal(write_all(master, run->keys, run->nkeys), 0);
}

static void run_prompt(struct run *run) {
        struct termios before, mid, after;
        int master, slave, rp[2];
        pid_t pid;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(master >= 0);
        assert_int_equal(grantpt(master), 0);
        assert_int_equal(unlockpt(master), 0);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(slave >= 0);
        assert_int_equal(tcgetattr(slave, &before), 0);
        assert_true(before.c_lflag & ICANON); /* a fresh pty is cooked: raw mode is the prompt's doing */
        assert_int_equal(pipe2(rp, O_CLOEXEC), 0);

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(master);
                close(rp[0]);
                child_main(run, slave, rp[1]);
        }
        close(rp[1]);

        /* The prompt is drawn after raw mode is set, so its first byte means keys are safe. */
        assert_true(read_master(run, master, 10000) > 0);
        assert_int_equal(tcgetattr(slave, &mid), 0);
        run->raw_seen = !(mid.c_lflag & (ICANON | ECHO)) && (mid.c_lflag & ISIG) &&
                        mid.c_cc[VMIN] == 1 && mid.c_cc[VTIME] == 0;
        (run->act ? run->act : type_keys)(run, pid, master);

        collect(run, master, rp[0]);
        assert_int_equal(waitpid(pid, &run->status, 0), pid);
        assert_int_equal(tcgetattr(slave, &after), 0);
        run->restored_parent = termios_equal(&before, &after);
        close(rp[0]);
        close(slave);
        close(master);
}

/* Shows both sides with escapes when they differ. */
static void print_escaped(const char *what, const char *s, size_t n) {
        fprintf(stderr, "%s (%zu): \"", what, n);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c >= 0x20 && c < 0x7f && c != '\\')
                        fputc(c, stderr);
                else
                        fprintf(stderr, "\\x%02x", c);
        }
        fputs("\"\n", stderr);
}

static void assert_output(const struct run *run, const char *expected, size_t n) {
        if (run->out_len != n || memcmp(run->out, expected, n) != 0) {
                print_escaped("expected", expected, n);
                print_escaped("got", run->out, run->out_len);
                fail();
        }
}

static void assert_password(const struct run *run, const char *pw, size_t n) {
        assert_true(run->reported);
        assert_int_equal(run->rep.r, 0);
        assert_int_equal(run->rep.pw_len, n);
        assert_memory_equal(run->rep.pw, pw, n);
        assert_true(run->rep.nul_terminated);
}

/* Common checks for a prompt that returned normally. */
static void assert_clean_end(const struct run *run) {
        assert_true(WIFEXITED(run->status));
        assert_int_equal(WEXITSTATUS(run->status), 0);
        assert_true(run->raw_seen);
        assert_true(run->rep.restored);
        assert_true(run->restored_parent);
}

/* Expected output builder. */
struct buf {
        char d[16384];
        size_t n;
};

static void put_n(struct buf *b, const char *s, size_t len, size_t times) {
        for (size_t i = 0; i < times; i++) {
                assert_true(b->n + len < sizeof(b->d));
                memcpy(b->d + b->n, s, len);
                b->n += len;
        }
}

static void put(struct buf *b, const char *s) {
        put_n(b, s, strlen(s), 1);
}

static void put_rep(struct buf *b, const char *s, size_t times) {
        put_n(b, s, strlen(s), times);
}

/* "Password: (press TAB for no echo) " and its erasure by the first key. */
static void put_masked_start(struct buf *b) {
        put(b, PROMPT HINT);
        put_rep(b, BS, strlen(HINT));
}

static struct run *new_run(enum tty_echo echo, const char *keys, size_t nkeys) {
        struct run *run = calloc(1, sizeof(*run));

        assert_non_null(run);
        run->prompt = (struct tty_prompt) { .echo = echo, .abort_fd = -1 };
        run->keys = keys;
        run->nkeys = nkeys;
        run->expect_end = true;
        run->abort_write = -1;
        return run;
}

/* --- keys ------------------------------------------------------------------ */

static void test_masked(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("abc\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("abc"));
        put_masked_start(&b);
        put(&b, "***\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_enter_gives_empty_password(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, "", 0);
        put_masked_start(&b);
        put(&b, "\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_nul_accepts(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("ab\0cd\n"));

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("ab"));
        free(run);
}

static void test_backspace_utf8(void **state) {
        /* "aä€😀", two backspaces, Ctrl-H style, then "b": the 4- and 3-byte code points go as units. */
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("a\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80\x7f\x08" "b\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("a\xc3\xa4" "b"));
        put_masked_start(&b);
        put(&b, "****" BS BS "*\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_backspace_multibyte_last(void **state) {
        /* The case from the spec: "ä" typed and removed by one Backspace leaves nothing. */
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("x\xc3\xa4\x7f\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("x"));
        put_masked_start(&b);
        put(&b, "**" BS "\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_invalid_utf8_per_byte(void **state) {
        /* A stray 0xff and a lead byte cut short by 'c' are masked byte by byte; Backspace
         * on an incomplete tail erases no glyph, since none was drawn for it. */
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("a\xff" "b\xc3" "c\xe2\x82\x7f\x7f\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("a\xff" "b\xc3"));
        put_masked_start(&b);
        put(&b, "*****" BS "\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_invalid_utf8_not_regrouped(void **state) {
        /* "\xe2" is drawn as an invalid byte once 'a' follows; after 'a' is erased, "\x82\xac"
         * would complete a "€" with it, yet three glyphs are on screen and Tab erases three. */
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("\xe2" "a\x7f\x82\xac\t\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("\xe2\x82\xac"));
        put_masked_start(&b);
        put(&b, "**" BS "**" BS BS BS "(no echo) \r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_invalid_utf8_backspace_each(void **state) {
        /* Two invalid bytes and a pending lead: the lead goes silently, then one glyph each. */
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("\xe2\x82\xe2\x7f\x7f\x7f\x7f" "z\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("z"));
        put_masked_start(&b);
        put(&b, "**" BS BS "\a*\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_tab_goes_silent(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("a\xc3\xa4\tcd\tef\x7f\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        /* The second Tab is literal; Backspace in silent mode removes, but draws nothing. */
        assert_password(run, KEYS("a\xc3\xa4" "cd\te"));
        put_masked_start(&b);
        put(&b, "**" BS BS "(no echo) \r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_first_key_backspace_silent(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("\x7f" "ab\tc\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("ab\tc"));
        put_masked_start(&b);
        put(&b, "(no echo) \r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_backspace_empty_after_typing_rings(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("a\x7f\x7f" "b\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("b"));
        put_masked_start(&b);
        put(&b, "*" BS "\a*\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_ctrl_u(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("ab\xc3\xa4\x15" "d\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("d"));
        put_masked_start(&b);
        put(&b, "***" BS BS BS "*\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_ctrl_u_silent(void **state) {
        struct run *run = new_run(TTY_ECHO_SILENT, KEYS("ab\x15" "d\n"));

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("d"));
        assert_output(run, KEYS(PROMPT "\r\n"));
        free(run);
}

static void test_ctrl_d_skips(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("ab\x04" "cd\n"));
        struct buf b = {};

        run_prompt(run);
        assert_clean_end(run);
        assert_true(run->reported);
        assert_int_equal(run->rep.r, -ECANCELED);
        assert_int_equal(run->rep.pw_len, 0);
        put_masked_start(&b);
        put(&b, "**(skipped)\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_echo_on(void **state) {
        struct run *run = new_run(TTY_ECHO_ON, KEYS("a\xc3\xa4" "b\x7f\n"));

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("a\xc3\xa4"));
        /* No hint in echo mode, so the first key erases nothing. */
        assert_output(run, KEYS(PROMPT "a\xc3\xa4" "b" BS "\r\n"));
        free(run);
}

static void test_echo_tab_erases_per_code_point(void **state) {
        struct run *run = new_run(TTY_ECHO_ON, KEYS("x\xc3\xa4\ty\n"));

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("x\xc3\xa4y"));
        assert_output(run, KEYS(PROMPT "x\xc3\xa4" BS BS "(no echo) \r\n"));
        free(run);
}

static void test_silent(void **state) {
        struct run *run = new_run(TTY_ECHO_SILENT, KEYS("se\tcr\x7f" "et\n"));

        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("se\tcet"));
        assert_output(run, KEYS(PROMPT "\r\n"));
        free(run);
}

static void test_too_long_rings(void **state) {
        static char keys[TTY_PASSWORD_MAX + 3];
        struct run *run;
        struct buf b = {};

        memset(keys, 'x', TTY_PASSWORD_MAX + 1);
        keys[TTY_PASSWORD_MAX + 1] = '\x7f'; /* still works at the cap */
        keys[TTY_PASSWORD_MAX + 2] = '\n';
        run = new_run(TTY_ECHO_MASKED, keys, sizeof(keys));
        run_prompt(run);
        assert_clean_end(run);
        assert_true(run->reported);
        assert_int_equal(run->rep.r, 0);
        assert_int_equal(run->rep.pw_len, TTY_PASSWORD_MAX - 1);
        for (size_t i = 0; i < run->rep.pw_len; i++)
                assert_int_equal(run->rep.pw[i], 'x');
        put_masked_start(&b);
        put_rep(&b, "*", TTY_PASSWORD_MAX);
        put(&b, "\a" BS "\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

/* --- prompt decoration ----------------------------------------------------- */

static void test_colors_emoji_message(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("k\n"));
        struct buf b = {};

        setvar("TERM=xterm-256color");
        setvar("LANG=C.UTF-8");
        run->prompt.message = "Disk key for root:";
        run->prompt.colors = true;
        run->prompt.emoji = true;
        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("k"));
        put(&b, "\x1b[0;1;39m\xf0\x9f\x94\x90 Disk key for root: \x1b[0;38;5;245m" HINT "\x1b[0m");
        put_rep(&b, BS, strlen(HINT));
        put(&b, "*\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_colors_silent_no_hint(void **state) {
        struct run *run = new_run(TTY_ECHO_SILENT, KEYS("k\n"));

        setvar("TERM=xterm-256color");
        setvar("LANG=C"); /* no emoji outside a UTF-8 locale */
        run->prompt.colors = true;
        run->prompt.emoji = true;
        run_prompt(run);
        setvar("LANG=C.UTF-8");
        assert_clean_end(run);
        assert_output(run, KEYS("\x1b[0;1;39m" PROMPT "\x1b[0m\r\n"));
        free(run);
}

static void test_term_dumb_plain(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, KEYS("\n"));
        struct buf b = {};

        setvar("TERM=dumb");
        run->prompt.colors = true;
        run->prompt.emoji = true;
        run_prompt(run);
        setvar("TERM=xterm-256color");
        assert_clean_end(run);
        put_masked_start(&b);
        put(&b, "\r\n");
        assert_output(run, b.d, b.n);
        free(run);
}

static void test_emoji_supported(void **state) {
        unsetenv("LC_ALL");
        unsetenv("LC_CTYPE");
        setvar("TERM=xterm");
        setvar("LANG=en_US.utf8");
        assert_true(tty_emoji_supported());
        setvar("LANG=de_DE.UTF-8");
        assert_true(tty_emoji_supported());
        setvar("LC_ALL=C"); /* LC_ALL wins over LANG */
        assert_false(tty_emoji_supported());
        unsetenv("LC_ALL");
        setvar("TERM=linux");
        assert_false(tty_emoji_supported());
        setvar("TERM=xterm-256color");
        unsetenv("LANG");
        assert_true(tty_emoji_supported()); /* nothing configured: assumed UTF-8, as systemd */
        setvar("LANG=C.UTF-8");
}

/* --- deadline, abort, signals ---------------------------------------------- */

static void test_deadline(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, NULL, 0);
        uint64_t t0 = now_mono();

        run->prompt.deadline = t0 + 300 * 1000;
        run_prompt(run);
        assert_clean_end(run);
        assert_true(run->reported);
        assert_int_equal(run->rep.r, -ETIME);
        assert_true(now_mono() >= t0 + 300 * 1000);
        assert_true(run->rep.elapsed < 5 * 1000 * 1000);
        assert_output(run, KEYS(PROMPT HINT "\r\n"));
        free(run);
}

static void test_deadline_passed(void **state) {
        struct run *run = new_run(TTY_ECHO_SILENT, NULL, 0);

        run->prompt.deadline = 1; /* long gone */
        run_prompt(run);
        /* Over before the test could look at raw mode; the rest still holds. */
        assert_true(WIFEXITED(run->status));
        assert_true(run->rep.restored);
        assert_true(run->restored_parent);
        assert_output(run, KEYS(PROMPT "\r\n"));
        assert_int_equal(run->rep.r, -ETIME);
        assert_true(run->rep.elapsed < 1000 * 1000);
        free(run);
}

static void act_abort(struct run *run, pid_t child, int master) {
        /* Some typing first: the abort must still win and drop it. */
        assert_int_equal(write_all(master, "ab", 2), 0);
        usleep(50 * 1000);
        assert_int_equal(write_all(run->abort_write, "!", 1), 0);
}

static void test_abort_fd(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, NULL, 0);
        int ap[2];

        assert_int_equal(pipe2(ap, O_CLOEXEC), 0);
        run->prompt.abort_fd = ap[0];
        run->abort_write = ap[1];
        run->act = act_abort;
        run_prompt(run);
        assert_clean_end(run);
        assert_true(run->reported);
        assert_int_equal(run->rep.r, -ENOENT);
        assert_int_equal(run->rep.pw_len, 0);
        close(ap[0]);
        close(ap[1]);
        free(run);
}

static void act_rename(struct run *run, pid_t child, int master) {
        assert_int_equal(rename(run->rename_from, run->rename_to), 0);
}

static void test_abort_inotify(void **state) {
        /* The agent's use: the ask file is renamed away, which 252 notices only a key later. */
        struct run *run = new_run(TTY_ECHO_MASKED, NULL, 0);
        char dir[256], from[300], to[300];
        int fd, watch;

        assert_int_equal(tmpdir_make(dir, sizeof(dir), "test-tty"), 0);
        snprintf(from, sizeof(from), "%s/ask.1", dir);
        snprintf(to, sizeof(to), "%s/gone", dir);
        fd = open(from, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        assert_true(watch >= 0);
        assert_true(inotify_add_watch(watch, from, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) >= 0);
        run->prompt.abort_fd = watch;
        run->rename_from = from;
        run->rename_to = to;
        run->act = act_rename;
        run_prompt(run);
        assert_clean_end(run);
        assert_int_equal(run->rep.r, -ENOENT);
        close(watch);
        tmpdir_remove(dir);
        free(run);
}

static int kill_signal;
static void act_kill(struct run *run, pid_t child, int master) {
        assert_int_equal(write_all(master, "ab", 2), 0);
        usleep(50 * 1000);
        assert_int_equal(kill(child, kill_signal), 0);
}

static void test_signal_restores_termios(void **state) {
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
                struct run *run = new_run(TTY_ECHO_MASKED, NULL, 0);

                kill_signal = sigs[i];
                run->act = act_kill;
                run->expect_end = false;
                run_prompt(run);
                assert_true(run->raw_seen);
                /* Killed by that very signal, yet the terminal is cooked again. */
                assert_false(run->reported);
                assert_true(WIFSIGNALED(run->status));
                assert_int_equal(WTERMSIG(run->status), sigs[i]);
                assert_true(run->restored_parent);
                free(run);
        }
}

static void test_signal_chains_to_handler(void **state) {
        struct run *run = new_run(TTY_ECHO_MASKED, NULL, 0);

        kill_signal = SIGTERM;
        run->act = act_kill;
        run->handler_signal = SIGTERM;
        run_prompt(run);
        assert_clean_end(run);
        assert_true(run->reported);
        assert_int_equal(run->rep.r, -EINTR);
        assert_true(run->rep.handler_called);
        assert_true(run->rep.handler_back);
        assert_int_equal(run->rep.pw_len, 0);
        free(run);
}

static void act_hup_then_type(struct run *run, pid_t child, int master) {
        assert_int_equal(kill(child, SIGHUP), 0);
        usleep(50 * 1000);
        assert_int_equal(write_all(master, "ok\n", 3), 0);
}

static void test_ignored_signal_stays_ignored(void **state) {
        struct run *run = new_run(TTY_ECHO_SILENT, NULL, 0);

        run->act = act_hup_then_type;
        run->ignore_signal = SIGHUP;
        run_prompt(run);
        assert_clean_end(run);
        assert_password(run, KEYS("ok"));
        free(run);
}

/* --- pipes ----------------------------------------------------------------- */

/* Feeds input through a pipe (closed after it) and runs the prompt in-process. */
static int pipe_prompt(const char *in, size_t n, enum tty_echo echo, int out_fd, struct secret **ret) {
        struct tty_prompt p = { .echo = echo, .abort_fd = -1 };
        int fds[2], r;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        if (n > 0)
                assert_int_equal(write_all(fds[1], in, n), 0);
        close(fds[1]);
        r = tty_prompt(fds[0], out_fd, &p, ret);
        close(fds[0]);
        return r;
}

static void assert_wiped_after(const struct secret *s, size_t n) {
        for (size_t i = s->size; i < s->size + n; i++)
                assert_int_equal(s->data[i], 0);
}

static void test_pipe_line(void **state) {
        struct secret *s = NULL;

        assert_int_equal(pipe_prompt(KEYS("pw\n"), TTY_ECHO_MASKED, -1, &s), 0);
        assert_int_equal(s->size, 2);
        assert_memory_equal(s->data, "pw", 2);
        assert_wiped_after(s, 8);
        secret_free(s);
}

static void test_pipe_eof_after_input(void **state) {
        struct secret *s = NULL;

        assert_int_equal(pipe_prompt(KEYS("abc\x7f" "d"), TTY_ECHO_MASKED, -1, &s), 0);
        assert_int_equal(s->size, 3);
        assert_memory_equal(s->data, "abd", 3);
        assert_wiped_after(s, 8); /* nothing of the keys past the password */
        secret_free(s);
}

static void test_pipe_empty_is_epipe(void **state) {
        struct secret *s = NULL;
        int fd;

        assert_int_equal(pipe_prompt(NULL, 0, TTY_ECHO_MASKED, -1, &s), -EPIPE);
        assert_null(s);
        /* Typed and removed again: still nothing to accept. */
        assert_int_equal(pipe_prompt(KEYS("a\x7f"), TTY_ECHO_MASKED, -1, &s), -EPIPE);
        assert_null(s);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(tty_prompt(fd, -1, &(struct tty_prompt) { .abort_fd = -1 }, &s), -EPIPE);
        assert_null(s);
        close(fd);
        /* An explicit Enter still gives the empty password. */
        assert_int_equal(pipe_prompt(KEYS("\n"), TTY_ECHO_MASKED, -1, &s), 0);
        assert_int_equal(s->size, 0);
        secret_free(s);
}

static void test_pipe_reads_one_line_only(void **state) {
        /* Several answers queued on one pipe are taken one per prompt. */
        struct tty_prompt p = { .echo = TTY_ECHO_SILENT, .abort_fd = -1 };
        struct secret *a = NULL, *b = NULL;
        int fds[2];

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(write_all(fds[1], "one\ntwo\n", 8), 0);
        close(fds[1]);
        assert_int_equal(tty_prompt(fds[0], -1, &p, &a), 0);
        assert_int_equal(tty_prompt(fds[0], -1, &p, &b), 0);
        assert_int_equal(a->size, 3);
        assert_memory_equal(a->data, "one", 3);
        assert_int_equal(b->size, 3);
        assert_memory_equal(b->data, "two", 3);
        close(fds[0]);
        secret_free(a);
        secret_free(b);
}

static void test_raw_hold(void **state) {
        /* One hold over two prompts: raw in between, one output write per prompt, cooked after. */
        struct tty_prompt p = { .message = "Q:", .abort_fd = -1 };
        struct termios before, mid, after;
        struct secret *buf = NULL;
        char out[512];
        ssize_t n;
        int master, slave;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(master >= 0);
        assert_int_equal(grantpt(master), 0);
        assert_int_equal(unlockpt(master), 0);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(slave >= 0);
        assert_int_equal(tcgetattr(slave, &before), 0);
        assert_int_equal(secret_new(16, &buf), 0);

        assert_int_equal(tty_raw_hold(slave), 1);
        assert_int_equal(tty_raw_hold(slave), 1); /* again on the same fd: still held */
        assert_int_equal(write_all(master, "ab\ncd\n", 6), 0); /* typed ahead for both */
        assert_int_equal(tty_prompt_buf(slave, slave, &p, buf), 0);
        assert_int_equal(buf->size, 2);
        assert_memory_equal(buf->data, "ab", 3); /* NUL-terminated */
        assert_int_equal(tcgetattr(slave, &mid), 0);
        assert_false(mid.c_lflag & (ICANON | ECHO)); /* still raw between prompts */
        assert_int_equal(tty_prompt_buf(master, -1, &p, buf), -EBUSY); /* not the held TTY */
        assert_int_equal(tty_prompt_buf(slave, slave, &p, buf), 0);
        assert_int_equal(buf->size, 2);
        assert_memory_equal(buf->data, "cd", 3);
        tty_raw_release();
        tty_raw_release(); /* a second release does nothing */
        assert_int_equal(tcgetattr(slave, &after), 0);
        assert_true(termios_equal(&before, &after));

        /* Both prompts drawn, each key a '*', the hint erased at the first key. */
        n = read(master, out, sizeof(out) - 1);
        assert_true(n > 0);
        out[n] = '\0';
        assert_non_null(strstr(out, "Q: " HINT));
        assert_non_null(strstr(out, "**\r\n"));

        /* No fd: refused before anything is touched. */
        assert_int_equal(tty_prompt_buf(-1, -1, &p, buf), -EBADF);
        secret_free(buf);
        close(slave);
        close(master);
}

static void test_pipe_output_and_keys(void **state) {
        /* Same keys as on a TTY; the prompt goes to out_fd, without ONLCR. */
        struct secret *s = NULL;
        struct buf b = {};
        char out[512];
        int fds[2];
        ssize_t n;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(pipe_prompt(KEYS("ab\tc\td\n"), TTY_ECHO_MASKED, fds[1], &s), 0);
        close(fds[1]);
        n = read(fds[0], out, sizeof(out));
        close(fds[0]);
        assert_int_equal(s->size, 5);
        assert_memory_equal(s->data, "abc\td", 5);
        put_masked_start(&b);
        put(&b, "**" BS BS "(no echo) \n");
        assert_int_equal(n, b.n);
        assert_memory_equal(out, b.d, b.n);
        secret_free(s);
}

static void test_bad_fd(void **state) {
        struct secret *s = NULL;

        assert_int_equal(tty_prompt(-1, -1, &(struct tty_prompt) { .abort_fd = -1 }, &s), -EBADF);
        assert_null(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_masked),
                cmocka_unit_test(test_enter_gives_empty_password),
                cmocka_unit_test(test_nul_accepts),
                cmocka_unit_test(test_backspace_utf8),
                cmocka_unit_test(test_backspace_multibyte_last),
                cmocka_unit_test(test_invalid_utf8_per_byte),
                cmocka_unit_test(test_invalid_utf8_not_regrouped),
                cmocka_unit_test(test_invalid_utf8_backspace_each),
                cmocka_unit_test(test_tab_goes_silent),
                cmocka_unit_test(test_first_key_backspace_silent),
                cmocka_unit_test(test_backspace_empty_after_typing_rings),
                cmocka_unit_test(test_ctrl_u),
                cmocka_unit_test(test_ctrl_u_silent),
                cmocka_unit_test(test_ctrl_d_skips),
                cmocka_unit_test(test_echo_on),
                cmocka_unit_test(test_echo_tab_erases_per_code_point),
                cmocka_unit_test(test_silent),
                cmocka_unit_test(test_too_long_rings),
                cmocka_unit_test(test_colors_emoji_message),
                cmocka_unit_test(test_colors_silent_no_hint),
                cmocka_unit_test(test_term_dumb_plain),
                cmocka_unit_test(test_emoji_supported),
                cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_deadline_passed),
                cmocka_unit_test(test_abort_fd),
                cmocka_unit_test(test_abort_inotify),
                cmocka_unit_test(test_signal_restores_termios),
                cmocka_unit_test(test_signal_chains_to_handler),
                cmocka_unit_test(test_ignored_signal_stays_ignored),
                cmocka_unit_test(test_pipe_line),
                cmocka_unit_test(test_pipe_eof_after_input),
                cmocka_unit_test(test_pipe_empty_is_epipe),
                cmocka_unit_test(test_pipe_reads_one_line_only),
                cmocka_unit_test(test_pipe_output_and_keys),
                cmocka_unit_test(test_raw_hold),
                cmocka_unit_test(test_bad_fd),
        };

        /* A known environment: the prompt's decoration depends on TERM and the locale. */
        setvar("TERM=xterm-256color");
        setvar("LANG=C.UTF-8");
        unsetenv("LC_ALL");
        unsetenv("LC_CTYPE");
        unsetenv("NO_COLOR");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
