/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pam_latchkey: log in to a home managed by home-activate, as pam_systemd_home
 * does for systemd-homed. The module runs home-activate (fork + execve, a clean
 * environment) with the password on a pipe to its standard input and maps the
 * exit codes to PAM codes. A session reference is a shared flock on
 * /run/latchkey/home/USER.lock, held in PAM data for the life of the session;
 * "home-activate deactivate" refuses while anyone holds one. */
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "home-exit.h"
#include "home.h"
#include "macro.h"
#include "userrecord.h"

#ifndef HOME_ACTIVATE_PATH
#define HOME_ACTIVATE_PATH "/usr/local/bin/home-activate"
#endif

#define _public_ __attribute__((visibility("default")))

#define MAX_ATTEMPTS 5
#define FAIL_DELAY_USEC 3000000U /* homework pads a bad password to 3 s; libpam applies it on failure */
#define HELPER_OUTPUT_MAX 65536  /* per stream */

struct options {
        const char *helper;
        bool debug;
        bool suspend;
        bool collect_authtok; /* chauthtok: get the new password for the modules after us, for others too */
};

/* PAM data "latchkey-home-fd-USER": the session reference. */
struct home_ref {
        int fd;
        /* Deactivate when the handle ends without close_session: this handle
         * activated the home, or opened a session that was not closed. */
        bool release;
        bool session;
        char *helper;
        char *user;
};

static bool parse_boolean(const char *v, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return true;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return true;
                }
        return false;
}

/* $SYSTEMD_HOME_SUSPEND (PAM environment, then the process environment), then the
 * module options, which win. -EINVAL for an unusable home_activate=. */
static int parse_options(pam_handle_t *pamh, int argc, const char **argv, bool read_env, struct options *o) {
        *o = (struct options) { .helper = HOME_ACTIVATE_PATH };

        if (read_env) {
                const char *e = pam_getenv(pamh, "SYSTEMD_HOME_SUSPEND");
                if (!e)
                        e = secure_getenv("SYSTEMD_HOME_SUSPEND");
                if (e && !parse_boolean(e, &o->suspend))
                        pam_syslog(pamh, LOG_WARNING, "Failed to parse $SYSTEMD_HOME_SUSPEND=%s, ignoring.", e);
        }
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];

                if (strncmp(a, "suspend=", 8) == 0) {
                        if (!parse_boolean(a + 8, &o->suspend))
                                pam_syslog(pamh, LOG_WARNING, "Failed to parse suspend= argument, ignoring: %s", a + 8);
                } else if (strcmp(a, "debug") == 0)
                        o->debug = true;
                else if (strncmp(a, "debug=", 6) == 0) {
                        if (!parse_boolean(a + 6, &o->debug))
                                pam_syslog(pamh, LOG_WARNING, "Failed to parse debug= argument, ignoring: %s", a + 6);
                } else if (strcmp(a, "collect_authtok") == 0)
                        o->collect_authtok = true;
                else if (strncmp(a, "home_activate=", 14) == 0) {
                        if (a[14] != '/') {
                                pam_syslog(pamh, LOG_ERR, "home_activate= wants an absolute path, not \"%s\".", a + 14);
                                return -EINVAL;
                        }
                        o->helper = a + 14;
                } else
                        pam_syslog(pamh, LOG_WARNING, "Unknown parameter '%s', ignoring.", a);
        }
        return 0;
}

/* PAM_SUCCESS with *ret_user for a user with a latchkey home, PAM_USER_UNKNOWN
 * for anyone else, or the error of pam_get_user. */
static int get_home_user(pam_handle_t *pamh, const struct options *o, const char **ret_user) {
        _cleanup_free_ char *path = NULL;
        const char *user = NULL;
        struct stat st;
        int r;

        r = pam_get_user(pamh, &user, NULL);
        if (r != PAM_SUCCESS) {
                pam_syslog(pamh, LOG_ERR, "Failed to get user name: %s", pam_strerror(pamh, r));
                return r;
        }
        if (!user || !*user)
                return PAM_SERVICE_ERR;
        if (!user_name_is_valid(user))
                return PAM_USER_UNKNOWN;
        if (asprintf(&path, HOME_STATE_DIR "/%s.identity", user) < 0) {
                path = NULL;
                return PAM_BUF_ERR;
        }
        if (stat(path, &st) < 0) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        if (o->debug)
                                pam_syslog(pamh, LOG_DEBUG, "%s has no latchkey home.", user);
                        return PAM_USER_UNKNOWN;
                }
                pam_syslog(pamh, LOG_ERR, "Cannot check %s: %m", path);
                return PAM_SERVICE_ERR;
        }
        *ret_user = user;
        return PAM_SUCCESS;
}

