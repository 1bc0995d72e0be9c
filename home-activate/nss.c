/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libnss_latchkey.so.2: glibc NSS module ("passwd: files latchkey", "group: files
 * latchkey") resolving the users of home-activate from their public records,
 * /var/lib/latchkey/home/USER.user (systemd JSON user records). Each user also
 * gets a private group named like the user, with the record's gid and no members.
 *
 * This code runs inside every process that looks up a user: it never prints,
 * never calls getpw*()/getgr*() (no recursion into NSS), reads only the *.user
 * files (never the private *.identity files next to them), restores errno, and
 * reports errors only through the NSS status and *errnop. Files it does not
 * trust (symlinks, not regular, not owned by root, group/world-writable, larger
 * than USER_RECORD_MAX, not parseable, or whose userName differs from the file
 * name) are skipped silently, as if they did not exist. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "userrecord.h"

#define HOME_RECORD_DIR "/var/lib/latchkey/home"
#define RECORD_SUFFIX ".user"
#define DEFAULT_SHELL "/bin/bash"
#define DEFAULT_HOME_PARENT "/home/"

#define _public_ __attribute__((visibility("default")))

static inline void closedirp(DIR **d) {
        if (*d) {
                int saved = errno;
                closedir(*d);
                errno = saved;
        }
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* The error codes below are the module's own vocabulary:
 *   -ENOENT   no such user / nothing there: NSS_STATUS_NOTFOUND
 *   -EBADMSG  a file that is not trusted or not a valid record: skipped (NOTFOUND)
 *   -ERANGE   the caller's buffer is too small: NSS_STATUS_TRYAGAIN
 *   others    I/O or resource errors (EIO, ENOMEM, EMFILE, EACCES on the
 *             directory, ...): NSS_STATUS_UNAVAIL */
static bool error_is_skippable(int r) {
        return r == -ENOENT || r == -EBADMSG;
}

/* The status for the result r of an entry point's work, once all its cleanups
 * have run. errno is what the caller had (glibc passes &errno as errnop, so
 * *errnop is set after restoring it), as systemd's NSS modules do: NOTFOUND
 * leaves both alone; TRYAGAIN + ERANGE asks for a bigger buffer. */
static enum nss_status nss_status(int r, int saved_errno, int *errnop) {
        errno = saved_errno;
        if (r >= 0)
                return NSS_STATUS_SUCCESS;
        if (error_is_skippable(r))
                return NSS_STATUS_NOTFOUND;
        *errnop = -r;
        return r == -ERANGE ? NSS_STATUS_TRYAGAIN : NSS_STATUS_UNAVAIL;
}

/* Opens the record directory. -ENOENT if it is missing, or not trusted (a
 * symlink, not a directory, not root's, group/world-writable): no users then. */
static int record_dir_open(int *ret) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = open(HOME_RECORD_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? -ENOENT : negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return -ENOENT;
        *ret = TAKE_FD(fd);
        return 0;
}

/* "NAME.user" with a valid user name NAME: copies NAME to stem (size NAME_MAX+1). */
static bool record_file_name_stem(const char *file_name, char *stem) {
        size_t n = strlen(file_name), sn = strlen(RECORD_SUFFIX);

        if (n <= sn || n - sn > NAME_MAX || strcmp(file_name + n - sn, RECORD_SUFFIX) != 0)
                return false;
        memcpy(stem, file_name, n - sn);
        stem[n - sn] = '\0';
        return user_name_is_valid(stem);
}

/* A string that passwd/group lines can carry: no ':' and no control characters. */
static bool field_is_valid(const char *s) {
        for (; *s; s++)
                if (*s == ':' || (unsigned char) *s < ' ' || *s == 0x7f)
                        return false;
        return true;
}

static bool id_is_valid(uint32_t id) {
        /* Never root, nobody (65534), or the invalid ids 0xffff / 0xffffffff. */
        return id != 0 && id != 65534 && id != 0xffff && id != UINT32_MAX;
}

/* Reads and parses dir_fd/NAME.user and checks that it describes NAME and can be
 * shown as a passwd line. -ENOENT: no such file; -EBADMSG: untrusted or invalid. */
static int record_load(int dir_fd, const char *user_name, struct user_record **ret) {
        _cleanup_user_record_ struct user_record *ur = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        char file_name[NAME_MAX + 1];
        struct stat st;
        size_t size, done = 0;
        int r;

        if (!user_name_is_valid(user_name))
                return -ENOENT;
        if ((size_t) snprintf(file_name, sizeof file_name, "%s" RECORD_SUFFIX, user_name) >= sizeof file_name)
                return -ENOENT;

        /* O_NONBLOCK: opening a FIFO planted here must not hang the caller. */
        fd = openat(dir_fd, file_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                /* A symlink, a socket, a file we may not read: not a record for us. */
                if (errno == ELOOP || errno == ENXIO || errno == EACCES || errno == EPERM ||
                    errno == EWOULDBLOCK || errno == ENODEV)
                        return -EBADMSG;
                return negative_errno();
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
            st.st_size <= 0 || st.st_size > USER_RECORD_MAX)
                return -EBADMSG;

        size = (size_t) st.st_size;
        text = malloc(size + 1);
        if (!text)
                return -ENOMEM;
        while (done < size) {
                ssize_t n = read(fd, text + done, size - done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EBADMSG; /* shrank under us */
                done += (size_t) n;
        }
        text[size] = '\0';

        r = user_record_parse(text, size, &ur, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;

        if (!ur->user_name || strcmp(ur->user_name, user_name) != 0)
                return -EBADMSG;
        if (!id_is_valid(ur->uid) || (ur->gid != (gid_t) -1 && !id_is_valid(ur->gid)))
                return -EBADMSG;
        if ((ur->real_name && !field_is_valid(ur->real_name)) ||
            (ur->home_directory && (ur->home_directory[0] != '/' || !field_is_valid(ur->home_directory))) ||
            (ur->shell && (ur->shell[0] != '/' || !field_is_valid(ur->shell))))
                return -EBADMSG;

        *ret = TAKE_PTR(ur);
        return 0;
}

static gid_t record_gid(const struct user_record *ur) {
        /* systemd: a record without gid has gid = uid. */
        return ur->gid == (gid_t) -1 ? (gid_t) ur->uid : ur->gid;
}

/* Copies strings into the caller's buffer; every pointer handed out points there. */
struct packer {
        char *p;
        size_t left;
};

static char *pack_bytes(struct packer *k, const char *s, size_t n) {
        char *d;

        if (k->left < n)
                return NULL;
        d = memcpy(k->p, s, n);
        k->p += n;
        k->left -= n;
        return d;
}

static char *pack_string(struct packer *k, const char *s) {
        return pack_bytes(k, s, strlen(s) + 1);
}

static int fill_passwd(const struct user_record *ur, struct passwd *pwd, char *buffer, size_t buflen) {
        struct packer k = { buffer, buflen };
        const char *name = ur->user_name;
        char *home;

        if (!(pwd->pw_name = pack_string(&k, name)) ||
            !(pwd->pw_passwd = pack_string(&k, "x")) ||
            /* as systemd: the real name, else the user name */
            !(pwd->pw_gecos = pack_string(&k, ur->real_name ?: name)) ||
            !(pwd->pw_shell = pack_string(&k, ur->shell ?: DEFAULT_SHELL)))
                return -ERANGE;
        if (ur->home_directory)
                home = pack_string(&k, ur->home_directory);
        else {
                /* "/home/" NAME: two pieces, one string. */
                home = pack_bytes(&k, DEFAULT_HOME_PARENT, strlen(DEFAULT_HOME_PARENT));
                if (home && !pack_string(&k, name))
                        home = NULL;
        }
        if (!home)
                return -ERANGE;
        pwd->pw_dir = home;
        pwd->pw_uid = ur->uid;
        pwd->pw_gid = record_gid(ur);
        return 0;
}

static int fill_group(const struct user_record *ur, struct group *gr, char *buffer, size_t buflen) {
        struct packer k = { buffer, buflen };
        size_t pad = (alignof(char *) - (uintptr_t) buffer % alignof(char *)) % alignof(char *);
        char **members;

        /* gr_mem first: an empty, NULL-terminated array, aligned. */
        if (buflen < pad + sizeof(char *))
                return -ERANGE;
        members = (char **) (void *) (buffer + pad);
        members[0] = NULL;
        k.p += pad + sizeof(char *);
        k.left -= pad + sizeof(char *);

        if (!(gr->gr_name = pack_string(&k, ur->user_name)) ||
            !(gr->gr_passwd = pack_string(&k, "x")))
                return -ERANGE;
        gr->gr_gid = record_gid(ur);
        gr->gr_mem = members;
        return 0;
}

/* Reads the directory entry de of dir_fd: 0 and *ret for a usable record; -ENOENT
 * or -EBADMSG for entries to skip; other errors are real. */
static int record_load_entry(int dir_fd, const struct dirent *de, struct user_record **ret) {
        char stem[NAME_MAX + 1];

        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                return -ENOENT;
        if (!record_file_name_stem(de->d_name, stem))
                return -ENOENT;
        return record_load(dir_fd, stem, ret);
}

/* The first record whose uid (by_gid false) or gid (by_gid true) is id. */
static int record_find_by_id(uint32_t id, bool by_gid, struct user_record **ret) {
        _cleanup_closedir_ DIR *d = NULL;
        int fd = -1, r;

        if (!id_is_valid(id))
                return -ENOENT;
        r = record_dir_open(&fd);
        if (r < 0)
                return r;
        d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                close(fd);
                return r;
        }
        for (;;) {
                _cleanup_user_record_ struct user_record *ur = NULL;
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de)
                        return errno > 0 ? -errno : -ENOENT;
                r = record_load_entry(dirfd(d), de, &ur);
                if (error_is_skippable(r))
                        continue;
                if (r < 0)
                        return r;
                if (by_gid ? record_gid(ur) == (gid_t) id : ur->uid == (uid_t) id) {
                        *ret = TAKE_PTR(ur);
                        return 0;
                }
        }
}

static int record_find_by_name(const char *name, struct user_record **ret) {
        _cleanup_close_ int fd = -1;
        int r;

        if (!name || !user_name_is_valid(name))
                return -ENOENT;
        r = record_dir_open(&fd);
        if (r < 0)
                return r;
        return record_load(fd, name, ret);
}

/* --- lookups ------------------------------------------------------------- */

static int passwd_by_name(const char *name, struct passwd *pwd, char *buffer, size_t buflen) {
        _cleanup_user_record_ struct user_record *ur = NULL;
        int r;

        r = record_find_by_name(name, &ur);
        if (r < 0)
                return r;
        return fill_passwd(ur, pwd, buffer, buflen);
}

static int passwd_by_uid(uid_t uid, struct passwd *pwd, char *buffer, size_t buflen) {
        _cleanup_user_record_ struct user_record *ur = NULL;
        int r;

        r = record_find_by_id(uid, false, &ur);
        if (r < 0)
                return r;
        return fill_passwd(ur, pwd, buffer, buflen);
}

static int group_by_name(const char *name, struct group *gr, char *buffer, size_t buflen) {
        _cleanup_user_record_ struct user_record *ur = NULL;
        int r;

        r = record_find_by_name(name, &ur);
        if (r < 0)
                return r;
        return fill_group(ur, gr, buffer, buflen);
}

static int group_by_gid(gid_t gid, struct group *gr, char *buffer, size_t buflen) {
        _cleanup_user_record_ struct user_record *ur = NULL;
        int r;

        r = record_find_by_id(gid, true, &ur);
        if (r < 0)
                return r;
        return fill_group(ur, gr, buffer, buflen);
}

/* --- enumeration ----------------------------------------------------------- */

/* One per database. The entry whose copy did not fit the caller's buffer is
 * remembered in pending and handed out first on the retry (glibc calls again
 * with a bigger buffer after TRYAGAIN/ERANGE). */
struct enumeration {
        pthread_mutex_t mutex;
        DIR *dir;
        char pending[NAME_MAX + 1];
};

static struct enumeration pw_enum = { .mutex = PTHREAD_MUTEX_INITIALIZER };
static struct enumeration gr_enum = { .mutex = PTHREAD_MUTEX_INITIALIZER };

static void enumeration_close(struct enumeration *e) {
        if (e->dir)
                closedir(e->dir);
        e->dir = NULL;
        e->pending[0] = '\0';
}

/* The mutex is held only with cancellation disabled (open() and read() are
 * cancellation points): a cancelled thread must not leave it locked. */
static void enumeration_lock(struct enumeration *e, int *ret_cancel_state) {
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, ret_cancel_state);
        pthread_mutex_lock(&e->mutex);
}

static void enumeration_unlock(struct enumeration *e, int cancel_state) {
        pthread_mutex_unlock(&e->mutex);
        pthread_setcancelstate(cancel_state, NULL);
}

static void enumeration_set(struct enumeration *e) {
        int fd = -1, cancel_state;

        enumeration_lock(e, &cancel_state);
        enumeration_close(e);
        /* A missing or untrusted directory is an empty enumeration, not an error. */
        if (record_dir_open(&fd) >= 0) {
                e->dir = fdopendir(fd);
                if (!e->dir)
                        close(fd);
        }
        enumeration_unlock(e, cancel_state);
}

static void enumeration_end(struct enumeration *e) {
        int cancel_state;

        enumeration_lock(e, &cancel_state);
        enumeration_close(e);
        enumeration_unlock(e, cancel_state);
}

/* The next usable record, or -ENOENT at the end. */
static int enumeration_next(struct enumeration *e, struct user_record **ret) {
        int r;

        if (!e->dir)
                return -ENOENT;
        if (e->pending[0]) {
                _cleanup_user_record_ struct user_record *ur = NULL;

                r = record_load(dirfd(e->dir), e->pending, &ur);
                e->pending[0] = '\0';
                if (r >= 0) {
                        *ret = TAKE_PTR(ur);
                        return 0;
                }
                if (!error_is_skippable(r))
                        return r;
                /* Gone or changed since: carry on with the directory. */
        }
        for (;;) {
                _cleanup_user_record_ struct user_record *ur = NULL;
                struct dirent *de;

                errno = 0;
                de = readdir(e->dir);
                if (!de)
                        return errno > 0 ? -errno : -ENOENT;
                r = record_load_entry(dirfd(e->dir), de, &ur);
                if (error_is_skippable(r))
                        continue;
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(ur);
                return 0;
        }
}

typedef int (*fill_fn)(const struct user_record *ur, void *result, char *buffer, size_t buflen);

static int fill_passwd_any(const struct user_record *ur, void *result, char *buffer, size_t buflen) {
        return fill_passwd(ur, result, buffer, buflen);
}

static int fill_group_any(const struct user_record *ur, void *result, char *buffer, size_t buflen) {
        return fill_group(ur, result, buffer, buflen);
}

/* Called with e->mutex held. */
static int enumeration_get_locked(struct enumeration *e, fill_fn fill, void *result, char *buffer, size_t buflen) {
        _cleanup_user_record_ struct user_record *ur = NULL;
        int r;

        r = enumeration_next(e, &ur);
        if (r < 0)
                return r;
        r = fill(ur, result, buffer, buflen);
        if (r == -ERANGE)
                /* Keep it for the retry with a bigger buffer. */
                strcpy(e->pending, ur->user_name);
        return r;
}

static int enumeration_get(struct enumeration *e, fill_fn fill, void *result, char *buffer, size_t buflen) {
        int r, cancel_state;

        enumeration_lock(e, &cancel_state);
        r = enumeration_get_locked(e, fill, result, buffer, buflen);
        enumeration_unlock(e, cancel_state);
        return r;
}

/* --- entry points ---------------------------------------------------------- */

enum nss_status _nss_latchkey_getpwnam_r(const char *name, struct passwd *pwd, char *buffer, size_t buflen,
                                         int *errnop) _public_;
enum nss_status _nss_latchkey_getpwnam_r(const char *name, struct passwd *pwd, char *buffer, size_t buflen,
                                         int *errnop) {
        int saved_errno = errno;

        return nss_status(passwd_by_name(name, pwd, buffer, buflen), saved_errno, errnop);
}

enum nss_status _nss_latchkey_getpwuid_r(uid_t uid, struct passwd *pwd, char *buffer, size_t buflen,
                                         int *errnop) _public_;
enum nss_status _nss_latchkey_getpwuid_r(uid_t uid, struct passwd *pwd, char *buffer, size_t buflen,
                                         int *errnop) {
        int saved_errno = errno;

        return nss_status(passwd_by_uid(uid, pwd, buffer, buflen), saved_errno, errnop);
}

enum nss_status _nss_latchkey_getgrnam_r(const char *name, struct group *gr, char *buffer, size_t buflen,
                                         int *errnop) _public_;
enum nss_status _nss_latchkey_getgrnam_r(const char *name, struct group *gr, char *buffer, size_t buflen,
                                         int *errnop) {
        int saved_errno = errno;

        return nss_status(group_by_name(name, gr, buffer, buflen), saved_errno, errnop);
}

enum nss_status _nss_latchkey_getgrgid_r(gid_t gid, struct group *gr, char *buffer, size_t buflen,
                                         int *errnop) _public_;
enum nss_status _nss_latchkey_getgrgid_r(gid_t gid, struct group *gr, char *buffer, size_t buflen,
                                         int *errnop) {
        int saved_errno = errno;

        return nss_status(group_by_gid(gid, gr, buffer, buflen), saved_errno, errnop);
}

enum nss_status _nss_latchkey_setpwent(int stayopen) _public_;
enum nss_status _nss_latchkey_setpwent(int stayopen) {
        int saved_errno = errno;

        enumeration_set(&pw_enum);
        errno = saved_errno;
        return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_latchkey_endpwent(void) _public_;
enum nss_status _nss_latchkey_endpwent(void) {
        int saved_errno = errno;

        enumeration_end(&pw_enum);
        errno = saved_errno;
        return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_latchkey_getpwent_r(struct passwd *pwd, char *buffer, size_t buflen, int *errnop) _public_;
enum nss_status _nss_latchkey_getpwent_r(struct passwd *pwd, char *buffer, size_t buflen, int *errnop) {
        int saved_errno = errno;

        return nss_status(enumeration_get(&pw_enum, fill_passwd_any, pwd, buffer, buflen), saved_errno, errnop);
}

enum nss_status _nss_latchkey_setgrent(int stayopen) _public_;
enum nss_status _nss_latchkey_setgrent(int stayopen) {
        int saved_errno = errno;

        enumeration_set(&gr_enum);
        errno = saved_errno;
        return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_latchkey_endgrent(void) _public_;
enum nss_status _nss_latchkey_endgrent(void) {
        int saved_errno = errno;

        enumeration_end(&gr_enum);
        errno = saved_errno;
        return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_latchkey_getgrent_r(struct group *gr, char *buffer, size_t buflen, int *errnop) _public_;
enum nss_status _nss_latchkey_getgrent_r(struct group *gr, char *buffer, size_t buflen, int *errnop) {
        int saved_errno = errno;

        return nss_status(enumeration_get(&gr_enum, fill_group_any, gr, buffer, buflen), saved_errno, errnop);
}
