/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ask-client: ask for a password — credential, keyring cache, TTY, then agents. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ask.h"
#include "io.h"
#include "keyring.h"
#include "log.h"
#include "secret.h"
#include "timestamp.h"
#include "tty.h"
#include "version.h"

struct options {
        struct ask_request request;
        const char *keyname;
        const char *credential;
        uint64_t timeout;      /* µs, 0 = none */
        bool no_tty, multiple, no_output, no_newline, emoji, user;
};

static void usage(FILE *f) {
        fprintf(f,
                "usage: ask-client [-en] [--icon=NAME] [--id=ID] [--keyname=NAME] [--credential=NAME]\n"
                "                  [--timeout=SPAN] [--echo[=yes|no|masked]] [--emoji=yes|no|auto] [--no-tty]\n"
                "                  [--accept-cached] [--multiple] [--no-output] [--user|--system] [MESSAGE...]\n"
                "       ask-client --help | --version\n");
}

/* a then b with writev(), finishing with write_all() after a short write. */
static int write_two(int fd, const void *a, size_t na, const void *b, size_t nb) {
        struct iovec iov[2] = { { (void *) a, na }, { (void *) b, nb } };
        ssize_t n;

        do
                n = writev(fd, iov, 2);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t) n < na) {
                int k = write_all(fd, (const uint8_t *) a + n, na - (size_t) n);

                return k < 0 ? k : write_all(fd, b, nb);
        }
        return write_all(fd, (const uint8_t *) b + ((size_t) n - na), nb - ((size_t) n - na));
}

/* $CREDENTIALS_DIRECTORY/NAME as a password list; -ENOENT when there is none. */
static int from_credential(const char *name, struct secret **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char path[4096];
        int k;

        if (!dir || !name[0])
                return -ENOENT;
        if (dir[0] != '/')
                return log_fail(-EINVAL, "$CREDENTIALS_DIRECTORY is not an absolute path");
        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
                return -ENAMETOOLONG;
        k = read_file_capped(path, ASK_PASSWORD_MAX, &s);
        if (k == -ENOENT)
                return k;
        if (k < 0)
                return log_error_errno(k, "cannot read credential %s", path);
        if (s->size == 0)
                return -ENOENT; /* an empty credential is no password */
        if (s->data[s->size - 1] != '\0')
                s->data[s->size++] = '\0';
        *ret = TAKE_PTR(s);
        return 0;
}

/* Another querier cached a password meanwhile? 1 with it, 0 to wait on. */
static int recheck_keyring(void *userdata, struct secret **ret) {
        const struct options *o = userdata;
        int k = keyring_get(o->keyname, ret);

        return k == -ENOKEY ? 0 : k < 0 ? log_error_errno(k, "cannot read key %s", o->keyname) : 1;
}

/* Agents: publish an ask file and wait; SIGINT/SIGTERM/SIGHUP clean up first. */
static int from_agents(struct options *o, struct secret **ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int sig = -1;
        struct ask_query q = { .fd = -1, .dir_watch = -1 };
        sigset_t mask, old;
        int k;

        k = ask_dir(o->user, &dir);
        if (k < 0)
                return k;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, &old);
        sig = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sig < 0)
                k = log_error_errno(-errno, "cannot watch signals");
        else
                k = ask_query_start(dir, &o->request, &q);
        if (k >= 0) {
                k = ask_query_wait(&q, o->request.not_after, sig,
                                   o->request.accept_cached && o->keyname ? recheck_keyring : NULL, o, ret);
                if (k < 0 && k != -ECANCELED && k != -ETIME && k != -EINTR)
                        log_error_errno(k, "failed to wait for an answer");
        }
        ask_query_end(&q);
        /* A caught signal is still pending: unblocking delivers it, and we die of it as systemd does. */
        sigprocmask(SIG_SETMASK, &old, NULL);
        return k;
}