/* --- running home-activate ------------------------------------------------------ */

struct helper_output {
        char *out; /* standard output, NUL-terminated, or NULL */
        int status; /* exit status; -1 if killed by a signal */
};

static void helper_output_done(struct helper_output *h) {
        free(h->out);
        h->out = NULL;
}

static void log_helper_stderr(pam_handle_t *pamh, char *buf, int priority) {
        char *save = NULL;

        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                pam_syslog(pamh, priority, "%s", line);
}

/* Runs "HELPER ARGS..." with the NULL-terminated secrets as lines on its stdin
 * (written into the pipe before the fork: at most 2 × 1025 bytes, well below
 * the smallest pipe buffer). Standard output is captured, standard error goes to
 * pam_syslog. Returns 0 and fills *ret, or -errno. */
static int run_helper(pam_handle_t *pamh, const struct options *o, const char *const *args,
                      const char *const *secrets, struct helper_output *ret) {
        static char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                      "LC_ALL=C", NULL };
        _cleanup_close_ int in_r = -1, in_w = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
        _cleanup_free_ char *out = NULL, *err = NULL;
        struct sigaction sa_dfl = { .sa_handler = SIG_DFL }, old_chld;
        struct iovec iov[2 * 2];
        size_t n_iov = 0, out_len = 0, err_len = 0, total = 0;
        int fds[2], status, r = 0;
        pid_t pid;

        for (size_t i = 0; secrets && secrets[i]; i++) {
                size_t n = strlen(secrets[i]);
                if (i >= 2 || n > HOME_PASSWORD_MAX || memchr(secrets[i], '\n', n))
                        return -EINVAL;
                iov[n_iov++] = (struct iovec) { .iov_base = (void *) secrets[i], .iov_len = n };
                iov[n_iov++] = (struct iovec) { .iov_base = (void *) "\n", .iov_len = 1 };
                total += n + 1;
        }

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        in_r = fds[0], in_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        out_r = fds[0], out_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        err_r = fds[0], err_w = fds[1];

        if (n_iov > 0) {
                ssize_t n;
                do
                        n = writev(in_w, iov, (int) n_iov);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return -errno;
                if ((size_t) n != total)
                        return -EIO;
        }
        in_w = (close(in_w), -1); /* EOF after the last line */

        /* An application's SIGCHLD handler must not reap our child (as pam_unix does). */
        sigaction(SIGCHLD, &sa_dfl, &old_chld);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                sigaction(SIGCHLD, &old_chld, NULL);
                return r;
        }
        if (pid == 0) {
                sigset_t all;
                const char *argv[8] = { o->helper };

                for (size_t i = 0; args[i] && i + 2 < ELEMENTSOF(argv); i++)
                        argv[i + 1] = args[i];

                if (dup2(in_r, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 || dup2(err_w, STDERR_FILENO) < 0)
                        _exit(127);
                close_range(3, ~0U, 0);
                if (chdir("/") < 0)
                        _exit(127);
                for (int sig = 1; sig < _NSIG; sig++)
                        (void) sigaction(sig, &sa_dfl, NULL);
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                execve(o->helper, (char *const *) argv, envp);
                /* Only async-signal-safe calls here: the application may have threads. */
                (void) !write(STDERR_FILENO, "cannot execute home-activate\n", 29);
                _exit(127);
        }
        in_r = (close(in_r), -1);
        out_w = (close(out_w), -1);
        err_w = (close(err_w), -1);

        out = malloc(HELPER_OUTPUT_MAX + 1);
        err = malloc(HELPER_OUTPUT_MAX + 1);
        if (!out || !err)
                r = -ENOMEM;
        /* Read both streams to EOF (output beyond the cap is drained and dropped). */
        while (r == 0 && (out_r >= 0 || err_r >= 0)) {
                struct pollfd p[2] = { { .fd = out_r, .events = POLLIN }, { .fd = err_r, .events = POLLIN } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        int *fd = i == 0 ? &out_r : &err_r;
                        char *buf = i == 0 ? out : err, drain[512];
                        size_t *len = i == 0 ? &out_len : &err_len;
                        ssize_t n;

                        if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        if (*len < HELPER_OUTPUT_MAX)
                                n = read(*fd, buf + *len, HELPER_OUTPUT_MAX - *len);
                        else
                                n = read(*fd, drain, sizeof drain);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                close(*fd);
                                *fd = -1;
                        } else if (*len < HELPER_OUTPUT_MAX)
                                *len += (size_t) n;
                }
        }
        /* After an error, a child still writing gets EPIPE instead of blocking us both. */
        out_r = (out_r >= 0 ? close(out_r) : 0, -1);
        err_r = (err_r >= 0 ? close(err_r) : 0, -1);
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        status = -1;
                        if (r == 0)
                                r = -errno;
                        break;
                }
        }
        sigaction(SIGCHLD, &old_chld, NULL);
        if (r < 0)
                return r;

        *ret = (struct helper_output) { .status = WIFEXITED(status) ? WEXITSTATUS(status) : -1 };
        err[err_len] = 0;
        log_helper_stderr(pamh, err, ret->status == 0 ? LOG_INFO : LOG_NOTICE);
        if (o->debug)
                pam_syslog(pamh, LOG_DEBUG, "%s %s: exit status %d", o->helper, args[0], ret->status);
        out[out_len] = 0;
        ret->out = TAKE_PTR(out);
        return 0;
}

