/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host records, reconciliation with the embedded copy, session references and the
 * mount steps that the directory and fscrypt backends share. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "home.h"
#include "io.h"
#include "log.h"
#include "password.h"
#include "recordsign.h"
#include "tree.h"

static const char *const state_names[_HOME_STATE_MAX] = {
        [HOME_INACTIVE] = "inactive",
        [HOME_ACTIVE] = "active",
        [HOME_LOCKED] = "locked",
        [HOME_ABSENT] = "absent",
};

const char *home_state_to_string(enum home_state s) {
        return s >= 0 && s < _HOME_STATE_MAX ? state_names[s] : "unknown";
}

const struct home_backend *home_backend_get(enum home_storage s) {
        switch (s) {
        case HOME_STORAGE_DIRECTORY:
                return &home_backend_directory;
        case HOME_STORAGE_FSCRYPT:
                return &home_backend_fscrypt;
        case HOME_STORAGE_LUKS:
                return &home_backend_luks;
        default:
                return NULL;
        }
}

int home_identity_path(const char *user, const char *suffix, char **ret) {
        if (asprintf(ret, HOME_STATE_DIR "/%s%s", user, suffix) < 0)
                return -ENOMEM;
        return 0;
}

/* A record is usable only if a trusted key signed it. */
static int verify_record(const struct user_record *ur, const char *what) {
        int r = user_record_verify(ur, HOME_STATE_DIR);
        if (r < 0)
                return log_error_errno(r, "%s: cannot check the record's signature", what);
        if (r == RECORD_UNSIGNED)
                return log_fail(-EBADMSG, "%s: user record is not signed, refusing it", what);
        if (r == RECORD_SIGNED_FOREIGN)
                return log_fail(-EBADMSG, "%s: user record signature does not verify (tampered or unknown key), refusing it", what);
        return 0;
}

int home_load(struct home *h, const char *user) {
        _cleanup_free_ char *path = NULL;
        struct user_record *ur = NULL;
        int r;

        *h = (struct home) { .op_lock_fd = -1 };
        if (!user_name_is_valid(user))
                return log_fail(-EINVAL, "%s: not a valid user name", user);
        r = home_identity_path(user, ".identity", &path);
        if (r < 0)
                return log_oom();
        if (access(path, F_OK) < 0 && errno == ENOENT)
                return log_fail(-ENXIO, "%s: no such home", user);
        r = user_record_load(path, &ur);
        if (r < 0)
                return r == -ENOENT ? -ENXIO : -EBADMSG;
        h->record = ur;
        if (strcmp(ur->user_name, user) != 0)
                return log_fail(-EBADMSG, "%s: record names user %s, refusing it", path, ur->user_name);
        r = verify_record(ur, path);
        if (r < 0)
                return r;
        if (!home_backend_get(ur->storage))
                return log_fail(-EPROTONOSUPPORT, "%s: storage %s is not supported", user,
                                home_storage_to_string(ur->storage));
        return 0;
}

void home_done(struct home *h) {
        user_record_free(h->record);
        h->record = NULL;
        if (h->op_lock_fd >= 0)
                close(h->op_lock_fd);
        h->op_lock_fd = -1;
}

int home_sign(struct home *h) {
        _cleanup_sign_key_ struct sign_key *key = NULL;
        int r;

        r = mkdir_parents(HOME_STATE_DIR, 0755);
        if (r < 0)
                return log_error_errno(r, "cannot create %s", HOME_STATE_DIR);
        r = sign_key_load_or_create(HOME_STATE_DIR, &key);
        if (r < 0)
                return r;
        r = user_record_sign(h->record, key);
        if (r < 0)
                return log_error_errno(r, "cannot sign the user record");
        return 0;
}

