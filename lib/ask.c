/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ask.h"
#include "io.h"
#include "log.h"

void ask_request_clear(struct ask_request *r) {
        free(r->socket);
        free(r->message);
        free(r->icon);
        free(r->id);
        *r = (struct ask_request) {};
}

uint64_t mono_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

int ask_dir(bool user, char **ret) {
        const char *runtime;
        char *d;

        if (!user)
                d = strdup(ASK_SYSTEM_DIR);
        else {
                runtime = getenv("XDG_RUNTIME_DIR");
                if (!runtime || runtime[0] != '/')
                        return log_fail(-ENXIO, "$XDG_RUNTIME_DIR is not set to an absolute path, no per-user ask-password directory");
                if (asprintf(&d, "%s/systemd/ask-password", runtime) < 0)
                        d = NULL;
        }
        if (!d)
                return log_oom();
        *ret = d;
        return 0;
}

bool ask_socket_path_valid(const char *path) {
        size_t n = strlen(path);

        if (path[0] != '/' || n > ASK_SOCKET_PATH_MAX)
                return false;
        for (const char *c = path; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f || *c == '"' || *c == '\'' || *c == '\\')
                        return false;
        return true;
}

static bool parse_bool(const char *v, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(v, yes[i]) == 0)
                        return *ret = true, true;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(v, no[i]) == 0)
                        return *ret = false, true;
        return false;
}

static bool parse_u64(const char *v, uint64_t *ret) {
        char *end;

        if (!isdigit((unsigned char) v[0]))
                return false;
        errno = 0;
        *ret = strtoull(v, &end, 10);
        return errno == 0 && *end == '\0';
}

static int set_string(char **field, const char *v) {
        char *copy = strdup(v);

        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

/* One "key=value" of [Ask]; r->socket is set at most once. */
static int parse_assignment(struct ask_request *r, char *line) {
        char *eq = strchr(line, '='), *key = line, *value;
        uint64_t u;
        size_t n;

        if (!eq)
                return -EBADMSG;
        *eq = '\0';
        value = eq + 1;
        for (n = strlen(key); n > 0 && isspace((unsigned char) key[n - 1]); n--)
                key[n - 1] = '\0';
        while (isspace((unsigned char) *value))
                value++;
        if (strcmp(key, "Socket") == 0) {
                /* A second Socket= can only come from an injected line: refuse the file. */
                if (r->socket || !ask_socket_path_valid(value))
                        return -EBADMSG;
                return set_string(&r->socket, value);
        }
        if (strcmp(key, "PID") == 0)
                r->pid = parse_u64(value, &u) && u > 0 && u <= INT_MAX ? (pid_t) u : 0;
        else if (strcmp(key, "NotAfter") == 0)
                r->not_after = parse_u64(value, &u) ? u : 0;
        else if (strcmp(key, "AcceptCached") == 0)
                (void) parse_bool(value, &r->accept_cached);
        else if (strcmp(key, "Echo") == 0)
                (void) parse_bool(value, &r->echo);
        else if (strcmp(key, "Silent") == 0)
                (void) parse_bool(value, &r->silent);
        else if (strcmp(key, "Message") == 0)
                return set_string(&r->message, value);
        else if (strcmp(key, "Icon") == 0)
                return set_string(&r->icon, value);
        else if (strcmp(key, "Id") == 0)
                return set_string(&r->id, value);
        return 0;
}

/* systemd's ini dialect: '#'/';' comment lines, [Section], trimmed key=value,
 * a trailing backslash joins the next line with a space. */
int ask_file_parse(const char *data, size_t size, struct ask_request *ret) {
        _cleanup_free_ char *buf = NULL;
        struct ask_request r = {};
        bool in_ask = false;
        char *p, *line;
        int k = 0;

        if (size > ASK_FILE_MAX || memchr(data, 0, size))
                return -EBADMSG;
        buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, data, size);
        buf[size] = '\0';
        /* Continuations first: a line ending in an odd number of backslashes (the last
         * one unescaped) joins the next, the backslash and newline becoming spaces. */
        for (p = buf; (p = strchr(p, '\n')); p++) {
                size_t n = 0;

                while (p - n > buf && p[-1 - (ptrdiff_t) n] == '\\')
                        n++;
                if (n % 2 == 1)
                        p[-1] = p[0] = ' ';
        }
        for (p = buf; k >= 0 && (line = strsep(&p, "\n"));) {
                size_t n;

                while (isspace((unsigned char) *line))
                        line++;
                for (n = strlen(line); n > 0 && isspace((unsigned char) line[n - 1]); n--)
                        line[n - 1] = '\0';
                if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
                        continue;
                if (line[0] == '[') {
                        in_ask = strcmp(line, "[Ask]") == 0;
                        continue;
                }
                if (in_ask)
                        k = parse_assignment(&r, line);
        }
        if (k >= 0 && !r.socket)
                k = -EBADMSG;
        if (k < 0) {
                ask_request_clear(&r);
                return k;
        }
        *ret = r;
        return 0;
}