/* Runs the helper; PAM_SUCCESS and the exit status, or PAM_SYSTEM_ERR (logged). */
#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })
static int helper(pam_handle_t *pamh, const struct options *o, const char *const *args,
                  const char *const *secrets, int *ret_status, char **ret_out) {
        const char *verb = args[0];
        struct helper_output h = {};
        int r = run_helper(pamh, o, args, secrets, &h);

        if (r < 0) {
                pam_syslog(pamh, LOG_ERR, "Failed to run %s %s: %s", o->helper, verb, strerror(-r));
                return PAM_SYSTEM_ERR;
        }
        if (h.status < 0) {
                pam_syslog(pamh, LOG_ERR, "%s %s was killed by a signal", o->helper, verb);
                helper_output_done(&h);
                return PAM_SYSTEM_ERR;
        }
        *ret_status = h.status;
        if (ret_out)
                *ret_out = TAKE_PTR(h.out);
        helper_output_done(&h);
        return PAM_SUCCESS;
}

/* --- session references ---------------------------------------------------------- */

static char *ref_key(const char *user) {
        char *k;
        return asprintf(&k, "latchkey-home-fd-%s", user) < 0 ? NULL : k;
}

static void home_ref_free(struct home_ref *ref) {
        if (!ref)
                return;
        if (ref->fd >= 0)
                close(ref->fd);
        free(ref->helper);
        free(ref->user);
        free(ref);
}

/* Cleanup of the PAM data: closes the reference. When the handle ends (not a
 * replacement, not a forked child's pam_end with PAM_DATA_SILENT) and this
 * handle activated the home or left a session open, asks for deactivation,
 * which home-activate refuses while anyone else holds a reference. */
static void home_ref_cleanup(pam_handle_t *pamh, void *data, int error_status) {
        struct home_ref *ref = data;
        bool release = ref->release && !(error_status & (PAM_DATA_REPLACE | PAM_DATA_SILENT));
        struct options o = { .helper = ref->helper };
        int status;

        close(ref->fd);
        ref->fd = -1;
        if (release && helper(pamh, &o, ARGS("deactivate", ref->user), NULL, &status, NULL) == PAM_SUCCESS) {
                if (status == HOME_EXIT_BUSY)
                        pam_syslog(pamh, LOG_NOTICE, "Not deactivating home directory of %s, as it is still used.", ref->user);
                else if (status != HOME_EXIT_OK)
                        pam_syslog(pamh, LOG_ERR, "Failed to release the home of %s: home-activate exit status %d",
                                   ref->user, status);
        }
        home_ref_free(ref);
}

static struct home_ref *get_ref(pam_handle_t *pamh, const char *user) {
        _cleanup_free_ char *key = ref_key(user);
        const void *p = NULL;

        if (!key || pam_get_data(pamh, key, &p) != PAM_SUCCESS)
                return NULL;
        return (struct home_ref *) p;
}

