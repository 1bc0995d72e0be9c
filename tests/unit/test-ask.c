/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/ask: the ask-file dialect, escaping, reply datagrams, socket paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask.h"
#include "tmpdir.h"

/* Byte for byte what systemd-ask-password 252 wrote (shared spec §1.4). */
static const char systemd_file[] = "[Ask]\nPID=8111\nSocket=/run/systemd/ask-password/sck.80dc7f940b6d9601\n"
                                   "AcceptCached=0\nEcho=0\nNotAfter=417490196\nSilent=0\nMessage=Test:\n";

static void parse_ok(const char *text, struct ask_request *r) {
        assert_int_equal(ask_file_parse(text, strlen(text), r), 0);
}

static void test_parse_systemd_file(void **state) {
        struct ask_request r;

        parse_ok(systemd_file, &r);
        assert_int_equal(r.pid, 8111);
        assert_string_equal(r.socket, "/run/systemd/ask-password/sck.80dc7f940b6d9601");
        assert_false(r.accept_cached);
        assert_false(r.echo);
        assert_false(r.silent);
        assert_int_equal(r.not_after, 417490196);
        assert_string_equal(r.message, "Test:");
        assert_null(r.icon);
        assert_null(r.id);
        ask_request_clear(&r);
}

static void test_parse_dialect(void **state) {
        struct ask_request r;

        /* Comments, other sections, unknown keys, whitespace, booleans, last-wins, continuation. */
        parse_ok("# c\n; c\n[Other]\nSocket=/evil\n[Ask]\n  Socket = /run/x/sck.1  \nEcho=yes\nSilent=on\n"
                 "AcceptCached=true\nUnknown=1\nMessage=first\nMessage=two \\\nlines\nIcon=drive\nId=cryptsetup:/dev/sda5\n"
                 "PID=abc\nNotAfter=-5\n",
                 &r);
        assert_string_equal(r.socket, "/run/x/sck.1");
        assert_true(r.echo && r.silent && r.accept_cached);
        assert_string_equal(r.message, "two   lines");
        assert_string_equal(r.icon, "drive");
        assert_string_equal(r.id, "cryptsetup:/dev/sda5");
        assert_int_equal(r.pid, 0);       /* garbage PID: no liveness check */
        assert_int_equal(r.not_after, 0); /* garbage deadline: none */
        ask_request_clear(&r);

        /* Quotes and semicolons in values are literal, as systemd reads them. */
        parse_ok("[Ask]\nSocket=/s\nMessage=\"a\" ; b # c\n", &r);
        assert_string_equal(r.message, "\"a\" ; b # c");
        ask_request_clear(&r);
}

static void test_parse_long_line(void **state) {
        /* Debian's inih (200-byte lines) would split this and read the tail as a new key. */
        char text[2000], msg[1200];
        struct ask_request r;

        memset(msg, 'a', 191);
        strcpy(msg + 191, "Socket=/evil");
        memset(msg + 203, 'b', 900);
        msg[1103] = '\0';
        snprintf(text, sizeof(text), "[Ask]\nMessage=%s\nSocket=/good\n", msg);
        parse_ok(text, &r);
        assert_string_equal(r.socket, "/good");
        assert_string_equal(r.message, msg);
        ask_request_clear(&r);
}

