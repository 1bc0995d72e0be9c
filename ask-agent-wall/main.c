/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ask-agent-wall: tell the logged-in terminals, once, about each pending password ask. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <utmpx.h>

#include "ask.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "version.h"

#define BLOCK_DIR "/run/systemd/ask-password-block"
#define STATE_NAME "latchkey/ask-agent-wall.seen"
#define STATE_MAX (1024U * 1024U)
#define WRITE_TIMEOUT_USEC (50U * 1000U)

/* One ask directory and what has been announced from it. */
struct dir_state {
        char *dir;
        char *state_path; /* shared record of announced asks; NULL: in memory only */
        bool per_user;
        struct ask_seen *seen;
        size_t n_seen;
};

struct wall {
        bool user;        /* --user: the per-user directory only, the user's own terminals only */
        const char *utmp; /* --utmp=PATH, or NULL for the default */
        char *user_name;
        struct dir_state dirs[2];
        size_t n_dirs;
        char **msgs;      /* the broadcasts of one pass */
        size_t n_msgs;
};

static void usage(FILE *f) {
        fprintf(f, "usage: ask-agent-wall [--once] [--user] [--utmp=PATH]\n"
                   "       ask-agent-wall --help | --version\n");
}

/* Opens and locks the state file; its directory must be ours and closed to others.
 * Any failure only means this agent keeps its record in memory. */