/* Opens USER.lock and takes a shared lock: the session reference. */
static int ref_open(pam_handle_t *pamh, const struct options *o, const char *user, struct home_ref **ret) {
        _cleanup_free_ char *path = NULL;
        struct home_ref *ref;
        int fd;

        if (mkdir("/run/latchkey", 0755) < 0 && errno != EEXIST)
                goto fail_dir;
        if (mkdir(HOME_RUN_DIR, 0755) < 0 && errno != EEXIST)
                goto fail_dir;
        if (asprintf(&path, HOME_RUN_DIR "/%s.lock", user) < 0) {
                path = NULL;
                return PAM_BUF_ERR;
        }
        fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                pam_syslog(pamh, LOG_ERR, "Cannot open %s: %m", path);
                return PAM_SYSTEM_ERR;
        }
        while (flock(fd, LOCK_SH) < 0) {
                if (errno == EINTR)
                        continue;
                pam_syslog(pamh, LOG_ERR, "Cannot take a reference on the home of %s: %m", user);
                close(fd);
                return PAM_SYSTEM_ERR;
        }
        ref = calloc(1, sizeof *ref);
        if (!ref || !(ref->helper = strdup(o->helper)) || !(ref->user = strdup(user))) {
                if (ref)
                        ref->fd = -1;
                home_ref_free(ref);
                close(fd);
                return PAM_BUF_ERR;
        }
        ref->fd = fd;
        *ret = ref;
        return PAM_SUCCESS;
fail_dir:
        pam_syslog(pamh, LOG_ERR, "Cannot create %s: %m", HOME_RUN_DIR);
        return PAM_SYSTEM_ERR;
}

static int ref_store(pam_handle_t *pamh, struct home_ref *ref) {
        _cleanup_free_ char *key = ref_key(ref->user);
        int r;

        if (!key) {
                home_ref_free(ref);
                return PAM_BUF_ERR;
        }
        r = pam_set_data(pamh, key, ref, home_ref_cleanup);
        if (r != PAM_SUCCESS) {
                pam_syslog(pamh, LOG_ERR, "Failed to store the home reference: %s", pam_strerror(pamh, r));
                home_ref_free(ref);
        }
        return r;
}

/* Drops the reference without any release (the cleanup sees PAM_DATA_REPLACE). */
static int ref_drop(pam_handle_t *pamh, const char *user) {
        _cleanup_free_ char *key = ref_key(user);
        return key ? pam_set_data(pamh, key, NULL, NULL) : PAM_BUF_ERR;
}

/* --- passwords -------------------------------------------------------------------- */

static void wipe_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}
static void wipe_freep(char **s) { wipe_free(*s); }
#define _cleanup_wipe_ _cleanup_(wipe_freep)

/* Prompts without echo. PAM_SUCCESS with a non-empty answer; PAM_AUTHTOK_ERR for
 * an empty one, PAM_CONV_ERR when the conversation fails. */
static int prompt_password(pam_handle_t *pamh, const char *prompt, char **ret) {
        char *resp = NULL;
        int r = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", prompt);

        if (r != PAM_SUCCESS || !resp) {
                wipe_free(resp);
                return PAM_CONV_ERR;
        }
        if (!*resp) {
                free(resp);
                pam_syslog(pamh, LOG_DEBUG, "Password request aborted.");
                return PAM_AUTHTOK_ERR;
        }
        *ret = resp;
        return PAM_SUCCESS;
}

/* What a bad password does, as pam_systemd_home: the message and the re-prompt,
 * or, after MAX_ATTEMPTS, PAM_MAXTRIES. *attempts counts the failures. */
static int bad_password(pam_handle_t *pamh, const char *user, unsigned *attempts, char **password) {
        wipe_free(*password);
        *password = NULL;
        if (++*attempts >= MAX_ATTEMPTS) {
                (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL, "Too many unsuccessful login attempts for user %s, refusing.", user);
                pam_syslog(pamh, LOG_ERR, "Failed to acquire home for user %s: %u bad passwords", user, *attempts);
                return PAM_MAXTRIES;
        }
        (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL, "Password incorrect or not sufficient for authentication of user %s.", user);
        return prompt_password(pamh, "Sorry, try again: ", password);
}

/* The exit status of activate/authenticate/unlock/passwd, other than success and
 * a bad password, as a PAM code with pam_systemd_home's messages. */