/* Bytes that could end the line or be read as markup become C escapes. */
static void put_escaped(FILE *f, const char *s, bool backslash) {
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '\\' && backslash)
                        fputs("\\\\", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
}

int ask_printable(const char *s, char **ret) {
        size_t len = 0;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        put_escaped(f, s, false); /* for the eye: only control bytes matter */
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static void put_escaped_key(FILE *f, const char *key, const char *value) {
        if (!value)
                return;
        fprintf(f, "%s=", key);
        put_escaped(f, value, true);
        fputc('\n', f);
}

int ask_file_format(const struct ask_request *r, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (!r->socket || !ask_socket_path_valid(r->socket))
                return -EINVAL;
        if ((r->message && strlen(r->message) > ASK_MESSAGE_MAX) || (r->icon && strlen(r->icon) > ASK_MESSAGE_MAX) ||
            (r->id && strlen(r->id) > ASK_MESSAGE_MAX))
                return -E2BIG;
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f, "[Ask]\nPID=%d\nSocket=%s\nAcceptCached=%d\nEcho=%d\nNotAfter=%llu\nSilent=%d\n", (int) r->pid,
                r->socket, r->accept_cached, r->echo, (unsigned long long) r->not_after, r->silent);
        put_escaped_key(f, "Message", r->message);
        put_escaped_key(f, "Icon", r->icon);
        put_escaped_key(f, "Id", r->id);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* All of fd, at most max bytes, into a plain heap buffer: ask files hold no secret. */
static int read_plain_capped(int fd, size_t hint, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, cap = (hint < max ? hint : max) + 1; /* one more to see EOF at once */

        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (size == cap) {
                        char *g;

                        if (size > max)
                                return -EBADMSG;
                        cap = max + 1; /* grew since fstat(): straight to the cap */
                        g = realloc(buf, cap);
                        if (!g)
                                return -ENOMEM;
                        buf = g;
                }
                n = read(fd, buf + size, cap - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size > max)
                return -EBADMSG;
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

int ask_file_read(int dir_fd, const char *dir, const char *name, uid_t owner, struct ask_request *ret) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = -1;
        struct ask_request r;
        struct stat st;
        size_t dir_len = strlen(dir), size = 0;
        int k;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > ASK_FILE_MAX)
                return -EBADMSG;
        if (owner != (uid_t) -1 && (st.st_uid != owner || (st.st_mode & 022)))
                return -EPERM;
        k = read_plain_capped(fd, (size_t) st.st_size, ASK_FILE_MAX, &data, &size);
        if (k < 0)
                return k;
        k = ask_file_parse(data, size, &r);
        if (k < 0)
                return k;
        /* In a per-user directory the reply socket must be a direct child of it. */
        if (owner != (uid_t) -1 &&
            (strncmp(r.socket, dir, dir_len) != 0 || r.socket[dir_len] != '/' || strchr(r.socket + dir_len + 1, '/'))) {
                ask_request_clear(&r);
                return -EPERM;
        }
        *ret = r;
        return 0;
}

static int by_ctime(const void *x, const void *y) {
        const struct ask_entry *p = x, *q = y;

        if (p->st.st_ctim.tv_sec != q->st.st_ctim.tv_sec)
                return p->st.st_ctim.tv_sec < q->st.st_ctim.tv_sec ? -1 : 1;
        if (p->st.st_ctim.tv_nsec != q->st.st_ctim.tv_nsec)
                return p->st.st_ctim.tv_nsec < q->st.st_ctim.tv_nsec ? -1 : 1;
        return strcmp(p->name, q->name);
}

