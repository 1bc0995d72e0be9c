/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The LUKS2 backend, in systemd-homed's layout: an image file /home/USER.home (a
 * bare LUKS2 volume, no GPT), one key slot per password, the record encrypted in
 * a "systemd-homed" token, ext4 inside with the home in its top directory /USER,
 * which is bind-mounted on homeDirectory; dm name home-USER.
 *
 * create needs no device-mapper: the file system is made by mkfs.ext4 -d from a
 * staging directory into a memfd and written into the data segment encrypted as
 * dm-crypt does (luks_write_data). Only activation needs the kernel's dm-crypt. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libcryptsetup.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "home.h"
#include "io.h"
#include "log.h"
#include "luks.h"
#include "password.h"
#include "recordsign.h"

#define LUKS_MIN_SIZE (32ULL << 20)

static void dm_name(const struct home *h, char buf[static 64]) {
        snprintf(buf, 64, "home-%s", h->record->user_name);
}

static int run_path(const struct home *h, const char *suffix, char **ret) {
        if (asprintf(ret, HOME_RUN_DIR "/%s%s", h->record->user_name, suffix) < 0)
                return log_oom();
        return 0;
}

/* Whether homeDirectory is a mount of /dev/mapper/NAME. */
static bool home_mounted(const struct home *h, const char *name) {
        char node[96];
        struct stat dev, dir;

        snprintf(node, sizeof node, "/dev/mapper/%s", name);
        return stat(node, &dev) >= 0 && S_ISBLK(dev.st_mode) && stat(h->record->home_directory, &dir) >= 0 &&
               dir.st_dev == dev.st_rdev;
}

static int luks_get_state(struct home *h, enum home_state *ret) {
        char name[64];
        bool suspended;
        struct stat st;
        int r;

        if (stat(h->record->image_path, &st) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(-errno, "%s", h->record->image_path);
                *ret = HOME_ABSENT;
                return 0;
        }
        dm_name(h, name);
        r = luks_active(name, &suspended);
        if (r < 0)
                return r;
        *ret = r == 0 ? HOME_INACTIVE : suspended ? HOME_LOCKED : HOME_ACTIVE;
        return 0;
}

static int luks_open_dir(struct home *h, int *ret_fd) {
        char name[64];
        int fd;

        dm_name(h, name);
        if (!home_mounted(h, name)) {
                *ret_fd = -1;
                return 0;
        }
        fd = open(h->record->home_directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s", h->record->home_directory);
        *ret_fd = fd;
        return 0;
}

static int record_text(const struct home *h, char **ret, size_t *ret_size) {
        return user_record_format(h->record, ret, ret_size) < 0 ? log_oom() : 0;
}

/* The header's record against the host's: the newer wins (the password must open a
 * newer header record), and the header is rewritten when it differs. */
static int reconcile_token(struct home *h, struct crypt_device *cd, const struct secret *vk, const char *password) {
        _cleanup_secret_ struct secret *text = NULL;
        _cleanup_free_ char *mine = NULL;
        struct user_record *t = NULL;
        const char *why = NULL;
        size_t size;
        int r;

        r = luks_token_read(cd, vk, &text);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0) {
                r = user_record_parse((const char *) text->data, text->size, &t, &why);
                if (r < 0)
                        return log_fail(-EBADMSG, "the record in the LUKS2 header is invalid: %s", why ? why : "bad JSON");
                r = user_record_verify(t, HOME_STATE_DIR);
                if (r < 0 || r == RECORD_UNSIGNED || r == RECORD_SIGNED_FOREIGN) {
                        user_record_free(t);
                        return log_fail(-EBADMSG, "the record in the LUKS2 header is not signed by a trusted key, refusing it");
                }
                r = user_record_pick_newer(h->record, t);
                if (r < 0) {
                        user_record_free(t);
                        return log_fail(-EBADMSG, "the record in the LUKS2 header belongs to another user, refusing it");
                }
                if (r == 1) {
                        if (password_test(user_record_hashed_passwords(t), password) < 0) {
                                user_record_free(t);
                                return log_fail(-ENOKEY, "the password does not open the home's newer record");
                        }
                        user_record_free(h->record);
                        h->record = t;
                        return home_save_host(h);
                }
                user_record_free(t);
        }
        r = record_text(h, &mine, &size);
        if (r < 0)
                return r;
        if (text && text->size == size && memcmp(text->data, mine, size) == 0)
                return 0;
        return luks_token_write(cd, vk, mine, size);
}

/* mkfs.ext4 -d ROOT on the memfd, as homed formats: 4 KiB blocks, no reserved
 * blocks, label = user name, nodiscard and lazy init (never-written blocks read as
 * garbage through dm-crypt, so nothing may assume they are zero). */