static int helper_failure(pam_handle_t *pamh, const struct options *o, const char *user, const char *verb, int status) {
        switch (status) {
        case HOME_EXIT_NO_HOME: /* the identity exists (checked first): the storage is missing */
                (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL,
                                  "Home of user %s is currently absent, please plug in the necessary storage device or backing file system.",
                                  user);
                return PAM_PERM_DENIED;
        case HOME_EXIT_BLOCKED:
                (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL, "User record is blocked, prohibiting access.");
                return PAM_ACCT_EXPIRED;
        case HOME_EXIT_BAD_RECORD:
                (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL, "User record not valid, prohibiting access.");
                return PAM_ACCT_EXPIRED;
        default:
                pam_syslog(pamh, LOG_ERR, "Failed to acquire home for user %s: %s %s exited with status %d",
                           user, o->helper, verb, status);
                return PAM_SERVICE_ERR;
        }
}

/* The password loop: password (from PAM_AUTHTOK, else prompted) → VERB; a bad
 * one re-prompts. *ret_status gets the final exit status (0, or 6 for activate on
 * an active home), *ret_prompted whether the password came from the conversation. */
static int authenticate_loop(pam_handle_t *pamh, const struct options *o, const char *user, const char *verb,
                             bool use_cached, int *ret_status, bool *ret_prompted) {
        _cleanup_wipe_ char *password = NULL;
        const char *cached = NULL;
        bool prompted = false;
        unsigned attempts = 0;
        int r, status;

        if (use_cached) {
                r = pam_get_item(pamh, PAM_AUTHTOK, (const void **) &cached);
                if (r != PAM_SUCCESS && r != PAM_BAD_ITEM) {
                        pam_syslog(pamh, LOG_ERR, "Failed to get cached password: %s", pam_strerror(pamh, r));
                        return r;
                }
        }
        if (cached && *cached) {
                password = strdup(cached);
                if (!password)
                        return PAM_BUF_ERR;
        } else {
                r = prompt_password(pamh, "Password: ", &password);
                if (r != PAM_SUCCESS)
                        return r;
                prompted = true;
        }
        for (;;) {
                const char *secrets[] = { password, NULL };
                bool usable = strlen(password) <= HOME_PASSWORD_MAX && !strchr(password, '\n');

                if (usable) {
                        r = helper(pamh, o, ARGS(verb, user), secrets, &status, NULL);
                        if (r != PAM_SUCCESS)
                                return r;
                } else
                        status = HOME_EXIT_BAD_PASSWORD; /* cannot be passed as a line, so it cannot be the password */
                if (status == HOME_EXIT_OK || (status == HOME_EXIT_ALREADY_ACTIVE && strcmp(verb, "activate") == 0))
                        break;
                if (status != HOME_EXIT_BAD_PASSWORD)
                        return helper_failure(pamh, o, user, verb, status);
                r = bad_password(pamh, user, &attempts, &password);
                if (r != PAM_SUCCESS)
                        return r;
                prompted = true;
        }
        if (prompted) {
                /* Later modules may use the password that worked (libpam copies it). */
                r = pam_set_item(pamh, PAM_AUTHTOK, password);
                if (r != PAM_SUCCESS)
                        pam_syslog(pamh, LOG_WARNING, "Failed to set PAM_AUTHTOK: %s", pam_strerror(pamh, r));
        }
        *ret_status = status;
        if (ret_prompted)
                *ret_prompted = prompted;
        return PAM_SUCCESS;
}

/* --- auth ------------------------------------------------------------------------- */

_public_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct options o;
        struct home_ref *ref = NULL, *have;
        const char *user = NULL;
        int r, status;

        if (parse_options(pamh, argc, argv, true, &o) < 0)
                return PAM_SERVICE_ERR;
        if (o.debug)
                pam_syslog(pamh, LOG_DEBUG, "pam_latchkey authenticating");
        r = get_home_user(pamh, &o, &user);
        if (r != PAM_SUCCESS)
                return r;
        (void) pam_fail_delay(pamh, FAIL_DELAY_USEC);

        /* The reference first, so that a concurrent deactivate cannot undo the activation. */
        have = get_ref(pamh, user);
        if (!have) {
                r = ref_open(pamh, &o, user, &ref);
                if (r != PAM_SUCCESS)
                        return r;
        }
        r = authenticate_loop(pamh, &o, user, "activate", true, &status, NULL);
        if (r != PAM_SUCCESS) {
                home_ref_free(ref);
                return r;
        }
        if (ref) {
                ref->release = status == HOME_EXIT_OK; /* activated by us: released at pam_end unless a session takes over */
                r = ref_store(pamh, ref);
                if (r != PAM_SUCCESS)
                        return r;
        } else if (status == HOME_EXIT_OK)
                have->release = true;
        pam_syslog(pamh, LOG_NOTICE, "Home for user %s successfully acquired.", user);
        return PAM_SUCCESS;
}