int ask_dir_list(int dir_fd, struct ask_entry **ret, size_t *ret_n) {
        struct ask_entry *list = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        int fd = dup(dir_fd);
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        rewinddir(d);
        while ((de = readdir(d))) {
                struct stat st;

                if (strncmp(de->d_name, "ask.", 4) != 0 || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
                        continue;
                if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (n == cap) {
                        struct ask_entry *g = realloc(list, (cap = cap ? cap * 2 : 64) * sizeof(*g));

                        if (!g) {
                                free(list);
                                closedir(d);
                                return -ENOMEM;
                        }
                        list = g;
                }
                snprintf(list[n].name, sizeof(list[n].name), "%s", de->d_name);
                list[n++].st = st;
        }
        closedir(d);
        if (n > 0) /* qsort(NULL, 0) is undefined */
                qsort(list, n, sizeof(*list), by_ctime);
        *ret = list;
        *ret_n = n;
        return 0;
}

bool ask_seen_find(const struct ask_seen *list, size_t n, const struct stat *st) {
        for (size_t i = 0; i < n; i++)
                if (list[i].dev == st->st_dev && list[i].ino == st->st_ino && list[i].ctime.tv_sec == st->st_ctim.tv_sec &&
                    list[i].ctime.tv_nsec == st->st_ctim.tv_nsec)
                        return true;
        return false;
}

int ask_seen_add(struct ask_seen **list, size_t *n, const struct stat *st) {
        struct ask_seen *g = realloc(*list, (*n + 1) * sizeof(*g));

        if (!g)
                return -ENOMEM;
        *list = g;
        (*list)[(*n)++] = (struct ask_seen) { st->st_dev, st->st_ino, st->st_ctim };
        return 0;
}

int ask_watch_start(int *ret_signal_fd, int *ret_inotify_fd) {
        sigset_t mask;
        int sig, ino;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sig = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sig < 0)
                return log_error_errno(-errno, "cannot set up watching");
        ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ino < 0) {
                close(sig);
                return log_error_errno(-errno, "cannot set up watching");
        }
        *ret_signal_fd = sig;
        *ret_inotify_fd = ino;
        return 0;
}

