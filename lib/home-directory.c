/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The directory backend: /home/USER.homedir bind-mounted on /home/USER. No
 * encryption; the password only has to match the record's hashedPassword. */
#include <errno.h>

#include "home.h"

static int directory_create(struct home *h, const char *password) {
        return home_create_directory(h, password, NULL);
}

static int directory_activate(struct home *h, const char *password) {
        return home_mount_bind(h);
}

static int directory_deactivate(struct home *h, bool force) {
        return home_unmount(h, force);
}

static int directory_passwd(struct home *h, const char *old_password, const char *new_password,
                            int (*commit)(struct home *h)) {
        return commit(h);
}

static int directory_remove(struct home *h) {
        return home_remove_tree(h->record->image_path);
}

const struct home_backend home_backend_directory = {
        .storage = HOME_STORAGE_DIRECTORY,
        .create = directory_create,
        .activate = directory_activate,
        .deactivate = directory_deactivate,
        .passwd = directory_passwd,
        .remove = directory_remove,
};