static int run_mkfs(const struct home *h, const char *root, int memfd) {
        static const char *const paths[] = { "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4" };
        char label[17];
        pid_t pid;
        int status;

        snprintf(label, sizeof label, "%s", h->record->user_name);
        pid = fork();
        if (pid < 0)
                return log_error_errno(-errno, "cannot fork");
        if (pid == 0) {
                char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (dup2(memfd, 3) < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
                        _exit(127);
                for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                        execve(paths[i], (char *const[]) { "mkfs.ext4", "-q", "-F", "-t", "ext4", "-b", "4096",
                                       "-m", "0", "-L", label, "-E",
                                       "nodiscard,lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
                                       "-d", (char *) root, "/proc/self/fd/3", NULL }, env);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(-errno, "cannot wait for mkfs.ext4");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return log_fail(-ENOLINK, "cannot run mkfs.ext4 (e2fsprogs)");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_fail(-EIO, "mkfs.ext4 failed");
        return 0;
}

/* The plaintext file system, in a memfd of fs_size bytes: a staging tree under
 * the run directory (RAM) with the top directory /USER (skel, .identity, owner,
 * mode) becomes its contents. */
static int build_fs(struct home *h, uint64_t fs_size, int *ret_memfd) {
        const struct user_record *ur = h->record;
        _cleanup_free_ char *stage = NULL, *root = NULL, *top = NULL;
        _cleanup_close_ int memfd = -1, top_fd = -1;
        int r;

        r = mkdir_parents(HOME_RUN_DIR, 0755);
        if (r < 0)
                return log_error_errno(r, "cannot create %s", HOME_RUN_DIR);
        if (asprintf(&stage, HOME_RUN_DIR "/.#%s.stage.%lx", ur->user_name, (unsigned long) getpid()) < 0 ||
            asprintf(&root, "%s/root", stage) < 0 || asprintf(&top, "%s/%s", root, ur->user_name) < 0)
                return log_oom();
        (void) home_remove_tree(stage);
        if (mkdir(stage, 0700) < 0 || mkdir(root, 0755) < 0 || mkdir(top, 0700) < 0)
                r = log_error_errno(-errno, "cannot create %s", stage);
        if (r >= 0 && (top_fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                r = log_error_errno(-errno, "cannot open %s", top);
        if (r >= 0)
                r = home_populate(top_fd);
        if (r >= 0)
                r = home_save_embedded(h, top_fd);
        if (r >= 0)
                r = home_chown_tree(top_fd, ur->uid, ur->gid);
        if (r >= 0 && fchmod(top_fd, ur->access_mode) < 0)
                r = log_error_errno(-errno, "cannot set the mode of %s", top);
        if (r >= 0 && ((memfd = memfd_create("home-fs", MFD_CLOEXEC)) < 0 || ftruncate(memfd, (off_t) fs_size) < 0))
                r = log_error_errno(-errno, "cannot create the file system image in memory");
        if (r >= 0)
                r = run_mkfs(h, root, memfd);
        (void) home_remove_tree(stage);
        if (r < 0)
                return r;
        *ret_memfd = TAKE_FD(memfd);
        return 0;
}

static int parent_dir(const char *path, char **ret_parent, const char **ret_base) {
        char *p = strdup(path), *slash;
        if (!p)
                return log_oom();
        slash = strrchr(p, '/');
        if (!slash || slash == p || !slash[1]) {
                free(p);
                return log_fail(-EINVAL, "%s: image path must be an absolute path below /", path);
        }
        *slash = '\0';
        *ret_parent = p;
        *ret_base = path + (slash - p) + 1;
        return 0;
}

static int luks_create(struct home *h, const char *password) {
        const struct user_record *ur = h->record;
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        _cleanup_secret_ struct secret *vk = NULL;
        _cleanup_free_ char *parent = NULL, *tmp = NULL, *text = NULL;
        _cleanup_close_ int fd = -1, memfd = -1, dir_fd = -1;
        uint64_t size = h->disk_size, avail, offset;
        const char *base = NULL;
        struct statvfs sv;
        size_t text_size;
        int r;

        luks_setup_logging();
        r = parent_dir(ur->image_path, &parent, &base);
        if (r < 0)
                return r;
        if (access(ur->image_path, F_OK) >= 0)
                return log_fail(-EEXIST, "%s already exists", ur->image_path);
        if (statvfs(parent, &sv) < 0)
                return log_error_errno(-errno, "%s", parent);
        avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        if (size == 0) /* homed's default: most of the free space (the image is sparse) */
                size = avail / 100 * 85;
        size -= size % 4096;
        if (size < LUKS_MIN_SIZE)
                return log_fail(-ERANGE, "a LUKS home needs at least %llu MiB (disk size %" PRIu64 " bytes)",
                                LUKS_MIN_SIZE >> 20, size);
        if (size > avail)
                return log_fail(-ENOSPC, "not enough free space in %s for a %" PRIu64 " MiB home (%" PRIu64 " MiB free)",
                                parent, size >> 20, avail >> 20);
        if (asprintf(&tmp, "%s/.#%s.%lx", parent, base, (unsigned long) getpid()) < 0)
                return log_oom();
        (void) unlink(tmp);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return log_error_errno(-errno, "cannot create %s", tmp);
        if (ftruncate(fd, (off_t) size) < 0)
                r = log_error_errno(-errno, "cannot size %s", tmp);
        if (r >= 0)
                r = luks_format(fd, ur->user_name, h->kdf, password, &cd, &vk);
        if (r >= 0) {
                offset = luks_data_offset(cd);
                r = build_fs(h, (size - offset) / 4096 * 4096, &memfd);
        }
        if (r >= 0)
                r = luks_write_data(cd, vk, fd, memfd);
        if (r >= 0)
                r = record_text(h, &text, &text_size);
        if (r >= 0)
                r = luks_token_write(cd, vk, text, text_size);
        if (r >= 0 && fsync(fd) < 0)
                r = log_error_errno(-errno, "cannot sync %s", tmp);
        if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, ur->image_path, RENAME_NOREPLACE) < 0)
                r = log_error_errno(-errno, "cannot rename %s to %s", tmp, ur->image_path);
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        if ((dir_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
                (void) fsync(dir_fd);
        return 0;
}

/* Mounts the volume in a private work directory under the run directory, hands
 * its top directory /USER to homeDirectory as a bind mount with the record's
 * flags, and drops the work mount: lost+found stays outside the home. */
static int mount_home(struct home *h, const char *name) {
        const struct user_record *ur = h->record;
        /* The work mount is always nosuid,nodev; the home gets the record's flags. */
        unsigned long work_flags = MS_NOSUID | MS_NODEV | MS_RELATIME;
        unsigned long flags = (ur->mount_nosuid ? MS_NOSUID : 0) | (ur->mount_nodev ? MS_NODEV : 0) |
                              (ur->mount_noexec ? MS_NOEXEC : 0) | MS_RELATIME;
        _cleanup_free_ char *work = NULL, *top = NULL;
        _cleanup_close_ int top_fd = -1;
        char node[96];
        struct stat st;
        int r = 0;

        snprintf(node, sizeof node, "/dev/mapper/%s", name);
        r = run_path(h, ".mount", &work);
        if (r < 0)
                return r;
        if (asprintf(&top, "%s/%s", work, ur->user_name) < 0)
                return log_oom();
        (void) mkdir_parents(HOME_RUN_DIR, 0755);
        if (mkdir(work, 0700) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "cannot create %s", work);
        if (mount(node, work, "ext4", work_flags, "noquota,user_xattr") < 0) {
                r = log_error_errno(-errno, "cannot mount %s (ext4)", node);
                (void) rmdir(work);
                return r;
        }
        top_fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top_fd < 0)
                r = log_fail(-EBADMSG, "the file system of %s has no top directory /%s", ur->image_path, ur->user_name);
        if (r >= 0 && fstat(top_fd, &st) < 0)
                r = log_error_errno(-errno, "%s", top);
        /* A home moved between hosts (another UID): give it to the record's user. */
        if (r >= 0 && (st.st_uid != ur->uid || st.st_gid != ur->gid))
                r = home_chown_tree(top_fd, ur->uid, ur->gid);
        if (top_fd >= 0)
                close(TAKE_FD(top_fd));
        if (r >= 0 && mkdir(ur->home_directory, 0755) < 0 && errno != EEXIST)
                r = log_error_errno(-errno, "cannot create %s", ur->home_directory);
        if (r >= 0 && mount(top, ur->home_directory, NULL, MS_BIND, NULL) < 0)
                r = log_error_errno(-errno, "cannot mount %s on %s", top, ur->home_directory);
        if (r >= 0 && mount(NULL, ur->home_directory, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0) {
                r = log_error_errno(-errno, "cannot set mount flags on %s", ur->home_directory);
                (void) umount2(ur->home_directory, MNT_DETACH);
        }
        if (umount2(work, UMOUNT_NOFOLLOW) < 0)
                (void) umount2(work, MNT_DETACH | UMOUNT_NOFOLLOW);
        (void) rmdir(work);
        return r;
}

static int luks_home_activate(struct home *h, const char *password) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        _cleanup_secret_ struct secret *vk = NULL;
        _cleanup_close_ int fd = -1;
        char name[64];
        bool suspended;
        int r;

        luks_setup_logging();
        dm_name(h, name);
        if (luks_active(name, &suspended) > 0)
                return log_fail(-EALREADY, "/dev/mapper/%s already exists", name);
        r = luks_lock_image(h->record->image_path, &fd);
        if (r >= 0)
                r = luks_load(fd, &cd);
        if (r >= 0)
                r = luks_unlock(cd, password, &vk, NULL);
        if (r >= 0)
                r = reconcile_token(h, cd, vk, password);
        if (r >= 0)
                r = luks_activate(cd, name, vk);
        if (r < 0)
                return r;
        secret_free(TAKE_PTR(vk));
        r = mount_home(h, name);
        if (r < 0)
                (void) luks_deactivate(name, false);
        return r;
}

/* Returns the unused blocks to the image's file system (the loop device punches
 * holes). The sync first commits the journal, which is what frees deleted blocks. */
static void trim(const char *dir) {
        struct fstrim_range range = { .len = UINT64_MAX };
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || syncfs(fd) < 0 || ioctl(fd, FITRIM, &range) < 0)
                log_debug("cannot trim %s: %m", dir);
        else
                log_debug("trimmed %llu bytes of %s", (unsigned long long) range.len, dir);
}

static int luks_home_deactivate(struct home *h, bool force) {
        _cleanup_free_ char *work = NULL;
        char name[64];
        bool suspended;
        int r;

        dm_name(h, name);
        r = luks_active(name, &suspended);
        if (r < 0)
                return r;
        if (r == 0)
                return log_fail(-ENOEXEC, "the home of %s is not active", h->record->user_name);
        if (suspended)
                return log_fail(-EBUSY, "the home of %s is locked, unlock it first", h->record->user_name);
        if (home_mounted(h, name)) {
                trim(h->record->home_directory);
                r = home_unmount(h, force);
                if (r < 0)
                        return r;
        }
        /* A work mount left by an interrupted activation. */
        if (run_path(h, ".mount", &work) >= 0 && umount2(work, UMOUNT_NOFOLLOW) >= 0)
                (void) rmdir(work);
        r = luks_deactivate(name, false);
        if (r == -EBUSY && force) {
                log_warning("/dev/mapper/%s is still in use, it goes away when released", name);
                r = luks_deactivate(name, true);
        }
        return r;
}

static int luks_home_passwd(struct home *h, const char *old_password, const char *new_password,
                            int (*commit)(struct home *h)) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        _cleanup_secret_ struct secret *vk = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        int r, old_slot, new_slot;
        size_t size;

        luks_setup_logging();
        r = luks_lock_image(h->record->image_path, &fd);
        if (r >= 0)
                r = luks_load(fd, &cd);
        if (r >= 0)
                r = luks_unlock(cd, old_password, &vk, &old_slot);
        /* The record holds one password, so any other slot is left over from an
         * interrupted passwd. Never zero slots: the old one goes only after the new
         * one opened and the records were rewritten. */
        if (r >= 0)
                r = luks_drop_slots_except(cd, old_slot);
        if (r >= 0)
                r = h->kdf ? luks_set_pbkdf(cd, h->kdf) : luks_set_pbkdf_from_slot(cd, old_slot);
        if (r >= 0)
                r = luks_add_slot(cd, vk, new_password, &new_slot);
        if (r < 0)
                return r;
        r = commit(h);
        if (r < 0) {
                (void) crypt_keyslot_destroy(cd, new_slot);
                return r;
        }
        r = record_text(h, &text, &size);
        if (r >= 0)
                r = luks_token_write(cd, vk, text, size);
        if (r < 0)
                log_warning("the LUKS2 header keeps the old record until the next activation");
        return luks_drop_slots_except(cd, new_slot);
}

static int luks_home_lock(struct home *h) {
        _cleanup_close_ int fd = open(h->record->home_directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char name[64];

        luks_setup_logging();
        dm_name(h, name);
        if (fd >= 0 && syncfs(fd) < 0)
                log_warning("cannot sync %s: %m", h->record->home_directory);
        if (fd >= 0)
                close(TAKE_FD(fd));
        return luks_suspend(name);
}

static int luks_home_unlock(struct home *h, const char *password) {
        char name[64];

        luks_setup_logging();
        dm_name(h, name);
        return luks_resume(name, password);
}

static int luks_home_remove(struct home *h) {
        if (unlink(h->record->image_path) < 0 && errno != ENOENT)
                return log_error_errno(-errno, "cannot remove %s", h->record->image_path);
        return 0;
}

static int luks_home_inspect(struct home *h, json_object *json) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        _cleanup_close_ int fd = -1;
        json_object *slots = json_object_new_array(), *o = json_object_new_object();
        char name[64], slot_text[256] = "", cipher[64];
        const char *pbkdf = "?";
        bool suspended;
        int r, active, token = -1;

        luks_setup_logging();
        dm_name(h, name);
        fd = open(h->record->image_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        r = fd < 0 ? log_error_errno(-errno, "cannot open %s", h->record->image_path) : luks_load(fd, &cd);
        if (r < 0 || !slots || !o) {
                json_object_put(slots);
                json_object_put(o);
                return r < 0 ? r : log_oom();
        }
        for (int i = 0; i < crypt_keyslot_max(CRYPT_LUKS2); i++) {
                crypt_keyslot_info s = crypt_keyslot_status(cd, i);
                struct crypt_pbkdf_type p;
                if (s != CRYPT_SLOT_ACTIVE && s != CRYPT_SLOT_ACTIVE_LAST)
                        continue;
                json_object_array_add(slots, json_object_new_int(i));
                if (crypt_keyslot_get_pbkdf(cd, i, &p) >= 0 && p.type)
                        pbkdf = p.type;
                snprintf(slot_text + strlen(slot_text), sizeof slot_text - strlen(slot_text), "%s%d",
                         *slot_text ? " " : "", i);
        }
        for (int id = 0; id < 32 && token < 0; id++) {
                const char *type = NULL;
                if (crypt_token_status(cd, id, &type) != CRYPT_TOKEN_INACTIVE && type && !strcmp(type, LUKS_TOKEN_TYPE))
                        token = id;
        }
        snprintf(cipher, sizeof cipher, "%s-%s", crypt_get_cipher(cd), crypt_get_cipher_mode(cd));
        active = luks_active(name, &suspended);
        json_object_object_add(o, "uuid", json_object_new_string(crypt_get_uuid(cd) ?: ""));
        json_object_object_add(o, "label", json_object_new_string(crypt_get_label(cd) ?: ""));
        json_object_object_add(o, "subsystem", json_object_new_string(crypt_get_subsystem(cd) ?: ""));
        json_object_object_add(o, "cipher", json_object_new_string(cipher));
        json_object_object_add(o, "volumeKeyBits", json_object_new_int(crypt_get_volume_key_size(cd) * 8));
        json_object_object_add(o, "sectorSize", json_object_new_int(crypt_get_sector_size(cd)));
        json_object_object_add(o, "dataOffset", json_object_new_uint64(luks_data_offset(cd)));
        json_object_object_add(o, "keySlots", slots);
        json_object_object_add(o, "pbkdf", json_object_new_string(pbkdf));
        json_object_object_add(o, "recordToken", token >= 0 ? json_object_new_int(token) : NULL);
        json_object_object_add(o, "device", active > 0 ? json_object_new_string(name) : NULL);
        if (json) {
                json_object_object_add(json, "luks", o);
                return 0;
        }
        printf("%15s: %s\n", "LUKS UUID", crypt_get_uuid(cd) ?: "");
        printf("%15s: %s / %s\n", "LUKS label", crypt_get_label(cd) ?: "", crypt_get_subsystem(cd) ?: "");
        printf("%15s: %s, %d-bit key, %d-byte sectors\n", "Cipher", cipher, crypt_get_volume_key_size(cd) * 8,
               crypt_get_sector_size(cd));
        printf("%15s: %" PRIu64 " bytes\n", "Data offset", luks_data_offset(cd));
        printf("%15s: %s (%s)\n", "Key slots", slot_text, pbkdf);
        if (token >= 0)
                printf("%15s: %d (%s)\n", "Record token", token, LUKS_TOKEN_TYPE);
        else
                printf("%15s: none\n", "Record token");
        printf("%15s: %s%s\n", "Device", active > 0 ? "/dev/mapper/" : "", active > 0 ? name : "inactive");
        json_object_put(o);
        return 0;
}

const struct home_backend home_backend_luks = {
        .storage = HOME_STORAGE_LUKS,
        .create = luks_create,
        .activate = luks_home_activate,
        .deactivate = luks_home_deactivate,
        .passwd = luks_home_passwd,
        .lock = luks_home_lock,
        .unlock = luks_home_unlock,
        .remove = luks_home_remove,
        .get_state = luks_get_state,
        .open_dir = luks_open_dir,
        .inspect = luks_home_inspect,
};