static int query(struct options *o, struct secret **ret) {
        int k;

        k = from_credential(o->credential, ret);
        if (k != -ENOENT)
                return k;
        if (o->request.accept_cached && o->keyname) {
                k = keyring_get(o->keyname, ret);
                if (k != -ENOKEY)
                        return k < 0 ? log_error_errno(k, "cannot read key %s", o->keyname) : k;
        }
        if (!o->no_tty && isatty(STDIN_FILENO)) {
                _cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
                struct tty_prompt p = {
                        .message = o->request.message,
                        .echo = o->request.silent ? TTY_ECHO_SILENT : o->request.echo ? TTY_ECHO_ON : TTY_ECHO_MASKED,
                        .emoji = o->emoji,
                        .colors = isatty(STDOUT_FILENO) && !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0),
                        .deadline = o->request.not_after,
                        .abort_fd = -1,
                };

                k = tty_prompt(fd >= 0 ? fd : STDIN_FILENO, fd >= 0 ? fd : STDERR_FILENO, &p, ret);
                if (k < 0 && k != -ECANCELED && k != -ETIME && k != -EPIPE && k != -EINTR)
                        return log_error_errno(k, "cannot read the password");
                if (k >= 0)
                        k = secret_reserve(*ret, (*ret)->size + 1) < 0 ? log_oom() : 0;
                if (k >= 0)
                        (*ret)->data[(*ret)->size++] = '\0';
        } else
                k = from_agents(o, ret);
        if (k >= 0 && o->keyname && keyring_put(o->keyname, *ret) > 0) {
                _cleanup_free_ char *dir = NULL;

                /* Wake queriers waiting with --accept-cached: they re-check on IN_ATTRIB. */
                if (ask_dir(o->user, &dir) >= 0)
                        (void) keyring_notify(dir);
        }
        return k;
}

/* Prints the first password, or all with --multiple, one per line. */
static int print_list(const struct options *o, const struct secret *list) {
        for (size_t i = 0; i < list->size;) {
                size_t n = strlen((const char *) list->data + i);
                int k;

                /* The password and its newline in one write: no copy outside the secret buffer. */
                k = write_two(STDOUT_FILENO, list->data + i, n, "\n", o->no_newline ? 0 : 1);
                if (k < 0)
                        return log_error_errno(k, "cannot write the password");
                if (!o->multiple)
                        break;
                i += n + 1;
        }
        return 0;
}

static int join_message(char **argv, int argc, char **ret) {
        size_t len = 0;
        char *m;

        for (int i = 0; i < argc; i++)
                len += strlen(argv[i]) + (i > 0); /* joined by single spaces */
        if (len > ASK_MESSAGE_MAX)
                return log_fail(-E2BIG, "message longer than %u bytes", ASK_MESSAGE_MAX);
        m = calloc(1, len + 1);
        if (!m)
                return log_oom();
        for (int i = 0; i < argc; i++) {
                if (i > 0)
                        strcat(m, " ");
                strcat(m, argv[i]);
        }
        *ret = m;
        return 0;
}