int home_set_password(struct home *h, const char *password, uint64_t now) {
        json_object *priv = NULL, *hashes;
        _cleanup_free_ char *hash = NULL;
        int r;

        r = password_hash(password, &hash);
        if (r < 0)
                return log_error_errno(r, "cannot hash the password");
        if (!json_object_object_get_ex(h->record->json, "privileged", &priv) ||
            !json_object_is_type(priv, json_type_object)) {
                priv = json_object_new_object();
                if (!priv || json_object_object_add(h->record->json, "privileged", priv) < 0)
                        return log_oom();
        }
        hashes = json_object_new_array();
        if (!hashes || json_object_array_add(hashes, json_object_new_string(hash)) < 0 ||
            json_object_object_add(priv, "hashedPassword", hashes) < 0)
                return log_oom();
        json_object_object_del(h->record->json, "passwordChangeNow");
        if (user_record_set(h->record, "lastPasswordChangeUSec", json_object_new_uint64(now)) < 0 ||
            user_record_set(h->record, "lastChangeUSec", json_object_new_uint64(now)) < 0)
                return log_oom();
        return 0;
}

int home_save_host(struct home *h) {
        _cleanup_free_ char *identity = NULL, *public = NULL, *text = NULL, *pub = NULL;
        size_t size, pub_size;
        int r;

        r = home_sign(h);
        if (r < 0)
                return r;
        if (home_identity_path(h->record->user_name, ".identity", &identity) < 0 ||
            home_identity_path(h->record->user_name, ".user", &public) < 0 ||
            user_record_format(h->record, &text, &size) < 0 ||
            user_record_format_public(h->record, &pub, &pub_size) < 0)
                return log_oom();
        r = write_file_atomic(identity, text, size, 0600, WRITE_SYNC_DIR);
        if (r < 0)
                return log_error_errno(r, "cannot write %s", identity);
        r = write_file_atomic(public, pub, pub_size, 0644, WRITE_SYNC_DIR);
        if (r < 0)
                return log_error_errno(r, "cannot write %s", public);
        return 0;
}

int home_save_embedded(struct home *h, int image_fd) {
        _cleanup_free_ char *text = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -1;
        size_t size;
        int r;

        if (user_record_format(h->record, &text, &size) < 0)
                return log_oom();
        if (asprintf(&tmp, ".#identity.%lx", (unsigned long) getpid()) < 0)
                return log_oom();
        /* Relative to the image fd: the path may not be reachable by name (fscrypt). */
        (void) unlinkat(image_fd, tmp, 0);
        fd = openat(image_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "cannot write the embedded record");
        r = write_all(fd, text, size);
        if (r >= 0 && fchown(fd, h->record->uid, h->record->gid) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(image_fd, tmp, image_fd, ".identity") < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(image_fd, tmp, 0);
                return log_error_errno(r, "cannot write the embedded record");
        }
        (void) fsync(image_fd);
        return 0;
}