_public_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return PAM_SUCCESS;
}

/* --- account ---------------------------------------------------------------------- */

_public_ int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_free_ char *out = NULL;
        struct options o;
        const char *user = NULL;
        int r, status;

        if (parse_options(pamh, argc, argv, true, &o) < 0)
                return PAM_SERVICE_ERR;
        if (o.debug)
                pam_syslog(pamh, LOG_DEBUG, "pam_latchkey account management");
        r = get_home_user(pamh, &o, &user);
        if (r != PAM_SUCCESS)
                return r;
        r = helper(pamh, &o, ARGS("account", user), NULL, &status, &out);
        if (r != PAM_SUCCESS)
                return r;
        out[strcspn(out, "\n")] = 0; /* one line: the user-facing message */
        if (*out && status != HOME_EXIT_BAD_RECORD && status != HOME_EXIT_NO_HOME)
                (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL, "%s", out);
        switch (status) {
        case HOME_EXIT_OK:
                return PAM_SUCCESS;
        case HOME_EXIT_BLOCKED:
                return PAM_ACCT_EXPIRED;
        case HOME_EXIT_PASSWORD_CHANGE:
                return PAM_NEW_AUTHTOK_REQD;
        case HOME_EXIT_PASSWORD_EXPIRED:
                return PAM_AUTHTOK_EXPIRED;
        case HOME_EXIT_NO_HOME:
                return PAM_USER_UNKNOWN; /* removed since the check */
        case HOME_EXIT_BAD_RECORD:
                (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL, "User record not valid, prohibiting access.");
                return PAM_ACCT_EXPIRED;
        default:
                pam_syslog(pamh, LOG_ERR, "Account check of %s failed: %s account exited with status %d",
                           user, o.helper, status);
                return PAM_SERVICE_ERR;
        }
}

/* --- session ---------------------------------------------------------------------- */

/* The state of the home from "home-activate inspect --json": "active", "inactive",
 * "locked" or "absent". PAM_USER_UNKNOWN if the home is gone. */
static int home_state(pam_handle_t *pamh, const struct options *o, const char *user, char **ret) {
        _cleanup_free_ char *out = NULL;
        json_object *root, *status, *state;
        int r, exit_status;

        r = helper(pamh, o, ARGS("inspect", "--json", user), NULL, &exit_status, &out);
        if (r != PAM_SUCCESS)
                return r;
        if (exit_status == HOME_EXIT_NO_HOME)
                return PAM_USER_UNKNOWN;
        if (exit_status != HOME_EXIT_OK)
                return helper_failure(pamh, o, user, "inspect", exit_status);
        root = json_tokener_parse(out);
        if (root && json_object_object_get_ex(root, "status", &status) &&
            json_object_object_get_ex(status, "state", &state) && json_object_is_type(state, json_type_string))
                *ret = strdup(json_object_get_string(state));
        else {
                pam_syslog(pamh, LOG_ERR, "%s inspect --json %s: no status.state in its output", o->helper, user);
                json_object_put(root);
                return PAM_SERVICE_ERR;
        }
        json_object_put(root);
        return *ret ? PAM_SUCCESS : PAM_BUF_ERR;
}

/* Without a reference from auth: take one; an inactive (or locked) home needs the
 * password, prompted as in auth; where no conversation is possible (sshd's session
 * hook, service PAM), pam_systemd_home's "log in locally first" messages. */