static void test_parse_rejects(void **state) {
        static const char *const bad[] = {
                "[Ask]\nMessage=x\n",                              /* no socket */
                "[Other]\nSocket=/s\n",                            /* socket outside [Ask] */
                "[Ask]\nSocket=/a\nSocket=/b\n",                   /* injected second socket */
                "[Ask]\nSocket=relative\n",
                "[Ask]\nSocket=/with\"quote\n",
                "[Ask]\nSocket=/with\\backslash\n",
                "[Ask]\nSocket=/a/very/long/path/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                "[Ask]\nSocket=/s\njunk line without equals\n",
        };
        struct ask_request r;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (ask_file_parse(bad[i], strlen(bad[i]), &r) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
        /* NUL bytes and oversized files. */
        assert_int_equal(ask_file_parse("[Ask]\nSocket=/s\0x\n", 17, &r), -EBADMSG);
        {
                size_t n = ASK_FILE_MAX + 1;
                char *big = malloc(n);

                assert_non_null(big);
                memset(big, '#', n);
                assert_int_equal(ask_file_parse(big, n, &r), -EBADMSG);
                free(big);
        }
}

static void test_format_escapes(void **state) {
        /* Newlines, a trailing backslash and control bytes must not create keys or join lines. */
        struct ask_request in = {
                .pid = 42, .socket = (char *) "/run/systemd/ask-password/sck.1", .echo = true, .not_after = 7,
                .message = (char *) "line1\nSocket=/evil\\", .icon = (char *) "i\rcon", .id = (char *) "tab\there",
        };
        struct ask_request out;
        char *text = NULL;
        size_t len;

        assert_int_equal(ask_file_format(&in, &text, &len), 0);
        assert_int_equal(strlen(text), len);
        assert_non_null(strstr(text, "Message=line1\\x0aSocket=/evil\\\\\n"));
        assert_non_null(strstr(text, "Icon=i\\x0dcon\n"));
        assert_non_null(strstr(text, "Id=tab\\x09here\n"));
        assert_int_equal(ask_file_parse(text, len, &out), 0);
        assert_string_equal(out.socket, in.socket);
        assert_int_equal(out.pid, 42);
        assert_true(out.echo);
        assert_int_equal(out.not_after, 7);
        assert_string_equal(out.message, "line1\\x0aSocket=/evil\\\\");
        ask_request_clear(&out);
        free(text);
}

static void test_format_limits(void **state) {
        char *big = malloc(ASK_MESSAGE_MAX + 2), *text = NULL;
        struct ask_request in = { .socket = (char *) "/s" };
        size_t len;

        assert_non_null(big);
        memset(big, 'm', ASK_MESSAGE_MAX + 1);
        big[ASK_MESSAGE_MAX + 1] = '\0';
        in.message = big;
        assert_int_equal(ask_file_format(&in, &text, &len), -E2BIG);
        big[ASK_MESSAGE_MAX] = '\0';
        assert_int_equal(ask_file_format(&in, &text, &len), 0);
        free(text);
        free(big);
        in.message = NULL;
        in.socket = (char *) "relative";
        assert_int_equal(ask_file_format(&in, &text, &len), -EINVAL);
}

static void reply_is(const char *datagram, size_t n, const char *list, size_t list_len) {
        struct secret *s = NULL;

        assert_int_equal(ask_reply_parse((const uint8_t *) datagram, n, &s), 0);
        assert_int_equal(s->size, list_len);
        assert_memory_equal(s->data, list, list_len);
        secret_free(s);
}

static void test_reply_parse(void **state) {
        struct secret *s = NULL;
        uint8_t big[ASK_PASSWORD_MAX + 2];

        /* The table of shared spec §2.1. */
        reply_is("+", 1, "\0", 1);
        reply_is("+\0", 2, "\0", 1);
        reply_is("+\0\0", 3, "\0\0", 2);
        reply_is("+abc\0", 5, "abc\0", 4);
        reply_is("+abc", 4, "abc\0", 4);
        reply_is("+a\0b\0c", 6, "a\0b\0c\0", 6);
        reply_is("+a\0\0b", 5, "a\0\0b\0", 5);
        reply_is("+\xff\xfe", 3, "\xff\xfe\0", 3);
        assert_int_equal(ask_reply_parse((const uint8_t *) "-", 1, &s), -ECANCELED);
        assert_int_equal(ask_reply_parse((const uint8_t *) "-ignored", 8, &s), -ECANCELED);
        assert_int_equal(ask_reply_parse((const uint8_t *) "x", 1, &s), -EBADMSG);
        assert_int_equal(ask_reply_parse((const uint8_t *) "", 0, &s), -EBADMSG);
        assert_null(s);
        /* 2048 bytes after '+' are fine; 2049 are too many (systemd 252 would truncate). */
        memset(big, 'p', sizeof(big));
        big[0] = '+';
        assert_int_equal(ask_reply_parse(big, ASK_PASSWORD_MAX + 1, &s), 0);
        assert_int_equal(s->size, ASK_PASSWORD_MAX + 1);
        secret_free(s);
        s = NULL;
        assert_int_equal(ask_reply_parse(big, ASK_PASSWORD_MAX + 2, &s), -EMSGSIZE);
        assert_null(s);
}

static void test_socket_path(void **state) {
        assert_true(ask_socket_path_valid("/run/systemd/ask-password/sck.5e5322af5594595"));
        assert_false(ask_socket_path_valid("@abstract"));
        assert_false(ask_socket_path_valid("run/x"));
        assert_false(ask_socket_path_valid("/a\x01"));
        assert_false(ask_socket_path_valid("/a\x7f"));
        assert_false(ask_socket_path_valid("/a'b"));
        {
                char p[110];

                memset(p, 'a', sizeof(p));
                p[0] = '/';
                p[107] = '\0';
                assert_true(ask_socket_path_valid(p)); /* 107 bytes */
                p[107] = 'a';
                p[108] = '\0';
                assert_false(ask_socket_path_valid(p));
        }
}

static void test_pid_alive(void **state) {
        assert_true(ask_pid_alive(getpid()));
        assert_true(ask_pid_alive(0)); /* unknown: no check */
        assert_true(ask_pid_alive(1)); /* someone else's process: EPERM or alive */
        /* A zombie counts as dead, and so does a reaped child. */
        {
                pid_t child = fork();

                assert_true(child >= 0);
                if (child == 0)
                        _exit(0);
                for (int i = 0; i < 200 && ask_pid_alive(child); i++)
                        usleep(5000);
                assert_false(ask_pid_alive(child)); /* zombie until reaped */
                assert_int_equal(waitpid(child, NULL, 0), child);
                assert_false(ask_pid_alive(child));
        }
}

static void touch_at(const char *dir, const char *name) {
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

static void test_watch_drain(void **state) {
        /* Only events that may be an ask wake a rescan: a temporary file's close is none. */
        char dir[PATH_MAX];
        int ino;

        assert_int_equal(tmpdir_make(dir, sizeof(dir), "test-ask-watch"), 0);
        ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(ino >= 0);
        assert_int_equal(ask_watch_add(ino, dir), 0);
        assert_false(ask_watch_drain(ino)); /* nothing queued */
        touch_at(dir, ".#ask.1.0123456789abcdef");
        assert_false(ask_watch_drain(ino));
        touch_at(dir, ".#ask.2.0123456789abcdef");
        touch_at(dir, "ask.2");
        assert_true(ask_watch_drain(ino));
        assert_false(ask_watch_drain(ino)); /* drained */
        close(ino);
        tmpdir_remove(dir);
}

static void test_query_round_trip(void **state) {
        /* Published, read as an agent reads it, answered from one shared socket; the
         * client gets the list where it was received. */
        struct ask_request r = { .message = strdup("Disk:") }, got = {};
        struct ask_query q;
        struct secret *list = NULL, *ret = NULL;
        char dir[PATH_MAX];
        int dir_fd, fd;

        assert_non_null(r.message);
        assert_int_equal(tmpdir_make(dir, sizeof(dir), "test-ask-query"), 0);
        assert_int_equal(ask_query_start(dir, &r, &q), 0);
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir_fd >= 0);
        assert_int_equal(ask_file_read(dir_fd, dir, strrchr(q.ask_path, '/') + 1, getuid(), &got), 0);
        assert_string_equal(got.socket, q.socket_path);
        assert_string_equal(got.message, "Disk:");
        assert_int_equal(got.pid, getpid());

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(secret_new(8, &list), 0);
        memcpy(list->data, "a\0bc\0", 5);
        list->size = 5;
        assert_int_equal(ask_reply_send(fd, got.socket, list), 0);
        assert_int_equal(ask_query_wait(&q, mono_usec() + 5 * 1000000ULL, -1, NULL, NULL, &ret), 0);
        assert_int_equal(ret->size, 5);
        assert_memory_equal(ret->data, "a\0bc\0", 5);
        secret_free(ret);
        ret = NULL;
        /* Without a trailing NUL the last password still gets one. */
        list->size = 4;
        assert_int_equal(ask_reply_send(fd, got.socket, list), 0);
        assert_int_equal(ask_query_wait(&q, mono_usec() + 5 * 1000000ULL, -1, NULL, NULL, &ret), 0);
        assert_int_equal(ret->size, 5);
        assert_memory_equal(ret->data, "a\0bc\0", 5);
        secret_free(ret);
        ret = NULL;
        /* "-" from a one-off socket cancels. */
        assert_int_equal(ask_reply_send(-1, got.socket, NULL), 0);
        assert_int_equal(ask_query_wait(&q, mono_usec() + 5 * 1000000ULL, -1, NULL, NULL, &ret), -ECANCELED);
        assert_null(ret);

        close(fd);
        close(dir_fd);
        secret_free(list);
        ask_request_clear(&got);
        ask_query_end(&q);
        ask_request_clear(&r);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_systemd_file), cmocka_unit_test(test_parse_dialect),
                cmocka_unit_test(test_parse_long_line),     cmocka_unit_test(test_parse_rejects),
                cmocka_unit_test(test_format_escapes),      cmocka_unit_test(test_format_limits),
                cmocka_unit_test(test_reply_parse),         cmocka_unit_test(test_socket_path),
                cmocka_unit_test(test_pid_alive),
                cmocka_unit_test(test_watch_drain),         cmocka_unit_test(test_query_round_trip),
        };

        return cmocka_run_group_tests_name("ask", tests, NULL, NULL);
}
