/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* home-activate: create, unlock and mount, and lock away a user's home, with the
 * user record signed on the host and embedded in the home. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"
#include "home-exit.h"
#include "home.h"
#include "log.h"
#include "password.h"
#include "recordsign.h"
#include "secret.h"
#include "timestamp.h"
#include "tty.h"
#include "version.h"


#define UID_MIN_HOME 60001 /* homed's range for regular homes */
#define UID_MAX_HOME 60513

static struct {
        const char *storage, *real_name, *shell, *home_dir, *image_path, *kdf;
        const char *locked, *not_before, *not_after, *change_now;
        const char *change_min, *change_max, *change_warn, *change_inactive;
        uid_t uid;
        uint64_t disk_size;
        bool force, json;
} arg = { .uid = (uid_t) -1 };

static void usage(FILE *f) {
        fprintf(f,
                "usage: home-activate create [--storage=directory|fscrypt|luks] [--uid=UID] [--real-name=NAME]\n"
                "                            [--shell=PATH] [--home-dir=PATH] [--image-path=PATH]\n"
                "                            [--disk-size=BYTES[K|M|G|T]] (luks)\n"
                "                            [--kdf=t=N,m=KIB,p=N] [RECORD OPTIONS] USER\n"
                "       home-activate activate|authenticate|remove|lock|unlock USER\n"
                "       home-activate passwd [--kdf=t=N,m=KIB,p=N] USER\n"
                "       home-activate deactivate [--force] USER\n"
                "       home-activate inspect [--json] USER\n"
                "       home-activate account USER\n"
                "       home-activate list [--json]\n"
                "       home-activate lock-all\n"
                "       home-activate update [RECORD OPTIONS] USER\n"
                "       home-activate with USER -- COMMAND [ARG...]\n"
                "       home-activate --help | --version\n"
                "RECORD OPTIONS: --locked=yes|no --not-before=TIME --not-after=TIME\n"
                "                --password-change-now=yes|no --password-change-min=SPAN\n"
                "                --password-change-max=SPAN --password-change-warn=SPAN\n"
                "                --password-change-inactive=SPAN (SPAN \"infinity\" unsets)\n"
                "Passwords are read from stdin, one per line (passwd: current, then new).\n");
}

static int exit_code(int r) {
        switch (-r) {
        case 0: return 0;
        case ENOKEY: return HOME_EXIT_BAD_PASSWORD;
        case ENXIO: return HOME_EXIT_NO_HOME;
        case EBUSY: return HOME_EXIT_BUSY;
        case EALREADY: return HOME_EXIT_ALREADY_ACTIVE;
        case EPERM: return HOME_EXIT_BLOCKED;
        case ENOEXEC: return HOME_EXIT_NOT_ACTIVE;
        case EBADMSG: return HOME_EXIT_BAD_RECORD;
        case EEXIST: return HOME_EXIT_EXISTS;
        default: return HOME_EXIT_OTHER;
        }
}

/* One line from stdin (a pipe: read byte by byte, so the next line stays for the
 * next password), or a silent prompt when stdin is a terminal. */
static int read_password(const char *prompt, struct secret **ret) {
        _cleanup_secret_ struct secret *pw = NULL;
        int r;

        if (isatty(STDIN_FILENO)) {
                struct tty_prompt p = { .message = prompt, .echo = TTY_ECHO_SILENT, .abort_fd = -1 };
                r = tty_prompt(STDIN_FILENO, STDERR_FILENO, &p, &pw);
                if (r < 0)
                        return log_fail(r, "no password entered");
        } else {
                r = secret_new(HOME_PASSWORD_MAX + 1, &pw);
                if (r < 0)
                        return log_oom();
                for (;;) {
                        char c;
                        ssize_t n = read(STDIN_FILENO, &c, 1);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return log_error_errno(-errno, "cannot read the password from stdin");
                        if (n == 0) {
                                if (pw->size == 0)
                                        return log_fail(-EPIPE, "no password on stdin");
                                break;
                        }
                        if (c == '\n')
                                break;
                        if (pw->size == HOME_PASSWORD_MAX)
                                return log_fail(-E2BIG, "password longer than %d bytes", HOME_PASSWORD_MAX);
                        pw->data[pw->size++] = (uint8_t) c;
                }
                pw->data[pw->size] = 0;
        }
        if (pw->size == 0)
                return log_fail(-EINVAL, "empty password");
        if (strlen((char *) pw->data) != pw->size)
                return log_fail(-EINVAL, "password contains a NUL byte");
        *ret = TAKE_PTR(pw);
        return 0;
}

