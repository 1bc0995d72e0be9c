/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ask-agent-tty: answer pending password asks on a TTY. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "ask.h"
#include "io.h"
#include "log.h"
#include "secret.h"
#include "tty.h"
#include "version.h"

/* FIFOs named after TTYs with an open prompt; the wall agent leaves those TTYs alone. */
#define ASK_BLOCK_DIR "/run/systemd/ask-password-block"

enum action { ACTION_LIST, ACTION_QUERY, ACTION_WATCH };

struct agent {
        enum action action;
        const char *console;   /* prompt on this device instead of the controlling TTY */
        int in_fd, out_fd;
        /* Asks already answered or skipped, by inode and change time: never prompted twice. */
        struct ask_seen *seen;
        size_t n_seen;
        /* One inotify instance for all prompts: closing one costs milliseconds in the
         * kernel (fsnotify group teardown), which dominated the time per ask. */
        int prompt_watch;
        /* Likewise one locked buffer for every password (wiped after each answer), and
         * one unbound socket for every reply: no mmap/mlock or socket() per ask. */
        struct secret *pw;
        int reply_fd;
        bool colors;
        bool raw_tried; /* tty_raw_hold() called in this pass */
};

static void usage(FILE *f) {
        fprintf(f, "usage: ask-agent-tty [--list | --query | --watch] [--console[=DEVICE]]\n"
                   "       ask-agent-tty --wall\n"
                   "       ask-agent-tty --help | --version\n");
}