int ask_watch_add(int inotify_fd, const char *dir) {
        (void) mkdir_parents(dir, 0755);
        if (inotify_add_watch(inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0)
                return log_error_errno(-errno, "cannot watch %s", dir);
        return 0;
}

bool ask_watch_drain(int inotify_fd) {
        union {
                struct inotify_event e;
                char raw[4096];
        } buf;
        bool any = false;
        ssize_t n;

        while ((n = read(inotify_fd, &buf, sizeof(buf))) > 0) {
                for (char *p = buf.raw; p < buf.raw + n;) {
                        const struct inotify_event *e = (const struct inotify_event *) p;

                        /* Watchers' temporary files (".#ask.…") are no asks; anything else may be. */
                        if (e->len == 0 || strncmp(e->name, "ask.", 4) == 0)
                                any = true;
                        p += sizeof(*e) + e->len;
                }
                /* Room for one more event was left: the queue was empty, no read() for EAGAIN. */
                if ((size_t) n <= sizeof(buf) - sizeof(struct inotify_event) - NAME_MAX - 1)
                        break;
        }
        return any;
}

bool ask_pid_alive(pid_t pid) {
        char path[64], buf[512];
        const char *p;
        ssize_t n;
        int fd;

        if (pid <= 0)
                return true;
        /* Not a pidfd: valgrind 3.19 cannot trace pidfd_open and warns on every run. */
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return false;
        /* Zombies count as dead: state is the field after "(comm)". */
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno != ENOENT;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return true;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        return !(p && p[1] == ' ' && p[2] == 'Z');
}

/* What a reply datagram is: 0 for "+…" within ASK_PASSWORD_MAX, else -errno as ask_reply_parse(). */
static int reply_check(const uint8_t *buf, size_t size) {
        if (size >= 1 && buf[0] == '-')
                return -ECANCELED;
        if (size < 1 || buf[0] != '+')
                return -EBADMSG;
        return size - 1 > ASK_PASSWORD_MAX ? -EMSGSIZE : 0;
}

/* The list form in place: drops the '+' of data[0, size) and NUL-terminates the last password. */
static void reply_to_list(struct secret *s, size_t size) {
        size_t n = size - 1;

        memmove(s->data, s->data + 1, n);
        s->data[n] = '\0'; /* the byte moved down, or the terminator about to be added */
        s->size = n;
        /* Every password ends in NUL: "+" is one empty password, "+a\0" is "a". */
        if (n == 0 || s->data[n - 1] != '\0')
                s->size++;
}

int ask_reply_parse(const uint8_t *buf, size_t size, struct secret **ret) {
        _cleanup_secret_ struct secret *list = NULL;
        int r;

        r = reply_check(buf, size);
        if (r < 0)
                return r;
        r = secret_new(size + 1, &list);
        if (r < 0)
                return r;
        memcpy(list->data, buf, size);
        reply_to_list(list, size);
        *ret = TAKE_PTR(list);
        return 0;
}

static int sockaddr_for(const char *path, struct sockaddr_un *sa) {
        size_t n = strlen(path);

        if (n == 0 || n >= sizeof(sa->sun_path))
                return -EINVAL;
        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(sa->sun_path, path, n);
        return (int) (offsetof(struct sockaddr_un, sun_path) + n + 1);
}

int ask_reply_send(int fd, const char *socket_path, const struct secret *list) {
        _cleanup_close_ int own = -1;
        struct sockaddr_un sa;
        /* Two pieces, so the password is never copied outside its secret buffer. */
        struct iovec iov[2] = {
                { .iov_base = (void *) (list ? "+" : "-"), .iov_len = 1 },
                { .iov_base = list ? list->data : NULL, .iov_len = list ? list->size : 0 },
        };
        struct msghdr mh = { .msg_name = &sa, .msg_iov = iov, .msg_iovlen = list ? 2 : 1 };
        int len;

        if (!ask_socket_path_valid(socket_path))
                return -EINVAL;
        len = sockaddr_for(socket_path, &sa);
        if (len < 0)
                return len;
        if (list && list->size > ASK_PASSWORD_MAX)
                return -EMSGSIZE;
        mh.msg_namelen = (socklen_t) len;
        if (fd < 0) {
                own = fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
        }
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

int ask_query_start(const char *dir, struct ask_request *r, struct ask_query *q) {
        _cleanup_free_ char *text = NULL;
        struct sockaddr_un sa;
        struct stat st;
        uint64_t rnd[2];
        size_t text_len;
        mode_t old_umask;
        int len, k, one = 1;

        *q = (struct ask_query) { .fd = -1, .dir_watch = -1 };
        /* Almost always there already: one stat() instead of a mkdir() and stat() per component. */
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                k = mkdir_parents(dir, 0755);
                if (k < 0)
                        return log_error_errno(k, "cannot create %s", dir);
        }
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return log_error_errno(-errno, "cannot get random bytes");
        if (asprintf(&q->socket_path, "%s/sck.%llx", dir, (unsigned long long) rnd[0]) < 0 ||
            asprintf(&q->ask_path, "%s/ask.%llu", dir, (unsigned long long) rnd[1]) < 0) {
                q->socket_path = q->ask_path = NULL;
                return log_oom();
        }
        len = sockaddr_for(q->socket_path, &sa);
        if (len < 0 || !ask_socket_path_valid(q->socket_path))
                return log_fail(-EINVAL, "unusable socket path (too long, or quotes, backslashes, control bytes): %s",
                                q->socket_path);
        q->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (q->fd < 0)
                return log_error_errno(-errno, "cannot create the reply socket");
        old_umask = umask(0177); /* socket mode 0600: only root and we may answer */
        k = bind(q->fd, (struct sockaddr *) &sa, (socklen_t) len) < 0 ? -errno : 0;
        umask(old_umask);
        if (k < 0)
                return log_error_errno(k, "cannot bind %s", q->socket_path);
        if (setsockopt(q->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return log_error_errno(-errno, "cannot enable SO_PASSCRED");

        free(r->socket);
        r->socket = strdup(q->socket_path);
        if (!r->socket)
                return log_oom();
        r->pid = getpid();
        k = ask_file_format(r, &text, &text_len);
        if (k == -E2BIG)
                return log_fail(k, "message, icon or id longer than %u bytes", ASK_MESSAGE_MAX);
        if (k < 0)
                return log_error_errno(k, "cannot format the ask file");
        k = write_file_atomic(q->ask_path, text, text_len, 0644, WRITE_NOREPLACE | WRITE_EPHEMERAL);
        if (k < 0) {
                free(q->ask_path);
                q->ask_path = NULL; /* not ours to remove */
                return log_error_errno(k, "cannot write the ask file in %s", dir);
        }
        return 0;
}

/* Receives one datagram into *bufp, which on success becomes the list in *ret:
 * -EAGAIN when there is none, -EBADMSG when it must be ignored. */
static int receive_reply(int fd, struct secret **bufp, struct secret **ret) {
        struct secret *buf = *bufp;
        union {
                struct cmsghdr h;
                uint8_t raw[CMSG_SPACE(sizeof(struct ucred))];
        } control = {};
        struct iovec iov = { .iov_base = buf->data, .iov_len = buf->capacity };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        struct ucred *cred = NULL;
        ssize_t n;
        int r;

        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (struct ucred *) CMSG_DATA(c);
        /* Oversized or truncated replies, and replies from anyone but root or us, are ignored. */
        if ((size_t) n > buf->capacity || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !cred ||
            (cred->uid != 0 && cred->uid != getuid())) {
                explicit_bzero(buf->data, buf->capacity);
                log_debug("ignoring a reply (size %zd, uid %d)", n, cred ? (int) cred->uid : -1);
                return -EBADMSG;
        }
        r = reply_check(buf->data, (size_t) n);
        if (r < 0) {
                explicit_bzero(buf->data, (size_t) n);
                return r == -EMSGSIZE ? -EBADMSG : r;
        }
        /* The list is made where it was received: no second locked buffer. */
        reply_to_list(buf, (size_t) n);
        *ret = TAKE_PTR(*bufp);
        return 0;
}

int ask_query_wait(struct ask_query *q, uint64_t not_after, int signal_fd, ask_recheck_t recheck, void *userdata,
                   struct secret **ret) {
        _cleanup_secret_ struct secret *buf = NULL;
        int r;

        r = secret_new(ASK_PASSWORD_MAX + 1, &buf);
        if (r < 0)
                return r;
        buf->capacity = ASK_PASSWORD_MAX + 1;
        /* Only queriers that accept cached answers watch the directory: inotify
         * instances are few per user (128 by default), queriers can be many. */
        if (recheck && q->dir_watch < 0) {
                _cleanup_free_ char *dir = strdup(q->ask_path);
                char *slash = dir ? strrchr(dir, '/') : NULL;

                if (!slash)
                        return -ENOMEM;
                *slash = '\0';
                q->dir_watch = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (q->dir_watch < 0 || inotify_add_watch(q->dir_watch, dir, IN_ATTRIB | IN_ONLYDIR) < 0)
                        return log_error_errno(-errno, "cannot watch %s", dir);
        }
        for (;;) {
                struct pollfd p[3] = {
                        { .fd = q->fd, .events = POLLIN },
                        { .fd = signal_fd, .events = POLLIN },
                        { .fd = recheck ? q->dir_watch : -1, .events = POLLIN },
                };
                int timeout = -1;

                if (not_after > 0) {
                        uint64_t now = mono_usec();

                        if (now >= not_after)
                                return -ETIME;
                        timeout = (int) ((not_after - now + 999) / 1000 > INT_MAX ? INT_MAX : (not_after - now + 999) / 1000);
                }
                r = poll(p, 3, timeout); /* negative fds are skipped */
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                if (signal_fd >= 0 && (p[1].revents & POLLIN))
                        return -EINTR;
                if (p[2].revents & POLLIN) {
                        ask_watch_drain(q->dir_watch);
                        r = recheck(userdata, ret);
                        if (r != 0)
                                return r;
                }
                if (p[0].revents & ~POLLIN)
                        return -EIO;
                if (!(p[0].revents & POLLIN))
                        continue;
                r = receive_reply(q->fd, &buf, ret);
                if (r == -EAGAIN || r == -EBADMSG)
                        continue;
                return r;
        }
}

void ask_query_end(struct ask_query *q) {
        if (q->socket_path)
                (void) unlink(q->socket_path);
        if (q->ask_path)
                (void) unlink(q->ask_path);
        if (q->fd >= 0)
                close(q->fd);
        if (q->dir_watch >= 0)
                close(q->dir_watch);
        free(q->socket_path);
        free(q->ask_path);
        *q = (struct ask_query) { .fd = -1, .dir_watch = -1 };
}