/* A new password: on a terminal typed twice. */
static int read_new_password(struct secret **ret) {
        _cleanup_secret_ struct secret *pw = NULL, *again = NULL;
        int r;

        r = read_password("New password:", &pw);
        if (r < 0 || !isatty(STDIN_FILENO)) {
                if (r >= 0)
                        *ret = TAKE_PTR(pw);
                return r;
        }
        r = read_password("Retype new password:", &again);
        if (r < 0)
                return r;
        if (strcmp((char *) pw->data, (char *) again->data) != 0)
                return log_fail(-EINVAL, "passwords do not match");
        *ret = TAKE_PTR(pw);
        return 0;
}

/* BYTES[K|M|G|T], powers of 1024. */
static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;
        unsigned shift = 0;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *s == '-')
                return -EINVAL;
        if (*end) {
                const char *units = "KMGT", *u = strchr(units, *end);
                if (!u || end[1])
                        return -EINVAL;
                shift = 10 * (unsigned) (u - units + 1);
        }
        if (v == 0 || v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = (uint64_t) v << shift;
        return 0;
}

static int check_blocked(const struct home *h) {
        enum user_record_blocked b = user_record_check_blocked(h->record, now_usec());
        if (b != USER_RECORD_OK)
                return log_fail(-EPERM, "%s: %s", h->record->user_name, user_record_blocked_message(b));
        return 0;
}

static int check_password(const struct home *h, const char *password) {
        int r = password_test(user_record_hashed_passwords(h->record), password);
        if (r == -ENOKEY)
                return log_fail(-ENOKEY, "wrong password for %s", h->record->user_name);
        if (r == -EKEYREVOKED)
                return log_fail(-EBADMSG, "the record of %s has no password, cannot authenticate", h->record->user_name);
        if (r < 0)
                return log_error_errno(r, "cannot check the password");
        return 0;
}

static int load_state(struct home *h, const char *user, enum home_state *ret) {
        int r = home_load(h, user);
        if (r >= 0)
                r = home_op_lock(h);
        if (r >= 0)
                r = home_get_state(h, ret);
        return r;
}

static int parse_bool_arg(const char *name, const char *value, bool *ret) {
        if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
                *ret = true;
        else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
                *ret = false;
        else
                return log_fail(-EINVAL, "--%s= wants yes or no, not \"%s\"", name, value);
        return 0;
}

/* Sets a record field from an option; a value the record refuses is a usage error. */
static int set_field(struct user_record *ur, const char *key, const char *option, json_object *value) {
        int r;

        if (!value)
                return log_oom();
        r = user_record_set(ur, key, value);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_fail(-EINVAL, "--%s=: not a valid value for %s", option, key);
        return 0;
}

static int set_time_field(struct user_record *ur, const char *key, const char *option, const char *value) {
        uint64_t t;

        if (timestamp_parse(value, now_usec(), &t) < 0)
                return log_fail(-EINVAL, "--%s=: cannot parse \"%s\" as a time", option, value);
        if (t == USEC_INFINITY) {
                json_object_object_del(ur->json, key);
                return user_record_load_fields(ur) < 0 ? log_oom() : 0;
        }
        return set_field(ur, key, option, json_object_new_uint64(t));
}

static int set_span_field(struct user_record *ur, const char *key, const char *option, const char *value) {
        uint64_t t;

        if (!strcmp(value, "infinity")) {
                json_object_object_del(ur->json, key);
                return user_record_load_fields(ur) < 0 ? log_oom() : 0;
        }
        if (timespan_parse(value, &t) < 0)
                return log_fail(-EINVAL, "--%s=: cannot parse \"%s\" as a time span", option, value);
        return set_field(ur, key, option, json_object_new_uint64(t));
}

/* The record options shared by create and update. */
static int apply_record_options(struct user_record *ur) {
        bool b;
        int r;

        if (arg.real_name && (r = set_field(ur, "realName", "real-name", json_object_new_string(arg.real_name))) < 0)
                return r;
        if (arg.shell && (r = set_field(ur, "shell", "shell", json_object_new_string(arg.shell))) < 0)
                return r;
        if (arg.locked) {
                if ((r = parse_bool_arg("locked", arg.locked, &b)) < 0)
                        return r;
                if ((r = set_field(ur, "locked", "locked", json_object_new_boolean(b))) < 0)
                        return r;
        }
        if (arg.change_now) {
                if ((r = parse_bool_arg("password-change-now", arg.change_now, &b)) < 0)
                        return r;
                if ((r = set_field(ur, "passwordChangeNow", "password-change-now", json_object_new_boolean(b))) < 0)
                        return r;
        }
        if (arg.not_before && (r = set_time_field(ur, "notBeforeUSec", "not-before", arg.not_before)) < 0)
                return r;
        if (arg.not_after && (r = set_time_field(ur, "notAfterUSec", "not-after", arg.not_after)) < 0)
                return r;
        if (arg.change_min && (r = set_span_field(ur, "passwordChangeMinUSec", "password-change-min", arg.change_min)) < 0)
                return r;
        if (arg.change_max && (r = set_span_field(ur, "passwordChangeMaxUSec", "password-change-max", arg.change_max)) < 0)
                return r;
        if (arg.change_warn && (r = set_span_field(ur, "passwordChangeWarnUSec", "password-change-warn", arg.change_warn)) < 0)
                return r;
        if (arg.change_inactive &&
            (r = set_span_field(ur, "passwordChangeInactiveUSec", "password-change-inactive", arg.change_inactive)) < 0)
                return r;
        return 0;
}