/* Prompts for one ask and sends the answer; stops when the file goes away. */
static int answer(struct agent *a, int dir_fd, const char *name, const struct ask_request *r) {
        _cleanup_free_ char *shown = NULL;
        struct tty_prompt p = {
                .echo = r->silent ? TTY_ECHO_SILENT : r->echo ? TTY_ECHO_ON : TTY_ECHO_MASKED,
                .deadline = r->not_after,
        };
        char path[PATH_MAX];
        int k, wd;

        if (access(r->socket, W_OK) < 0) {
                log_info("not answering PID %d: no access to its socket", (int) r->pid);
                return 0;
        }
        /* Stop prompting the moment the ask file is removed, renamed or replaced. */
        if (a->prompt_watch < 0) {
                a->prompt_watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (a->prompt_watch < 0)
                        return log_error_errno(-errno, "cannot watch %s", name);
        }
        ask_watch_drain(a->prompt_watch); /* events of earlier prompts must not abort this one */
        snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir_fd, name);
        wd = inotify_add_watch(a->prompt_watch, path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
        if (wd < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot watch %s", name);
        p.abort_fd = a->prompt_watch;
        /* The message comes from another process: no terminal control bytes reach the TTY. */
        k = ask_printable(r->message ? r->message : "Password:", &shown);
        if (k < 0)
                return log_oom();
        p.message = shown;
        p.colors = a->colors;
        if (!a->pw && secret_new(TTY_PROMPT_BUFFER, &a->pw) < 0)
                return log_oom();
        if (a->reply_fd < 0) {
                a->reply_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (a->reply_fd < 0)
                        return log_error_errno(-errno, "cannot create a socket for replies");
        }
        /* The TTY stays raw from the first prompt to the end of the pass: no termios and
         * sigaction calls per ask. Not a TTY (0) or a failure: each prompt does its own. */
        if (!a->raw_tried) {
                (void) tty_raw_hold(a->in_fd);
                a->raw_tried = true;
        }
        k = tty_prompt_buf(a->in_fd, a->out_fd, &p, a->pw);
        (void) inotify_rm_watch(a->prompt_watch, wd); /* EINVAL if the file went: fine */
        if (k == -ETIME || k == -ENOENT || k == -ECANCELED || k == -EPIPE)
                return 0; /* expired, answered elsewhere, skipped, or no input: send nothing */
        if (k < 0)
                return log_error_errno(k, "cannot read the password");
        a->pw->size++; /* the list form: every password NUL-terminated, as tty_prompt_buf() left it */
        k = ask_reply_send(a->reply_fd, r->socket, a->pw);
        explicit_bzero(a->pw->data, a->pw->size);
        a->pw->size = 0;
        if (k < 0)
                log_warning_errno(k, "cannot send the answer to PID %d", (int) r->pid);
        return 0;
}

/* --watch only: the ask of a dead querier whose reply socket, an entry of the same
 * directory, refuses connections, is stale: remove the socket and the ask file
 * (spec §8 item 9). Anything else (a socket elsewhere, missing, or still bound, a
 * file replaced since it was listed) is left alone. */
static void remove_stale(int dir_fd, const char *dir, const struct ask_entry *p, const struct ask_request *r) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(dir), len = strlen(r->socket);
        const char *sock;
        struct stat st;

        if (strncmp(r->socket, dir, n) != 0 || r->socket[n] != '/')
                return;
        sock = r->socket + n + 1;
        if (!sock[0] || strchr(sock, '/') || strcmp(sock, p->name) == 0 || len >= sizeof(sa.sun_path))
                return;
        /* Only a socket: connect() refuses any other file with ECONNREFUSED too. */
        if (fstatat(dir_fd, sock, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode))
                return;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return;
        memcpy(sa.sun_path, r->socket, len);
        if (connect(fd, (struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1)) == 0 ||
            errno != ECONNREFUSED)
                return;
        /* Still the file we read, not a new ask under the same name. */
        if (fstatat(dir_fd, p->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != p->st.st_dev ||
            st.st_ino != p->st.st_ino)
                return;
        if (unlinkat(dir_fd, sock, 0) < 0 && errno != ENOENT)
                log_debug_errno(-errno, "cannot remove %s", r->socket);
        if (unlinkat(dir_fd, p->name, 0) < 0 && errno != ENOENT)
                log_debug_errno(-errno, "cannot remove %s/%s", dir, p->name);
        else
                log_debug("removed %s/%s of dead PID %d", dir, p->name, (int) r->pid);
}

/* One pass over a directory: list, or answer every live ask not seen before. */
static int process_dir(struct agent *a, const char *dir, bool per_user) {
        _cleanup_free_ struct ask_entry *list = NULL;
        _cleanup_close_ int dir_fd = -1;
        struct stat dst;
        size_t n = 0;
        int k;

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot open %s", dir);
        if (fstat(dir_fd, &dst) < 0)
                return log_error_errno(-errno, "cannot stat %s", dir);
        k = ask_dir_list(dir_fd, &list, &n);
        if (k < 0)
                return log_error_errno(k, "cannot read %s", dir);
        for (size_t i = 0; i < n; i++) {
                struct ask_request r = {};
                /* Only --watch passes again: one --query pass over distinct directories lists no
                 * ask twice, and searching what it answered would cost O(n²) over n pending asks. */
                bool done = a->action == ACTION_WATCH && ask_seen_find(a->seen, a->n_seen, &list[i].st);

                /* --watch reads answered asks again too: their querier may have died since. */
                if (done && a->action != ACTION_WATCH)
                        continue;
                /* Per-user asks must be the directory owner's; system asks trust /run's permissions. */
                k = ask_file_read(dir_fd, dir, list[i].name, per_user ? dst.st_uid : (uid_t) -1, &r);
                if (k == -ENOENT)
                        continue;
                if (k < 0) {
                        log_debug_errno(k, "ignoring %s/%s", dir, list[i].name);
                        continue;
                }
                if (!ask_pid_alive(r.pid)) {
                        if (a->action == ACTION_WATCH)
                                remove_stale(dir_fd, dir, &list[i], &r);
                } else if (!done && (r.not_after == 0 || mono_usec() <= r.not_after)) {
                        if (a->action == ACTION_LIST) {
                                _cleanup_free_ char *shown = NULL;

                                if (ask_printable(r.message ? r.message : "n/a", &shown) < 0)
                                        k = log_oom();
                                else
                                        printf("'%s' (PID %d)\n", shown, (int) r.pid);
                        }
                        else {
                                k = answer(a, dir_fd, list[i].name, &r);
                                if (k >= 0 && a->action == ACTION_WATCH)
                                        k = ask_seen_add(&a->seen, &a->n_seen, &list[i].st) < 0 ? log_oom() : 0;
                        }
                }
                ask_request_clear(&r);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* The controlling TTY's FIFO in ASK_BLOCK_DIR, held open for reading while we live
 * (spec §4.8): its fd, or -errno (-ENOTTY without a controlling TTY). */
static int tty_block(void) {
        _cleanup_close_ int fd = -1;
        char buf[2048], path[sizeof(ASK_BLOCK_DIR) + 32];
        unsigned long long tty_nr;
        struct stat st;
        const char *p;
        ssize_t n;
        dev_t dev;

        fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return n < 0 ? -errno : -EIO;
        buf[n] = '\0';
        close(TAKE_FD(fd));
        /* After "(comm) ": state ppid pgrp session tty_nr. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %llu", &tty_nr) != 1)
                return -EIO;
        if (tty_nr == 0)
                return -ENOTTY;
        dev = (dev_t) tty_nr; /* the kernel's 32-bit encoding, which major()/minor() decode */
        snprintf(path, sizeof(path), "%s/%u:%u", ASK_BLOCK_DIR, major(dev), minor(dev));
        (void) mkdir_parents("/run/systemd", 0755);
        if (mkdir(ASK_BLOCK_DIR, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (mkfifo(path, 0600) < 0 && errno != EEXIST)
                return -errno;
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -EEXIST;
        return TAKE_FD(fd);
}

static int process_all(struct agent *a, char *const *dirs, size_t n_dirs) {
        int k = 0;

        for (size_t i = 0; i < n_dirs && k >= 0; i++)
                k = process_dir(a, dirs[i], i > 0);
        /* Cooked again before we wait for new asks or exit. */
        if (a->raw_tried) {
                tty_raw_release();
                a->raw_tried = false;
        }
        return k;
}

/* --watch: rescan on every new or closed ask file until SIGTERM/SIGINT. */
static int watch_loop(struct agent *a, char *const *dirs, size_t n_dirs) {
        _cleanup_close_ int ino = -1, sig = -1;
        int k;

        k = ask_watch_start(&sig, &ino);
        for (size_t i = 0; i < n_dirs && k >= 0; i++)
                k = ask_watch_add(ino, dirs[i]);
        if (k < 0)
                return k;
        for (bool rescan = true;;) {
                struct pollfd p[2] = { { .fd = sig, .events = POLLIN }, { .fd = ino, .events = POLLIN } };

                k = rescan ? process_all(a, dirs, n_dirs) : 0;
                if (k < 0)
                        return k;
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        return log_error_errno(-errno, "poll failed");
                if (p[0].revents & POLLIN)
                        return 0;
                /* Closing a querier's temporary file is no ask yet: its rename is. */
                rescan = ask_watch_drain(ino);
        }
}

/* --wall is ask-agent-wall's job (systemd puts both in one binary): run it, from
 * beside this binary if it is there, else from $PATH. */
static int exec_wall(void) {
        char self[PATH_MAX], path[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        if (n > 0) {
                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        snprintf(path, sizeof(path), "%s/ask-agent-wall", self);
                        execl(path, "ask-agent-wall", (char *) NULL);
                }
        }
        execlp("ask-agent-wall", "ask-agent-wall", (char *) NULL);
        log_error_errno(-errno, "cannot execute ask-agent-wall");
        return 1;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_LIST, ARG_QUERY, ARG_WATCH, ARG_CONSOLE, ARG_WALL };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "list", no_argument, NULL, ARG_LIST },
                { "query", no_argument, NULL, ARG_QUERY },
                { "watch", no_argument, NULL, ARG_WATCH },
                { "console", optional_argument, NULL, ARG_CONSOLE },
                { "wall", no_argument, NULL, ARG_WALL },
                {}
        };
        struct agent a = {
                .action = ACTION_QUERY,
                .in_fd = STDIN_FILENO,
                .out_fd = STDOUT_FILENO,
                .prompt_watch = -1,
                .reply_fd = -1,
        };
        char *dirs[2] = {};
        size_t n_dirs = 0;
        bool wall = false;
        int c, k, tty_fd = -1, block_fd = -1;

        log_setup("ask-agent-tty");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("ask-agent-tty (latchkey) %s\n", LATCHKEY_VERSION);
                        return 0;
                case ARG_LIST:
                        a.action = ACTION_LIST;
                        break;
                case ARG_QUERY:
                        a.action = ACTION_QUERY;
                        break;
                case ARG_WATCH:
                        a.action = ACTION_WATCH;
                        break;
                case ARG_WALL:
                        wall = true;
                        break;
                case ARG_CONSOLE:
                        if (optarg && !optarg[0]) {
                                log_error("--console= needs a device");
                                return 2;
                        }
                        a.console = optarg ? optarg : "/dev/console";
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (wall) {
                if (a.console || a.action != ACTION_QUERY || optind < argc) {
                        log_error("--wall takes no other options or arguments");
                        return 2;
                }
                return exec_wall();
        }
        if (optind < argc) {
                log_error("takes no arguments");
                return 2;
        }
        if (a.console && a.action == ACTION_LIST) {
                log_error("--console goes with --query or --watch");
                return 2;
        }
        secret_no_dump();

        /* The system directory always; the per-user one when we have a runtime directory. */
        if (ask_dir(false, &dirs[n_dirs]) < 0)
                return 1;
        n_dirs++;
        if (getenv("XDG_RUNTIME_DIR") && ask_dir(true, &dirs[n_dirs]) == 0)
                n_dirs++;
        if (n_dirs == 2) {
                struct stat s0, s1;

                /* $XDG_RUNTIME_DIR=/run makes both one directory: pass over it once. */
                if (stat(dirs[0], &s0) == 0 && stat(dirs[1], &s1) == 0 && s0.st_dev == s1.st_dev &&
                    s0.st_ino == s1.st_ino)
                        free(dirs[--n_dirs]);
        }

        if (a.action != ACTION_LIST) {
                /* Our TTY is busy with prompts: tell the wall agent, for as long as we run. */
                if (!a.console) {
                        block_fd = tty_block();
                        if (block_fd < 0 && block_fd != -ENOTTY)
                                log_debug_errno(block_fd, "cannot create the FIFO in %s", ASK_BLOCK_DIR);
                }
                /* Prompt on the console or the controlling TTY; without one, read answers from stdin. */
                tty_fd = open(a.console ? a.console : "/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (tty_fd >= 0)
                        a.in_fd = a.out_fd = tty_fd;
                else if (a.console)
                        return log_error_errno(-errno, "cannot open %s", a.console), 1;
                else
                        a.out_fd = isatty(STDIN_FILENO) ? STDIN_FILENO : -1; /* a pipe: no prompt */
                a.colors = a.out_fd >= 0 && isatty(a.out_fd) && !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0);
        }
        k = a.action == ACTION_WATCH ? watch_loop(&a, dirs, n_dirs) : process_all(&a, dirs, n_dirs);
        if (tty_fd >= 0)
                close(tty_fd);
        if (block_fd >= 0)
                close(block_fd);
        free(a.seen);
        if (a.prompt_watch >= 0)
                close(a.prompt_watch);
        if (a.reply_fd >= 0)
                close(a.reply_fd);
        secret_free(a.pw);
        for (size_t i = 0; i < n_dirs; i++)
                free(dirs[i]);
        return k < 0 ? 1 : 0;
}