static int parse_args(int argc, char *argv[], struct options *o) {
        enum {
                ARG_VERSION = 0x100, ARG_ICON, ARG_ID, ARG_KEYNAME, ARG_CREDENTIAL, ARG_TIMEOUT, ARG_ECHO,
                ARG_EMOJI, ARG_NO_TTY, ARG_ACCEPT_CACHED, ARG_MULTIPLE, ARG_NO_OUTPUT, ARG_USER, ARG_SYSTEM,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "icon", required_argument, NULL, ARG_ICON },
                { "id", required_argument, NULL, ARG_ID },
                { "keyname", required_argument, NULL, ARG_KEYNAME },
                { "credential", required_argument, NULL, ARG_CREDENTIAL },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "echo", optional_argument, NULL, ARG_ECHO },
                { "emoji", required_argument, NULL, ARG_EMOJI },
                { "no-tty", no_argument, NULL, ARG_NO_TTY },
                { "accept-cached", no_argument, NULL, ARG_ACCEPT_CACHED },
                { "multiple", no_argument, NULL, ARG_MULTIPLE },
                { "no-output", no_argument, NULL, ARG_NO_OUTPUT },
                { "user", no_argument, NULL, ARG_USER },
                { "system", no_argument, NULL, ARG_SYSTEM },
                {}
        };
        const char *emoji = "auto";
        int c;

        while ((c = getopt_long(argc, argv, "hen", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 1;
                case ARG_VERSION:
                        printf("ask-client (latchkey) %s\n", LATCHKEY_VERSION);
                        return 1;
                case ARG_ICON:
                        o->request.icon = optarg;
                        break;
                case ARG_ID:
                        o->request.id = optarg;
                        break;
                case ARG_KEYNAME:
                        o->keyname = optarg;
                        break;
                case ARG_CREDENTIAL:
                        o->credential = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (timespan_parse(optarg, &o->timeout) < 0)
                                return log_fail(-EINVAL, "invalid --timeout=%s", optarg);
                        break;
                case 'e':
                        o->request.echo = true;
                        o->request.silent = false;
                        break;
                case ARG_ECHO:
                        if (!optarg || strcmp(optarg, "yes") == 0)
                                o->request.echo = true, o->request.silent = false;
                        else if (strcmp(optarg, "no") == 0)
                                o->request.echo = false, o->request.silent = true;
                        else if (!optarg[0] || strcmp(optarg, "masked") == 0)
                                o->request.echo = o->request.silent = false;
                        else
                                return log_fail(-EINVAL, "invalid --echo=%s (yes, no or masked)", optarg);
                        break;
                case ARG_EMOJI:
                        if (strcmp(optarg, "yes") != 0 && strcmp(optarg, "no") != 0 && strcmp(optarg, "auto") != 0)
                                return log_fail(-EINVAL, "invalid --emoji=%s (yes, no or auto)", optarg);
                        emoji = optarg;
                        break;
                case ARG_NO_TTY:
                        o->no_tty = true;
                        break;
                case ARG_ACCEPT_CACHED:
                        o->request.accept_cached = true;
                        break;
                case ARG_MULTIPLE:
                        o->multiple = true;
                        break;
                case ARG_NO_OUTPUT:
                        o->no_output = true;
                        break;
                case 'n':
                        o->no_newline = true;
                        break;
                case ARG_USER:
                        o->user = true;
                        break;
                case ARG_SYSTEM:
                        o->user = false;
                        break;
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        o->emoji = strcmp(emoji, "yes") == 0 || (strcmp(emoji, "auto") == 0 && !o->request.echo);
        return 0;
}

int main(int argc, char *argv[]) {
        struct options o = { .credential = "password", .timeout = 90 * USEC_PER_SEC, .user = geteuid() != 0 };
        _cleanup_secret_ struct secret *list = NULL;
        _cleanup_free_ char *message = NULL;
        int k;

        log_setup("ask-client");
        k = parse_args(argc, argv, &o);
        if (k != 0)
                return k > 0 ? 0 : 2;
        if (optind < argc) {
                if (join_message(argv + optind, argc - optind, &message) < 0)
                        return 2;
        } else if (o.request.echo)
                message = strdup("Input:");
        o.request.message = message;
        o.request.not_after = o.timeout > 0 ? mono_usec() + o.timeout : 0;
        secret_no_dump();

        k = query(&o, &list);
        free(o.request.socket); /* set by the agent query */
        if (k == -EPIPE)
                log_error("no password: end of input");
        else if (k == -ECANCELED || k == -ETIME || k == -EINTR)
                log_error_errno(k, "failed to query password");
        if (k < 0)
                return 1;
        return o.no_output || print_list(&o, list) >= 0 ? 0 : 1;
}