/* Calls f for the user name of every host record. */
static int for_each_home(int (*f)(const char *user, void *userdata), void *userdata) {
        struct dirent **names = NULL;
        int n, r = 0;

        n = scandir(HOME_STATE_DIR, &names, NULL, alphasort);
        if (n < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot list %s", HOME_STATE_DIR);
        for (int i = 0; i < n; i++) {
                size_t len = strlen(names[i]->d_name);
                if (len > 9 && !strcmp(names[i]->d_name + len - 9, ".identity")) {
                        names[i]->d_name[len - 9] = '\0';
                        if (names[i]->d_name[0] != '.') {
                                int k = f(names[i]->d_name, userdata);
                                if (k < 0 && r >= 0)
                                        r = k;
                        }
                }
                free(names[i]);
        }
        free(names);
        return r;
}

/* The UIDs the host records use: read once, not once per candidate UID. */
struct record_uids {
        uid_t wanted;
        bool wanted_taken;
        bool in_range[UID_MAX_HOME - UID_MIN_HOME + 1];
};

static int note_record_uid(const char *user, void *userdata) {
        struct record_uids *u = userdata;
        _cleanup_free_ char *path = NULL;
        struct user_record *ur = NULL;

        if (home_identity_path(user, ".identity", &path) < 0)
                return log_oom();
        if (user_record_load(path, &ur) >= 0) {
                u->wanted_taken = u->wanted_taken || ur->uid == u->wanted;
                if (ur->uid >= UID_MIN_HOME && ur->uid <= UID_MAX_HOME)
                        u->in_range[ur->uid - UID_MIN_HOME] = true;
        }
        user_record_free(ur);
        return 0; /* an unreadable record does not stop the scan */
}

static bool uid_taken(const struct record_uids *u, uid_t uid) {
        if (getpwuid(uid) || getgrgid(uid))
                return true;
        if (uid == u->wanted)
                return u->wanted_taken;
        return uid >= UID_MIN_HOME && uid <= UID_MAX_HOME && u->in_range[uid - UID_MIN_HOME];
}

static int verb_create(const char *user) {
        _cleanup_secret_ struct secret *pw = NULL;
        _cleanup_free_ char *identity = NULL;
        struct home h = { .op_lock_fd = -1, .kdf = arg.kdf };
        enum home_storage storage = HOME_STORAGE_DIRECTORY;
        const struct home_backend *b;
        struct record_uids used = {};
        uid_t uid = arg.uid;
        int r;

        if (!user_name_is_valid(user))
                return log_fail(-EINVAL, "%s: not a valid user name", user);
        if (arg.storage) {
                storage = home_storage_from_string(arg.storage);
                if (storage == HOME_STORAGE_INVALID || !home_backend_get(storage))
                        return log_fail(-EINVAL, "--storage=%s is not supported (directory, fscrypt, luks)", arg.storage);
        }
        if (arg.disk_size && storage != HOME_STORAGE_LUKS)
                return log_fail(-EINVAL, "--disk-size= applies to --storage=luks only");
        h.disk_size = arg.disk_size;
        if (home_identity_path(user, ".identity", &identity) < 0)
                return log_oom();
        if (access(identity, F_OK) >= 0)
                return log_fail(-EEXIST, "%s: a home already exists", user);
        if (getpwnam(user))
                return log_fail(-EEXIST, "%s: the user already exists in the user database", user);
        used.wanted = uid;
        r = for_each_home(note_record_uid, &used);
        if (r < 0)
                return r;
        if (uid == (uid_t) -1) {
                for (uid = UID_MIN_HOME; uid <= UID_MAX_HOME && uid_taken(&used, uid); uid++)
                        ;
                if (uid > UID_MAX_HOME)
                        return log_fail(-ENOSPC, "no free UID in %d…%d", UID_MIN_HOME, UID_MAX_HOME);
        } else if (uid_taken(&used, uid))
                return log_fail(-EEXIST, "UID %u is already taken", (unsigned) uid);

        r = user_record_new(user, uid, storage, now_usec(), &h.record);
        if (r < 0)
                return log_oom();
        if (arg.home_dir)
                r = set_field(h.record, "homeDirectory", "home-dir", json_object_new_string(arg.home_dir));
        if (r >= 0 && arg.image_path)
                r = set_field(h.record, "imagePath", "image-path", json_object_new_string(arg.image_path));
        if (r >= 0)
                r = apply_record_options(h.record);
        if (r >= 0)
                r = read_new_password(&pw);
        if (r >= 0)
                r = home_set_password(&h, (char *) pw->data, now_usec());
        if (r >= 0)
                r = home_op_lock(&h);
        if (r >= 0)
                r = home_sign(&h);  /* the embedded copy is signed too */
        b = home_backend_get(storage);
        if (r >= 0)
                r = b->create(&h, (char *) pw->data);
        if (r >= 0) {
                r = home_save_host(&h);
                if (r < 0)
                        (void) b->remove(&h);
        }
        if (r >= 0)
                log_info("created %s home of %s (UID %u) at %s", home_storage_to_string(storage), user,
                         (unsigned) uid, h.record->image_path);
        home_done(&h);
        return r;
}

/* Unlocks and mounts an inactive home; the password must open the record first. */
static int activate_home(struct home *h, const char *password) {
        const struct home_backend *b = home_backend_get(h->record->storage);
        _cleanup_close_ int fd = -1;
        int r;

        r = b->activate(h, password);
        if (r < 0)
                return r;
        r = home_open_dir(h, &fd);
        if (r >= 0 && fd < 0)
                r = log_fail(-EIO, "the home of %s is not mounted after activation", h->record->user_name);
        if (r >= 0)
                r = home_reconcile(h, fd, password);
        if (fd >= 0)
                close(fd);
        fd = -1;
        if (r < 0)
                (void) b->deactivate(h, false);
        return r;
}

static int verb_activate(const char *user, bool authenticate_only) {
        _cleanup_secret_ struct secret *pw = NULL;
        struct home h;
        enum home_state state;
        int r;

        r = load_state(&h, user, &state);
        if (r >= 0)
                r = check_blocked(&h);
        if (r >= 0 && state == HOME_ABSENT)
                r = log_fail(-ENXIO, "%s: the home's storage %s is missing", user, h.record->image_path);
        if (r >= 0)
                r = read_password("Password:", &pw);
        if (r >= 0)
                r = check_password(&h, (char *) pw->data);
        if (r >= 0 && !authenticate_only) {
                if (state != HOME_INACTIVE)
                        r = log_fail(-EALREADY, "the home of %s is already active%s", user,
                                     state == HOME_LOCKED ? " (locked)" : "");
                else
                        r = activate_home(&h, (char *) pw->data);
        }
        home_done(&h);
        return r;
}

/* Unmounts unless a session still holds a reference (or force). */
static int deactivate_home(struct home *h, enum home_state state, bool force) {
        _cleanup_close_ int ref_fd = -1;
        int r;

        if (state == HOME_INACTIVE || state == HOME_ABSENT) {
                log_info("the home of %s is not active", h->record->user_name);
                return 0;
        }
        r = home_ref_held(h->record->user_name, &ref_fd);
        if (r < 0)
                return r;
        if (r > 0 && !force)
                return log_fail(-EBUSY, "the home of %s is still referenced by a session", h->record->user_name);
        return home_backend_get(h->record->storage)->deactivate(h, force);
}

static int verb_deactivate(const char *user) {
        struct home h;
        enum home_state state;
        int r;

        r = load_state(&h, user, &state);
        if (r >= 0)
                r = deactivate_home(&h, state, arg.force);
        home_done(&h);
        return r;
}

static struct secret *commit_password; /* the new password, for commit_passwd() */

/* Rewrites both record copies with the new password's hash. */
static int commit_passwd(struct home *h) {
        _cleanup_close_ int fd = -1;
        int r;

        r = home_set_password(h, (char *) commit_password->data, now_usec());
        if (r >= 0)
                r = home_save_host(h);
        if (r < 0)
                return r;
        r = home_open_dir(h, &fd);
        if (r < 0 || fd < 0) /* an inactive LUKS home: its header copy is the backend's */
                return r;
        return home_save_embedded(h, fd);
}

static int verb_passwd(const char *user) {
        _cleanup_secret_ struct secret *old = NULL, *new = NULL;
        struct home h;
        enum home_state state;
        int r;

        r = load_state(&h, user, &state);
        h.kdf = arg.kdf;
        if (r >= 0 && state == HOME_ABSENT)
                r = log_fail(-ENXIO, "%s: the home's storage %s is missing", user, h.record->image_path);
        if (r >= 0)
                r = read_password("Current password:", &old);
        if (r >= 0)
                r = read_new_password(&new);
        if (r >= 0)
                r = check_password(&h, (char *) old->data);
        if (r >= 0) {
                commit_password = new;
                r = home_backend_get(h.record->storage)->passwd(&h, (char *) old->data, (char *) new->data,
                                                               commit_passwd);
                commit_password = NULL;
        }
        if (r >= 0)
                log_info("password of %s changed", user);
        home_done(&h);
        return r;
}

static int verb_update(const char *user) {
        struct home h;
        enum home_state state;
        int r;

        r = load_state(&h, user, &state);
        if (r >= 0)
                r = apply_record_options(h.record);
        if (r >= 0)
                r = set_field(h.record, "lastChangeUSec", "update", json_object_new_uint64(now_usec()));
        if (r >= 0)
                r = home_save_host(&h);
        /* An inactive home gets the newer record at its next activation. */
        if (r >= 0 && state == HOME_ACTIVE) {
                _cleanup_close_ int fd = -1;
                r = home_open_dir(&h, &fd);
                if (r >= 0 && fd >= 0)
                        r = home_save_embedded(&h, fd);
        }
        home_done(&h);
        return r;
}

static int verb_remove(const char *user) {
        _cleanup_free_ char *identity = NULL, *public = NULL;
        struct home h;
        enum home_state state;
        int r;

        r = load_state(&h, user, &state);
        if (r >= 0 && (state == HOME_ACTIVE || state == HOME_LOCKED))
                r = log_fail(-EBUSY, "the home of %s is active, deactivate it first", user);
        if (r >= 0 && state != HOME_ABSENT)
                r = home_backend_get(h.record->storage)->remove(&h);
        if (r >= 0 && (home_identity_path(user, ".identity", &identity) < 0 ||
                       home_identity_path(user, ".user", &public) < 0))
                r = log_oom();
        if (r >= 0 && unlink(public) < 0 && errno != ENOENT)
                r = log_error_errno(-errno, "cannot remove %s", public);
        if (r >= 0 && unlink(identity) < 0 && errno != ENOENT)
                r = log_error_errno(-errno, "cannot remove %s", identity);
        if (r >= 0)
                (void) rmdir(h.record->home_directory);
        home_done(&h);
        return r;
}

static int lock_home(struct home *h, enum home_state state) {
        const struct home_backend *b = home_backend_get(h->record->storage);

        if (!b->lock)
                return log_fail(-ENOTTY, "%s homes cannot be locked", home_storage_to_string(h->record->storage));
        if (state == HOME_LOCKED)
                return log_fail(-EALREADY, "the home of %s is already locked", h->record->user_name);
        if (state != HOME_ACTIVE)
                return log_fail(-ENOEXEC, "the home of %s is not active", h->record->user_name);
        return b->lock(h);
}

static int verb_lock(const char *user, bool unlock) {
        _cleanup_secret_ struct secret *pw = NULL;
        const struct home_backend *b;
        struct home h;
        enum home_state state;
        int r;

        r = load_state(&h, user, &state);
        if (r < 0 || !unlock) {
                if (r >= 0)
                        r = lock_home(&h, state);
                home_done(&h);
                return r;
        }
        b = home_backend_get(h.record->storage);
        if (!b->unlock)
                r = log_fail(-ENOTTY, "%s homes cannot be locked", home_storage_to_string(h.record->storage));
        else if (state != HOME_LOCKED)
                r = log_fail(state == HOME_ACTIVE ? -EALREADY : -ENOEXEC, "the home of %s is not locked", user);
        if (r >= 0)
                r = read_password("Password:", &pw);
        if (r >= 0)
                r = check_password(&h, (char *) pw->data);
        if (r >= 0)
                r = b->unlock(&h, (char *) pw->data);
        home_done(&h);
        return r;
}

static int lock_one(const char *user, void *userdata) {
        struct home h;
        enum home_state state;
        int r;

        r = load_state(&h, user, &state);
        if (r >= 0 && state == HOME_ACTIVE && home_backend_get(h.record->storage)->lock) {
                r = lock_home(&h, state);
                if (r >= 0)
                        ++*(unsigned *) userdata;
        }
        home_done(&h);
        return r;
}

static int verb_lock_all(void) {
        unsigned n = 0;
        int r = for_each_home(lock_one, &n);
        log_info("locked %u home%s", n, n == 1 ? "" : "s");
        return r;
}

static json_object *summary_json(const struct home *h, enum home_state state) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "userName", json_object_new_string(h->record->user_name));
        json_object_object_add(o, "uid", json_object_new_int64(h->record->uid));
        json_object_object_add(o, "storage", json_object_new_string(home_storage_to_string(h->record->storage)));
        json_object_object_add(o, "state", json_object_new_string(home_state_to_string(state)));
        json_object_object_add(o, "homeDirectory", json_object_new_string(h->record->home_directory));
        json_object_object_add(o, "imagePath", json_object_new_string(h->record->image_path));
        return o;
}