static int session_acquire(pam_handle_t *pamh, const struct options *o, const char *user) {
        _cleanup_free_ char *state = NULL;
        struct home_ref *ref = NULL;
        const char *verb = NULL;
        int r, status;

        r = ref_open(pamh, o, user, &ref);
        if (r != PAM_SUCCESS)
                return r;
        r = home_state(pamh, o, user, &state);
        if (r == PAM_SUCCESS) {
                if (strcmp(state, "inactive") == 0)
                        verb = "activate";
                else if (strcmp(state, "locked") == 0)
                        verb = "unlock";
                else if (strcmp(state, "absent") == 0)
                        r = helper_failure(pamh, o, user, "inspect", HOME_EXIT_NO_HOME);
                else if (strcmp(state, "active") != 0) {
                        pam_syslog(pamh, LOG_ERR, "The home of %s is in an unknown state \"%s\".", user, state);
                        r = PAM_SERVICE_ERR;
                }
        }
        if (r == PAM_SUCCESS && verb) {
                r = authenticate_loop(pamh, o, user, verb, true, &status, NULL);
                if (r == PAM_CONV_ERR) {
                        (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL,
                                          strcmp(verb, "activate") == 0 ?
                                          "Home of user %s is currently not active, please log in locally first." :
                                          "Home of user %s is currently locked, please unlock locally first.", user);
                        pam_syslog(pamh, LOG_DEBUG, "Failed to prompt for password/prompt.");
                        r = PAM_PERM_DENIED;
                }
        }
        if (r != PAM_SUCCESS) {
                home_ref_free(ref);
                return r;
        }
        ref->session = ref->release = true;
        r = ref_store(pamh, ref);
        if (r == PAM_SUCCESS)
                pam_syslog(pamh, LOG_NOTICE, "Home for user %s successfully acquired.", user);
        return r;
}

_public_ int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        struct options o;
        struct home_ref *ref;
        const char *user = NULL;
        int r;

        if (parse_options(pamh, argc, argv, true, &o) < 0)
                return PAM_SESSION_ERR;
        if (o.debug)
                pam_syslog(pamh, LOG_DEBUG, "pam_latchkey session start");
        r = get_home_user(pamh, &o, &user);
        if (r == PAM_USER_UNKNOWN) /* not ours: nothing to say */
                return PAM_SUCCESS;
        if (r != PAM_SUCCESS)
                return r;

        ref = get_ref(pamh, user);
        if (ref)
                ref->session = ref->release = true; /* the reference auth took */
        else {
                r = session_acquire(pamh, &o, user);
                if (r == PAM_USER_UNKNOWN)
                        return PAM_SUCCESS;
                if (r != PAM_SUCCESS)
                        return r;
        }

        r = pam_putenv(pamh, "SYSTEMD_HOME=1");
        if (r != PAM_SUCCESS) {
                pam_syslog(pamh, LOG_ERR, "Failed to set PAM environment variable $SYSTEMD_HOME: %s", pam_strerror(pamh, r));
                return r;
        }
        r = pam_putenv(pamh, o.suspend ? "SYSTEMD_HOME_SUSPEND=1" : "SYSTEMD_HOME_SUSPEND=0");
        if (r != PAM_SUCCESS) {
                pam_syslog(pamh, LOG_ERR, "Failed to set PAM environment variable $SYSTEMD_HOME_SUSPEND: %s",
                           pam_strerror(pamh, r));
                return r;
        }
        return PAM_SUCCESS;
}

_public_ int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_free_ char *user = NULL;
        struct options o;
        const char *u = NULL;
        int r, status;

        if (parse_options(pamh, argc, argv, false, &o) < 0)
                return PAM_SESSION_ERR;
        if (o.debug)
                pam_syslog(pamh, LOG_DEBUG, "pam_latchkey session end");
        r = pam_get_user(pamh, &u, NULL);
        if (r != PAM_SUCCESS) {
                pam_syslog(pamh, LOG_ERR, "Failed to get user name: %s", pam_strerror(pamh, r));
                return r;
        }
        if (!u || !user_name_is_valid(u) || !get_ref(pamh, u)) /* we never took a reference */
                return PAM_SUCCESS;
        user = strdup(u);
        if (!user)
                return PAM_BUF_ERR;

        /* Drop our reference first, so that deactivate can see whether others hold one. */
        r = ref_drop(pamh, user);
        if (r != PAM_SUCCESS) {
                pam_syslog(pamh, LOG_ERR, "Failed to release PAM home reference fd: %s", pam_strerror(pamh, r));
                return r;
        }
        r = helper(pamh, &o, ARGS("deactivate", user), NULL, &status, NULL);
        if (r != PAM_SUCCESS)
                return PAM_SESSION_ERR;
        if (status == HOME_EXIT_BUSY)
                pam_syslog(pamh, LOG_NOTICE, "Not deactivating home directory of %s, as it is still used.", user);
        else if (status != HOME_EXIT_OK) {
                pam_syslog(pamh, LOG_ERR, "Failed to release user home of %s: %s deactivate exited with status %d",
                           user, o.helper, status);
                return PAM_SESSION_ERR;
        }
        return PAM_SUCCESS;
}

/* --- password --------------------------------------------------------------------- */

