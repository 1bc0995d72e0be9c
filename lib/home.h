/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Homes: the host's records, session references, and the storage backends
 * (directory, fscrypt; LUKS later) behind one small interface. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "userrecord.h"

#define HOME_STATE_DIR "/var/lib/latchkey/home"   /* USER.identity, USER.user, signing keys */
#define HOME_RUN_DIR   "/run/latchkey/home"       /* USER.lock (session refs), USER.op */
#define HOME_PASSWORD_MAX 1024

enum home_state { HOME_INACTIVE, HOME_ACTIVE, HOME_LOCKED, HOME_ABSENT, _HOME_STATE_MAX };
const char *home_state_to_string(enum home_state s);

struct home {
        struct user_record *record; /* the winning record, signed */
        int op_lock_fd;             /* USER.op, held exclusively during an operation */
        const char *kdf;            /* key slot KDF cost "t=N,m=KIB,p=N"; NULL = ~1 s */
        uint8_t key_id[16];         /* fscrypt: identifier of the key added by create */
        uint64_t disk_size;         /* LUKS: bytes of the image that create makes; 0 = default */
};

struct home_backend {
        enum home_storage storage;
        /* Makes the storage at imagePath (via a temp name + rename), protected by
         * password, with the record embedded; leaves it inactive. */
        int (*create)(struct home *h, const char *password);
        /* Opens the storage with password (-ENOKEY if it does not) and mounts it on
         * homeDirectory. */
        int (*activate)(struct home *h, const char *password);
        /* Unmounts (-EBUSY if in use, lazily with force) and forgets keys. */
        int (*deactivate)(struct home *h, bool force);
        /* Re-protects the storage: adds new_password, calls commit (which rewrites the
         * records), then drops old_password, so one of the two always opens it. */
        int (*passwd)(struct home *h, const char *old_password, const char *new_password,
                      int (*commit)(struct home *h));
        int (*lock)(struct home *h);                          /* NULL: -ENOTTY */
        int (*unlock)(struct home *h, const char *password);  /* NULL: -ENOTTY */
        /* Whether the storage's keys are out of the kernel while mounted (locked). */
        int (*is_locked)(struct home *h);                     /* NULL: never */
        int (*remove)(struct home *h);
        /* LUKS: the storage's own state (NULL: homeDirectory bind-mounted from imagePath). */
        int (*get_state)(struct home *h, enum home_state *ret);
        /* LUKS: the directory that holds the embedded .identity; *ret_fd = -1 when it is
         * not reachable while inactive (NULL: imagePath). */
        int (*open_dir)(struct home *h, int *ret_fd);
        /* LUKS: extra lines for inspect, or fields added to json when it is not NULL. */
        int (*inspect)(struct home *h, json_object *json);
};
const struct home_backend *home_backend_get(enum home_storage s);
extern const struct home_backend home_backend_directory;
extern const struct home_backend home_backend_fscrypt;
extern const struct home_backend home_backend_luks;

/* Paths of the host files for user: STATE/USER.identity, STATE/USER.user. */
int home_identity_path(const char *user, const char *suffix, char **ret);

/* Loads and verifies the host record (signed by a trusted key) into h->record:
 * -ENXIO no such home, -EBADMSG invalid/unsigned/tampered (logged). */
int home_load(struct home *h, const char *user);
void home_done(struct home *h);

/* Signs h->record with the host key (created on first use). */
int home_sign(struct home *h);
/* Replaces privileged.hashedPassword with password's hash; stamps the change. */
int home_set_password(struct home *h, const char *password, uint64_t now);
/* Saves h->record, re-signed, to the host (.identity 0600 + public .user 0644). */
int home_save_host(struct home *h);
/* Writes the record into the storage: imagePath/.identity, 0600, owned by the user. */
int home_save_embedded(struct home *h, int image_fd);
/* Reads the embedded record from the open image directory, verifies it and picks
 * the newer of it and the host record (which the password must open); writes the
 * winner back to the other place. -EBADMSG on tampering or incompatibility. */
int home_reconcile(struct home *h, int image_fd, const char *password);

/* Current state of h's storage. */
int home_get_state(struct home *h, enum home_state *ret);
/* The directory holding the embedded .identity (the backend's open_dir, else
 * imagePath); *ret_fd = -1 if the storage has none while inactive (LUKS). */
int home_open_dir(struct home *h, int *ret_fd);
/* Bind-mounts the image directory on homeDirectory with the record's flags. */
int home_mount_bind(struct home *h);
/* Unmounts homeDirectory: -EBUSY when in use, unless force (lazy detach). */
int home_unmount(struct home *h, bool force);

/* Takes USER.op exclusively (blocks), for every operation that changes state. */
int home_op_lock(struct home *h);
/* Opens USER.lock and takes a shared session reference; the fd is the reference. */
int home_ref_take(const char *user, int *ret_fd);
/* Whether anyone holds a reference: 1 yes, 0 no. With ret_fd, on 0 the exclusive
 * lock stays held in *ret_fd so no reference is taken until it is closed. */
int home_ref_held(const char *user, int *ret_fd);

/* Creates the image directory as directory and fscrypt homes have it: a temp
 * directory beside imagePath, prepare() (keys, policy) on it, /etc/skel, the
 * embedded record, ownership and mode, then rename into place. */
int home_create_directory(struct home *h, const char *password,
                          int (*prepare)(struct home *h, int dir_fd, const char *password));

/* Copies /etc/skel into dir_fd (regular files, directories, symlinks as links). */
int home_populate(int dir_fd);
/* chown -R uid:gid on the tree at dir_fd, not following symlinks, not crossing mounts. */
int home_chown_tree(int dir_fd, uid_t uid, gid_t gid);
/* rm -rf of the tree at path (not crossing mounts). */
int home_remove_tree(const char *path);