static int list_one(const char *user, void *userdata) {
        struct home h;
        enum home_state state;
        int r;

        r = home_load(&h, user);
        if (r >= 0)
                r = home_get_state(&h, &state);
        if (r >= 0) {
                if (userdata)
                        json_object_array_add(userdata, summary_json(&h, state));
                else
                        printf("%-16s %6u %-9s %-8s %s\n", user, (unsigned) h.record->uid,
                               home_storage_to_string(h.record->storage), home_state_to_string(state),
                               h.record->home_directory);
        }
        home_done(&h);
        return r;
}

static int verb_list(void) {
        json_object *all = arg.json ? json_object_new_array() : NULL;
        int r;

        if (!arg.json)
                printf("%-16s %6s %-9s %-8s %s\n", "NAME", "UID", "STORAGE", "STATE", "HOME");
        r = for_each_home(list_one, all);
        if (all) {
                puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(all);
        }
        return r;
}

static void print_time(const char *label, uint64_t usec) {
        char buf[64];
        if (usec == 0 || usec == UINT64_MAX)
                return;
        timestamp_format(usec, buf, sizeof buf);
        printf("%15s: %s\n", label, buf);
}

static int verb_inspect(const char *user) {
        struct home h;
        enum home_state state;
        int r, sig;

        r = home_load(&h, user);
        if (r >= 0)
                r = home_get_state(&h, &state);
        if (r < 0) {
                home_done(&h);
                return r;
        }
        sig = user_record_verify(h.record, HOME_STATE_DIR);
        if (arg.json) {
                json_object *o = summary_json(&h, state), *copy = NULL;
                json_object_deep_copy(h.record->json, &copy, NULL);
                json_object_object_del(copy, "privileged");
                json_object_object_add(copy, "status", o);
                json_object_object_add(o, "signedLocally", json_object_new_boolean(sig == RECORD_SIGNED_LOCALLY));
                if (home_backend_get(h.record->storage)->inspect)
                        (void) home_backend_get(h.record->storage)->inspect(&h, o);
                puts(json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(copy);
        } else {
                const struct user_record *ur = h.record;
                enum user_record_aging aging = user_record_check_password_aging(ur, now_usec());
                printf("%15s: %s\n", "User name", ur->user_name);
                printf("%15s: %s\n", "State", home_state_to_string(state));
                printf("%15s: %s\n", "Real name", ur->real_name);
                printf("%15s: %u\n%15s: %u\n", "UID", (unsigned) ur->uid, "GID", (unsigned) ur->gid);
                printf("%15s: %s\n%15s: %s\n", "Directory", ur->home_directory, "Shell", ur->shell);
                printf("%15s: %s\n%15s: %s\n", "Storage", home_storage_to_string(ur->storage), "Image path", ur->image_path);
                printf("%15s: %s%s%s\n", "Mount flags", ur->mount_nosuid ? "nosuid " : "",
                       ur->mount_nodev ? "nodev " : "", ur->mount_noexec ? "noexec" : "exec");
                printf("%15s: %s\n", "Signed", sig == RECORD_SIGNED_LOCALLY ? "locally" : "by a trusted key");
                printf("%15s: %s\n", "Account", user_record_check_blocked(ur, now_usec()) == USER_RECORD_OK ?
                       "usable" : user_record_blocked_message(user_record_check_blocked(ur, now_usec())));
                printf("%15s: %s\n", "Password", aging == PASSWORD_OK ? "ok" : user_record_aging_message(aging));
                print_time("Last change", ur->last_change_usec);
                print_time("Last passwd", ur->last_password_change_usec);
                print_time("Not before", ur->not_before_usec);
                print_time("Not after", ur->not_after_usec);
                if (home_backend_get(ur->storage)->inspect)
                        (void) home_backend_get(ur->storage)->inspect(&h, NULL);
        }
        home_done(&h);
        return 0;
}

/* The account checks of PAM's account hook: prints the user-facing message (if
 * any) on stdout and exits 0, 7, 11 or 12. */
static int verb_account(const char *user) {
        enum user_record_blocked b;
        enum user_record_aging a;
        struct home h;
        int r;

        r = home_load(&h, user);
        if (r < 0) {
                home_done(&h);
                return r;
        }
        b = user_record_check_blocked(h.record, now_usec());
        a = user_record_check_password_aging(h.record, now_usec());
        home_done(&h);
        if (b != USER_RECORD_OK) {
                puts(user_record_blocked_message(b));
                return HOME_EXIT_BLOCKED;
        }
        if (a != PASSWORD_OK)
                puts(user_record_aging_message(a));
        switch (a) {
        case PASSWORD_CHANGE_REQUIRED:
        case PASSWORD_EXPIRED_CHANGE:
                return HOME_EXIT_PASSWORD_CHANGE;
        case PASSWORD_EXPIRED_LOCKED:
        case PASSWORD_RECORD_INVALID:
                return HOME_EXIT_PASSWORD_EXPIRED;
        default:
                return 0;
        }
}

/* Activates (or authenticates against an active home), holds a session reference
 * while COMMAND runs in the home, then deactivates if no reference is left. */
static int verb_with(const char *user, char **argv) {
        _cleanup_secret_ struct secret *pw = NULL;
        _cleanup_close_ int ref_fd = -1;
        struct home h;
        enum home_state state;
        int r, status;
        pid_t pid;

        r = home_load(&h, user);
        if (r >= 0)
                r = check_blocked(&h);
        if (r >= 0)
                r = read_password("Password:", &pw);
        if (r >= 0)
                r = check_password(&h, (char *) pw->data);
        if (r >= 0)
                r = home_ref_take(user, &ref_fd);
        if (r >= 0)
                r = home_op_lock(&h);
        if (r >= 0)
                r = home_get_state(&h, &state);
        if (r >= 0 && state == HOME_INACTIVE)
                r = activate_home(&h, (char *) pw->data);
        else if (r >= 0 && state != HOME_ACTIVE)
                r = log_fail(state == HOME_LOCKED ? -EPERM : -ENXIO, "the home of %s is %s", user,
                             home_state_to_string(state));
        secret_free(TAKE_PTR(pw));
        if (r >= 0) {
                /* Others may activate or deactivate while COMMAND runs; our reference keeps it. */
                close(h.op_lock_fd);
                h.op_lock_fd = -1;
                fflush(stdout);
                pid = fork();
                if (pid < 0)
                        r = log_error_errno(-errno, "cannot fork");
                else if (pid == 0) {
                        if (chdir(h.record->home_directory) < 0)
                                log_warning("cannot enter %s: %m", h.record->home_directory);
                        execvp(argv[0], argv);
                        log_error("cannot run %s: %m", argv[0]);
                        _exit(127);
                }
        }
        if (r >= 0) {
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                close(TAKE_FD(ref_fd));
                r = home_op_lock(&h);
                if (r >= 0)
                        r = home_get_state(&h, &state);
                if (r >= 0 && home_ref_held(user, NULL) == 0)
                        r = deactivate_home(&h, state, false);
                else if (r >= 0)
                        log_info("the home of %s stays active: another session holds it", user);
                if (r >= 0)
                        r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        home_done(&h);
        return r;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_STORAGE, ARG_UID, ARG_REAL_NAME, ARG_SHELL, ARG_HOME_DIR, ARG_IMAGE_PATH,
               ARG_KDF, ARG_LOCKED, ARG_NOT_BEFORE, ARG_NOT_AFTER, ARG_CHANGE_NOW, ARG_FORCE, ARG_JSON,
               ARG_CHANGE_MIN, ARG_CHANGE_MAX, ARG_CHANGE_WARN, ARG_CHANGE_INACTIVE, ARG_DISK_SIZE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "storage", required_argument, NULL, ARG_STORAGE },
                { "uid", required_argument, NULL, ARG_UID },
                { "real-name", required_argument, NULL, ARG_REAL_NAME },
                { "shell", required_argument, NULL, ARG_SHELL },
                { "home-dir", required_argument, NULL, ARG_HOME_DIR },
                { "image-path", required_argument, NULL, ARG_IMAGE_PATH },
                { "kdf", required_argument, NULL, ARG_KDF },
                { "disk-size", required_argument, NULL, ARG_DISK_SIZE },
                { "locked", required_argument, NULL, ARG_LOCKED },
                { "not-before", required_argument, NULL, ARG_NOT_BEFORE },
                { "not-after", required_argument, NULL, ARG_NOT_AFTER },
                { "password-change-now", required_argument, NULL, ARG_CHANGE_NOW },
                { "password-change-min", required_argument, NULL, ARG_CHANGE_MIN },
                { "password-change-max", required_argument, NULL, ARG_CHANGE_MAX },
                { "password-change-warn", required_argument, NULL, ARG_CHANGE_WARN },
                { "password-change-inactive", required_argument, NULL, ARG_CHANGE_INACTIVE },
                { "force", no_argument, NULL, ARG_FORCE },
                { "json", no_argument, NULL, ARG_JSON },
                {}
        };
        const char *verb, *user = NULL;
        char *end;
        int c, r;

        log_setup("home-activate");
        /* Options may come before or after the verb; "--" ends them (with USER -- COMMAND). */
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h': usage(stdout); return 0;
                case ARG_VERSION: puts("home-activate " LATCHKEY_VERSION); return 0;
                case ARG_STORAGE: arg.storage = optarg; break;
                case ARG_UID: {
                        errno = 0;
                        unsigned long u = strtoul(optarg, &end, 10);
                        if (errno || *end || !*optarg || u < 1000 || u >= 65534) {
                                log_error("--uid=%s: not a UID for a regular user (1000…65533)", optarg);
                                return HOME_EXIT_USAGE;
                        }
                        arg.uid = (uid_t) u;
                        break;
                }
                case ARG_REAL_NAME: arg.real_name = optarg; break;
                case ARG_SHELL: arg.shell = optarg; break;
                case ARG_HOME_DIR: arg.home_dir = optarg; break;
                case ARG_IMAGE_PATH: arg.image_path = optarg; break;
                case ARG_KDF: arg.kdf = optarg; break;
                case ARG_DISK_SIZE:
                        if (parse_size(optarg, &arg.disk_size) < 0) {
                                log_error("--disk-size=%s: not a size (BYTES with an optional K, M, G or T)", optarg);
                                return HOME_EXIT_USAGE;
                        }
                        break;
                case ARG_LOCKED: arg.locked = optarg; break;
                case ARG_NOT_BEFORE: arg.not_before = optarg; break;
                case ARG_NOT_AFTER: arg.not_after = optarg; break;
                case ARG_CHANGE_NOW: arg.change_now = optarg; break;
                case ARG_CHANGE_MIN: arg.change_min = optarg; break;
                case ARG_CHANGE_MAX: arg.change_max = optarg; break;
                case ARG_CHANGE_WARN: arg.change_warn = optarg; break;
                case ARG_CHANGE_INACTIVE: arg.change_inactive = optarg; break;
                case ARG_FORCE: arg.force = true; break;
                case ARG_JSON: arg.json = true; break;
                default: usage(stderr); return HOME_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return HOME_EXIT_USAGE;
        }
        verb = argv[optind++];
        if (strcmp(verb, "list") && strcmp(verb, "lock-all")) {
                if (optind >= argc) {
                        log_error("%s: missing USER", verb);
                        return HOME_EXIT_USAGE;
                }
                user = argv[optind++];
        }
        if (!strcmp(verb, "with")) {
                if (optind >= argc) {
                        log_error("with: missing COMMAND");
                        return HOME_EXIT_USAGE;
                }
        } else if (optind < argc) {
                log_error("%s: unexpected argument \"%s\"", verb, argv[optind]);
                return HOME_EXIT_USAGE;
        }
        if (geteuid() != 0) {
                log_error("must be run as root");
                return HOME_EXIT_OTHER;
        }
        r = crypto_init();
        if (r < 0)
                return HOME_EXIT_OTHER;

        if (!strcmp(verb, "create"))
                r = verb_create(user);
        else if (!strcmp(verb, "activate"))
                r = verb_activate(user, false);
        else if (!strcmp(verb, "authenticate"))
                r = verb_activate(user, true);
        else if (!strcmp(verb, "deactivate"))
                r = verb_deactivate(user);
        else if (!strcmp(verb, "passwd"))
                r = verb_passwd(user);
        else if (!strcmp(verb, "update"))
                r = verb_update(user);
        else if (!strcmp(verb, "inspect"))
                r = verb_inspect(user);
        else if (!strcmp(verb, "list"))
                r = verb_list();
        else if (!strcmp(verb, "account"))
                return (r = verb_account(user)) < 0 ? exit_code(r) : r;
        else if (!strcmp(verb, "remove"))
                r = verb_remove(user);
        else if (!strcmp(verb, "lock"))
                r = verb_lock(user, false);
        else if (!strcmp(verb, "unlock"))
                r = verb_lock(user, true);
        else if (!strcmp(verb, "lock-all"))
                r = verb_lock_all();
        else if (!strcmp(verb, "with"))
                return (r = verb_with(user, argv + optind)) < 0 ? exit_code(r) : r;
        else {
                log_error("unknown verb \"%s\"", verb);
                usage(stderr);
                return HOME_EXIT_USAGE;
        }
        return exit_code(r);
}