/* The new password: PAM_AUTHTOK if set, else "New password: " and "Retype new
 * password: " (a mismatch is libpam's PAM_TRY_AGAIN); empty: PAM_AUTHTOK_ERR. */
static int get_new_password(pam_handle_t *pamh, const char **ret) {
        const char *new = NULL;
        int r;

        r = pam_get_item(pamh, PAM_AUTHTOK, (const void **) &new);
        if (r != PAM_SUCCESS && r != PAM_BAD_ITEM) {
                pam_syslog(pamh, LOG_ERR, "Failed to get cached password: %s", pam_strerror(pamh, r));
                return r;
        }
        if (!new || !*new) {
                r = pam_get_authtok_noverify(pamh, &new, NULL);
                if (r != PAM_SUCCESS) {
                        pam_syslog(pamh, LOG_ERR, "Failed to get new password: %s", pam_strerror(pamh, r));
                        return r;
                }
                if (new && *new) {
                        r = pam_get_authtok_verify(pamh, &new, NULL);
                        if (r != PAM_SUCCESS) {
                                pam_syslog(pamh, LOG_ERR, "Failed to get password again: %s", pam_strerror(pamh, r));
                                return r;
                        }
                }
        }
        if (!new || !*new) {
                pam_syslog(pamh, LOG_DEBUG, "Password request aborted.");
                return PAM_AUTHTOK_ERR;
        }
        *ret = new;
        return PAM_SUCCESS;
}

_public_ int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        _cleanup_wipe_ char *old = NULL;
        const char *cached_old = NULL, *new = NULL, *user = NULL;
        unsigned attempts = 0;
        struct options o;
        int r, status;

        if (parse_options(pamh, argc, argv, false, &o) < 0)
                return PAM_SERVICE_ERR;
        if (o.debug)
                pam_syslog(pamh, LOG_DEBUG, "pam_latchkey chauthtok%s", flags & PAM_PRELIM_CHECK ? " (preliminary check)" : "");
        r = get_home_user(pamh, &o, &user);
        if (r == PAM_USER_UNKNOWN && o.collect_authtok && !(flags & PAM_PRELIM_CHECK)) {
                /* Not ours, but the modules after us expect the new password
                 * (pam-auth-update gives pam_unix "use_authtok" behind us). */
                r = get_new_password(pamh, &new);
                return r == PAM_SUCCESS ? PAM_USER_UNKNOWN : r;
        }
        if (r != PAM_SUCCESS)
                return r;

        r = pam_get_item(pamh, PAM_OLDAUTHTOK, (const void **) &cached_old);
        if (r != PAM_SUCCESS && r != PAM_BAD_ITEM) {
                pam_syslog(pamh, LOG_ERR, "Failed to get old password: %s", pam_strerror(pamh, r));
                return r;
        }
        r = get_new_password(pamh, &new);
        if (r != PAM_SUCCESS)
                return r;
        if (strlen(new) > HOME_PASSWORD_MAX || strchr(new, '\n')) {
                (void) pam_prompt(pamh, PAM_ERROR_MSG, NULL, "The new password is longer than %d bytes or contains a newline.",
                                  HOME_PASSWORD_MAX);
                return PAM_AUTHTOK_ERR;
        }
        if (flags & PAM_PRELIM_CHECK)
                return PAM_SUCCESS;

        if (cached_old && *cached_old) {
                old = strdup(cached_old);
                if (!old)
                        return PAM_BUF_ERR;
        } else {
                r = prompt_password(pamh, "Password: ", &old);
                if (r != PAM_SUCCESS)
                        return r;
        }
        for (;;) {
                const char *secrets[] = { old, new, NULL };

                if (strlen(old) <= HOME_PASSWORD_MAX && !strchr(old, '\n')) {
                        r = helper(pamh, &o, ARGS("passwd", user), secrets, &status, NULL);
                        if (r != PAM_SUCCESS)
                                return r;
                } else
                        status = HOME_EXIT_BAD_PASSWORD;
                if (status == HOME_EXIT_OK)
                        break;
                if (status != HOME_EXIT_BAD_PASSWORD)
                        return helper_failure(pamh, &o, user, "passwd", status);
                r = bad_password(pamh, user, &attempts, &old);
                if (r != PAM_SUCCESS)
                        return r;
        }
        pam_syslog(pamh, LOG_NOTICE, "Successfully changed password of user %s.", user);
        return PAM_SUCCESS;
}