/* Reads and parses IMAGE/.identity; its text stays in *ret_text for comparison. */
static int load_embedded(int image_fd, struct user_record **ret, struct secret **ret_text) {
        _cleanup_close_ int fd = openat(image_fd, ".identity", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_secret_ struct secret *text = NULL;
        const char *why = NULL;
        int r;

        if (fd < 0)
                return -errno;
        r = read_fd_capped(fd, USER_RECORD_MAX, &text);
        if (r < 0)
                return log_error_errno(r, "cannot read the embedded record");
        r = user_record_parse((const char *) text->data, text->size, ret, &why);
        if (r < 0)
                return log_fail(-EBADMSG, "embedded record is invalid: %s", why ? why : "bad JSON");
        *ret_text = TAKE_PTR(text);
        return 0;
}

/* Whether text holds exactly what home_save_embedded() would write for ur. */
static bool embedded_is_current(const struct user_record *ur, const struct secret *text) {
        _cleanup_free_ char *want = NULL;
        size_t size;

        return user_record_format(ur, &want, &size) >= 0 && size == text->size &&
               memcmp(want, text->data, size) == 0;
}

int home_reconcile(struct home *h, int image_fd, const char *password) {
        _cleanup_secret_ struct secret *text = NULL;
        struct user_record *embedded = NULL;
        int r;

        r = load_embedded(image_fd, &embedded, &text);
        if (r == -ENOENT) /* lost or never written: the host copy restores it */
                return home_save_embedded(h, image_fd);
        if (r < 0)
                return r;
        r = verify_record(embedded, "embedded record");
        if (r >= 0 && (r = user_record_pick_newer(h->record, embedded)) < 0)
                r = log_fail(-EBADMSG, "embedded record belongs to another user, refusing it");
        if (r == 1) {
                if (password_test(user_record_hashed_passwords(embedded), password) < 0) {
                        user_record_free(embedded);
                        return log_fail(-ENOKEY, "the password does not open the home's newer embedded record");
                }
                user_record_free(h->record);
                h->record = embedded;
                return home_save_host(h);
        }
        user_record_free(embedded);
        if (r < 0)
                return r;
        /* The host copy is newer or equal: refresh the embedded one only if it differs
         * (two fsyncs saved on every login). */
        if (embedded_is_current(h->record, text))
                return 0;
        return home_save_embedded(h, image_fd);
}

int home_get_state(struct home *h, enum home_state *ret) {
        const struct home_backend *b = home_backend_get(h->record->storage);
        struct stat image, mnt;

        if (b->get_state)
                return b->get_state(h, ret);
        if (stat(h->record->image_path, &image) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(-errno, "%s", h->record->image_path);
                *ret = HOME_ABSENT;
                return 0;
        }
        /* A bind mount shows the image directory's own inode at homeDirectory. */
        if (stat(h->record->home_directory, &mnt) < 0 || mnt.st_dev != image.st_dev || mnt.st_ino != image.st_ino) {
                *ret = HOME_INACTIVE;
                return 0;
        }
        *ret = HOME_ACTIVE;
        if (b->is_locked) {
                int r = b->is_locked(h);
                if (r < 0)
                        return r;
                if (r > 0)
                        *ret = HOME_LOCKED;
        }
        return 0;
}

int home_open_dir(struct home *h, int *ret_fd) {
        const struct home_backend *b = home_backend_get(h->record->storage);
        int fd;

        if (b->open_dir)
                return b->open_dir(h, ret_fd);
        fd = open(h->record->image_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s", h->record->image_path);
        *ret_fd = fd;
        return 0;
}

int home_mount_bind(struct home *h) {
        const struct user_record *ur = h->record;
        unsigned long flags = MS_BIND | MS_REMOUNT;

        if (mkdir(ur->home_directory, 0755) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "cannot create %s", ur->home_directory);
        if (mount(ur->image_path, ur->home_directory, "none", MS_BIND, NULL) < 0)
                return log_error_errno(-errno, "cannot mount %s on %s", ur->image_path, ur->home_directory);
        flags |= (ur->mount_nosuid ? MS_NOSUID : 0) | (ur->mount_nodev ? MS_NODEV : 0) |
                 (ur->mount_noexec ? MS_NOEXEC : 0);
        if (mount("none", ur->home_directory, "none", flags, NULL) < 0) {
                int r = log_error_errno(-errno, "cannot set mount flags on %s", ur->home_directory);
                (void) umount2(ur->home_directory, MNT_DETACH);
                return r;
        }
        return 0;
}

int home_unmount(struct home *h, bool force) {
        const char *dir = h->record->home_directory;

        if (umount2(dir, UMOUNT_NOFOLLOW) >= 0)
                return 0;
        if (errno == EBUSY && force) {
                log_warning("%s is in use, detaching it lazily", dir);
                if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) >= 0)
                        return 0;
        }
        if (errno == EBUSY)
                return log_fail(-EBUSY, "%s is in use (a process has its directory or files open there)", dir);
        return log_error_errno(-errno, "cannot unmount %s", dir);
}