static int state_open(const char *path) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *dir = NULL;
        struct stat st;

        dir = strndup(path, (size_t) (strrchr(path, '/') - path));
        if (!dir)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (lstat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
                return -EPERM;
        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
                return -EPERM;
        /* Two agents (the service and a manual run) announce each ask once between them. */
        if (flock(fd, LOCK_EX) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* Adds the state file's lines "DEV INO CTIME_SEC CTIME_NSEC" to d->seen; bad lines are skipped. */
static int state_load(int fd, struct dir_state *d) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        char *p, *line;

        buf = malloc(STATE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        while (size < STATE_MAX) {
                ssize_t n = pread(fd, buf + size, STATE_MAX - size, (off_t) size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        buf[size] = '\0';
        for (p = buf; (line = strsep(&p, "\n"));) {
                unsigned long long dev, ino;
                long long sec;
                long nsec;
                struct stat st = {};

                if (sscanf(line, "%llu %llu %lld %ld", &dev, &ino, &sec, &nsec) != 4)
                        continue;
                st.st_dev = (dev_t) dev;
                st.st_ino = (ino_t) ino;
                st.st_ctim = (struct timespec) { .tv_sec = (time_t) sec, .tv_nsec = nsec };
                if (!ask_seen_find(d->seen, d->n_seen, &st) && ask_seen_add(&d->seen, &d->n_seen, &st) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int state_save(int fd, const struct dir_state *d) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *f;

        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_seen; i++)
                fprintf(f, "%llu %llu %lld %ld\n", (unsigned long long) d->seen[i].dev,
                        (unsigned long long) d->seen[i].ino, (long long) d->seen[i].ctime.tv_sec,
                        (long) d->seen[i].ctime.tv_nsec);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return write_all(fd, buf, len);
}

/* The broadcast for one ask, in the words of systemd's wall agent. */
static int format_message(const struct wall *w, const struct ask_request *r, char **ret) {
        _cleanup_free_ char *shown = NULL;
        char host[HOST_NAME_MAX + 1] = "localhost", stamp[128] = "";
        struct tm tm;
        time_t now = time(NULL);

        if (ask_printable(r->message ? r->message : "n/a", &shown) < 0)
                return -ENOMEM;
        if (gethostname(host, sizeof(host)) < 0)
                snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        if (localtime_r(&now, &tm))
                strftime(stamp, sizeof(stamp), "%a %Y-%m-%d %H:%M:%S %Z", &tm);
        if (asprintf(ret,
                     "\r\nBroadcast message from %s@%s (%s):\r\n\r\n"
                     "Password entry required for '%s' (PID %d).\r\n"
                     "Please enter password with ask-agent-tty --query.\r\n\r\n",
                     w->user_name, host, stamp, shown, (int) r->pid) < 0)
                return -ENOMEM;
        return 0;
}

static int add_message(struct wall *w, const struct ask_request *r) {
        char **g, *m;
        int k;

        k = format_message(w, r, &m);
        if (k < 0)
                return k;
        g = realloc(w->msgs, (w->n_msgs + 1) * sizeof(*g));
        if (!g) {
                free(m);
                return -ENOMEM;
        }
        w->msgs = g;
        w->msgs[w->n_msgs++] = m;
        return 0;
}

/* One directory: queue a broadcast for every live ask not announced before, and
 * forget the announced asks whose files are gone. */
static int process_dir(struct wall *w, struct dir_state *d) {
        _cleanup_free_ struct ask_entry *list = NULL;
        _cleanup_close_ int dir_fd = -1, state_fd = -1;
        struct ask_seen *kept = NULL;
        size_t n = 0, n_kept = 0;
        struct stat dst;
        int k = 0;

        if (d->state_path) {
                /* Locked before listing, so no agent forgets an ask that another one has just announced. */
                state_fd = state_open(d->state_path);
                if (state_fd < 0)
                        log_debug_errno(state_fd, "no shared record in %s, remembering in memory only", d->state_path);
                else if ((k = state_load(state_fd, d)) < 0)
                        return log_error_errno(k, "cannot read %s", d->state_path);
        }
        dir_fd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot open %s", d->dir);
        if (fstat(dir_fd, &dst) < 0)
                return log_error_errno(-errno, "cannot stat %s", d->dir);
        k = ask_dir_list(dir_fd, &list, &n);
        if (k < 0)
                return log_error_errno(k, "cannot read %s", d->dir);
        for (size_t i = 0; i < n && k >= 0; i++) {
                struct ask_request r = {};

                if (ask_seen_find(d->seen, d->n_seen, &list[i].st)) {
                        k = ask_seen_add(&kept, &n_kept, &list[i].st);
                        continue;
                }
                /* Per-user asks must be the directory owner's; system asks trust /run's permissions. */
                k = ask_file_read(dir_fd, d->dir, list[i].name, d->per_user ? dst.st_uid : (uid_t) -1, &r);
                if (k < 0) {
                        if (k != -ENOENT)
                                log_debug_errno(k, "ignoring %s/%s", d->dir, list[i].name);
                        k = 0;
                        continue;
                }
                if ((r.not_after == 0 || mono_usec() <= r.not_after) && ask_pid_alive(r.pid)) {
                        k = add_message(w, &r);
                        if (k >= 0)
                                k = ask_seen_add(&kept, &n_kept, &list[i].st);
                }
                ask_request_clear(&r);
        }
        if (k < 0) {
                free(kept);
                return log_oom();
        }
        free(d->seen);
        d->seen = kept;
        d->n_seen = n_kept;
        if (state_fd >= 0 && (k = state_save(state_fd, d)) < 0)
                log_warning_errno(k, "cannot update %s", d->state_path);
        return 0;
}

/* Writes all of s to a non-blocking fd, giving up at the deadline. */
static int write_bounded(int fd, const char *s, size_t n, uint64_t deadline) {
        while (n > 0) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                ssize_t k = write(fd, s, n);
                uint64_t now;

                if (k > 0) {
                        s += k;
                        n -= (size_t) k;
                        continue;
                }
                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                now = mono_usec();
                if (now >= deadline)
                        return -ETIME;
                if (poll(&p, 1, (int) ((deadline - now + 999) / 1000)) < 0 && errno != EINTR)
                        return -errno;
        }
        return 0;
}

/* A password prompt is open on the terminal: an agent holds its block FIFO for reading. */
static bool blocked(dev_t rdev) {
        char path[sizeof(BLOCK_DIR) + 32];
        int fd;

        snprintf(path, sizeof(path), BLOCK_DIR "/%u:%u", major(rdev), minor(rdev));
        fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return false; /* ENXIO: no reader; ENOENT: no FIFO */
        close(fd);
        return true;
}

/* "/dev/" + line, unless it already starts with it; never a ".." component. */
static char *terminal_path(const struct utmpx *u) {
        char line[sizeof(u->ut_line) + 1], *path;
        size_t n = strnlen(u->ut_line, sizeof(u->ut_line));

        memcpy(line, u->ut_line, n);
        line[n] = '\0';
        if (n == 0 || strcmp(line, "..") == 0 || strncmp(line, "../", 3) == 0 || strstr(line, "/../") ||
            (n >= 3 && strcmp(line + n - 3, "/..") == 0))
                return NULL;
        if (asprintf(&path, "%s%s", strncmp(line, "/dev/", 5) == 0 ? "" : "/dev/", line) < 0)
                return NULL;
        return path;
}

static void write_terminal(const struct wall *w, const char *path) {
        _cleanup_close_ int fd = -1;
        struct stat st, fst;
        int k;

        /* Only character devices are opened: no side effects of opening anything else. */
        if (lstat(path, &st) < 0 || !S_ISCHR(st.st_mode)) {
                log_debug("skipping %s: not a character device", path);
                return;
        }
        if (blocked(st.st_rdev)) {
                log_debug("skipping %s: a password prompt is open on it", path);
                return;
        }
        fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                log_debug_errno(-errno, "skipping %s", path);
                return;
        }
        if (fstat(fd, &fst) < 0 || !S_ISCHR(fst.st_mode) || fst.st_rdev != st.st_rdev || !isatty(fd)) {
                log_debug("skipping %s: not a terminal", path);
                return;
        }
        if (w->user && fst.st_uid != getuid()) {
                log_debug("skipping %s: not our terminal", path);
                return;
        }
        for (size_t i = 0; i < w->n_msgs; i++) {
                k = write_bounded(fd, w->msgs[i], strlen(w->msgs[i]), mono_usec() + WRITE_TIMEOUT_USEC);
                if (k < 0) {
                        log_debug_errno(k, "cannot write to %s", path);
                        return; /* a stuck terminal gets no more of our time */
                }
        }
}

/* Every USER_PROCESS entry of utmp with a user name, each terminal once. */
static void broadcast(const struct wall *w) {
        char **paths = NULL;
        size_t n = 0;
        struct utmpx *u;

        setutxent();
        while ((u = getutxent())) {
                char *p, **g;
                bool known = false;

                if (u->ut_type != USER_PROCESS || u->ut_user[0] == '\0')
                        continue;
                p = terminal_path(u);
                if (!p)
                        continue;
                for (size_t i = 0; i < n && !known; i++)
                        known = strcmp(paths[i], p) == 0;
                g = known ? NULL : realloc(paths, (n + 1) * sizeof(*g));
                if (!g) {
                        free(p);
                        continue;
                }
                paths = g;
                paths[n++] = p;
        }
        endutxent();
        for (size_t i = 0; i < n; i++) {
                write_terminal(w, paths[i]);
                free(paths[i]);
        }
        free(paths);
}

static int pass(struct wall *w) {
        int k = 0;

        for (size_t i = 0; i < w->n_dirs && k >= 0; i++)
                k = process_dir(w, &w->dirs[i]);
        if (k >= 0 && w->n_msgs > 0)
                broadcast(w);
        for (size_t i = 0; i < w->n_msgs; i++)
                free(w->msgs[i]);
        free(w->msgs);
        w->msgs = NULL;
        w->n_msgs = 0;
        return k;
}

/* Rescans on every new ask file until SIGTERM/SIGINT. */
static int watch_loop(struct wall *w) {
        _cleanup_close_ int ino = -1, sig = -1;
        int k;

        k = ask_watch_start(&sig, &ino);
        for (size_t i = 0; i < w->n_dirs && k >= 0; i++)
                k = ask_watch_add(ino, w->dirs[i].dir);
        if (k < 0)
                return k;
        for (bool rescan = true;;) {
                struct pollfd p[2] = { { .fd = sig, .events = POLLIN }, { .fd = ino, .events = POLLIN } };

                k = rescan ? pass(w) : 0;
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

/* The state file next to a directory's runtime root: /run or $XDG_RUNTIME_DIR. */
static int dir_state_init(struct dir_state *d, bool per_user) {
        const char *root = per_user ? getenv("XDG_RUNTIME_DIR") : "/run";
        int k;

        k = ask_dir(per_user, &d->dir);
        if (k < 0)
                return k;
        d->per_user = per_user;
        if (asprintf(&d->state_path, "%s/" STATE_NAME, root) < 0) {
                free(d->dir);
                d->dir = d->state_path = NULL;
                return log_oom();
        }
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_ONCE, ARG_USER, ARG_UTMP };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "once", no_argument, NULL, ARG_ONCE },
                { "user", no_argument, NULL, ARG_USER },
                { "utmp", required_argument, NULL, ARG_UTMP },
                {}
        };
        struct wall w = {};
        struct passwd *pw;
        bool once = false;
        int c, k = 0;

        log_setup("ask-agent-wall");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("ask-agent-wall (latchkey) %s\n", LATCHKEY_VERSION);
                        return 0;
                case ARG_ONCE:
                        once = true;
                        break;
                case ARG_USER:
                        w.user = true;
                        break;
                case ARG_UTMP:
                        if (!optarg[0]) {
                                log_error("--utmp= needs a file");
                                return 2;
                        }
                        w.utmp = optarg;
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                log_error("takes no arguments");
                return 2;
        }

        if (w.utmp) {
                _cleanup_close_ int fd = open(w.utmp, O_RDONLY | O_CLOEXEC | O_NOCTTY);

                if (fd < 0)
                        return log_error_errno(-errno, "cannot open %s", w.utmp), 1;
                if (utmpxname(w.utmp) < 0)
                        return log_oom(), 1;
        }
        pw = getpwuid(getuid());
        if (pw ? asprintf(&w.user_name, "%s", pw->pw_name) < 0 : asprintf(&w.user_name, "%u", (unsigned) getuid()) < 0)
                return log_oom(), 1;

        /* The system directory, unless --user; the per-user one when there is a runtime directory. */
        if (!w.user && (k = dir_state_init(&w.dirs[0], false)) >= 0)
                w.n_dirs++;
        if (k >= 0 && (w.user || getenv("XDG_RUNTIME_DIR"))) {
                k = dir_state_init(&w.dirs[w.n_dirs], true);
                if (k >= 0)
                        w.n_dirs++;
                else if (k == -ENXIO && !w.user)
                        k = 0; /* a relative $XDG_RUNTIME_DIR: the system directory only, as ask-agent-tty */
        }
        if (k >= 0)
                k = once ? pass(&w) : watch_loop(&w);
        for (size_t i = 0; i < w.n_dirs; i++) {
                free(w.dirs[i].dir);
                free(w.dirs[i].state_path);
                free(w.dirs[i].seen);
        }
        free(w.user_name);
        return k < 0 ? 1 : 0;
}