static int open_run_file(const char *user, const char *suffix, int *ret) {
        _cleanup_free_ char *path = NULL;
        int r, fd;

        r = mkdir_parents(HOME_RUN_DIR, 0755);
        if (r < 0)
                return log_error_errno(r, "cannot create %s", HOME_RUN_DIR);
        if (asprintf(&path, HOME_RUN_DIR "/%s%s", user, suffix) < 0)
                return log_oom();
        fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s", path);
        *ret = fd;
        return 0;
}

int home_op_lock(struct home *h) {
        int r;

        if (h->op_lock_fd >= 0)
                return 0;
        r = open_run_file(h->record->user_name, ".op", &h->op_lock_fd);
        if (r < 0)
                return r;
        if (flock(h->op_lock_fd, LOCK_EX) < 0)
                return log_error_errno(-errno, "cannot lock the home of %s", h->record->user_name);
        return 0;
}

int home_ref_take(const char *user, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        int r;

        r = open_run_file(user, ".lock", &fd);
        if (r < 0)
                return r;
        if (flock(fd, LOCK_SH) < 0)
                return log_error_errno(-errno, "cannot take a reference on the home of %s", user);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int home_ref_held(const char *user, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        int r;

        r = open_run_file(user, ".lock", &fd);
        if (r < 0)
                return r;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return 1;
                return log_error_errno(-errno, "cannot check the references on the home of %s", user);
        }
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

int home_populate(int dir_fd) {
        _cleanup_close_ int skel = open("/etc/skel", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (skel < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot open /etc/skel");
        r = tree_copy(skel, dir_fd);
        if (r < 0)
                return log_error_errno(r, "cannot copy /etc/skel");
        return 0;
}

int home_chown_tree(int dir_fd, uid_t uid, gid_t gid) {
        int r = tree_chown(dir_fd, uid, gid);
        if (r < 0)
                return log_error_errno(r, "cannot give the home to uid %u", (unsigned) uid);
        return 0;
}

int home_remove_tree(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (fd < 0)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot open %s", path);
        r = tree_remove_contents(fd);
        if (r >= 0 && rmdir(path) < 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "cannot remove %s", path);
        return 0;
}

int home_create_directory(struct home *h, const char *password,
                          int (*prepare)(struct home *h, int dir_fd, const char *password)) {
        const struct user_record *ur = h->record;
        _cleanup_free_ char *tmp = NULL, *parent = strdup(ur->image_path);
        _cleanup_close_ int fd = -1;
        char *slash;
        int r;

        if (!parent)
                return log_oom();
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return log_fail(-EINVAL, "%s: image path must be an absolute path below /", ur->image_path);
        *slash = '\0';
        if (asprintf(&tmp, "%s/.#%s.%lx", parent, slash + 1, (unsigned long) getpid()) < 0)
                return log_oom();
        if (access(ur->image_path, F_OK) >= 0)
                return log_fail(-EEXIST, "%s already exists", ur->image_path);
        if (mkdir(tmp, 0700) < 0)
                return log_error_errno(-errno, "cannot create %s", tmp);
        fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = fd < 0 ? log_error_errno(-errno, "cannot open %s", tmp) : 0;
        if (r >= 0 && prepare)
                r = prepare(h, fd, password);
        if (r >= 0)
                r = home_populate(fd);
        if (r >= 0)
                r = home_save_embedded(h, fd);
        if (r >= 0)
                r = home_chown_tree(fd, ur->uid, ur->gid);
        if (r >= 0 && fchmod(fd, ur->access_mode) < 0)
                r = log_error_errno(-errno, "cannot set the mode of %s", tmp);
        if (r >= 0 && syncfs(fd) < 0)
                r = log_error_errno(-errno, "cannot sync %s", tmp);
        if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, ur->image_path, RENAME_NOREPLACE) < 0)
                r = log_error_errno(-errno, "cannot rename %s to %s", tmp, ur->image_path);
        if (r < 0)
                (void) home_remove_tree(tmp);
        return r;
}
