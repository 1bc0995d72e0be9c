/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LUKS2 volumes for homes through libcryptsetup (see luks.h). The token record and
 * the offline data writer use libgcrypt's AES-XTS, as the kernel's dm-crypt does. */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <json-c/json.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base64.h"
#include "log.h"
#include "luks.h"

#define LUKS_IV_SIZE 16

void luks_crypt_freep(struct crypt_device **cd) {
        if (*cd)
                crypt_free(*cd);
}

static void log_callback(int level, const char *msg, void *userdata) {
        size_t n = strlen(msg);
        while (n > 0 && msg[n - 1] == '\n')
                n--;
        log_debug("libcryptsetup: %.*s", (int) n, msg);
}

void luks_setup_logging(void) {
        static bool done = false;

        if (done)
                return;
        done = true;
        crypt_set_log_callback(NULL, log_callback, NULL);
        /* libcryptsetup flocks an image file itself, through its own descriptor:
         * that would deadlock against luks_lock_image(), whose exclusive lock covers
         * every change we make (cryptsetup run by others still waits for it). */
        (void) crypt_metadata_locking(NULL, 0);
}

int luks_lock_image(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        luks_setup_logging();
        fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s", path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "%s", path);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return log_fail(-EBADMSG, "%s is neither an image file nor a block device", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return log_fail(-EADDRINUSE, "%s is in use elsewhere (another process holds its lock)", path);
                return log_error_errno(-errno, "cannot lock %s", path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* libcryptsetup reopens by name; /proc/self/fd/N keeps it on the file we opened
 * without following links. */
static int crypt_init_fd(int fd, struct crypt_device **ret) {
        char path[64];
        int r;

        luks_setup_logging();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        r = crypt_init(ret, path);
        if (r < 0)
                return log_error_errno(r, "cannot set up libcryptsetup on the image");
        return 0;
}

static int cipher_algo(size_t key_size) {
        return key_size == 32 ? GCRY_CIPHER_AES128 : key_size == 64 ? GCRY_CIPHER_AES256 : -1;
}

int luks_load(int image_fd, struct crypt_device **ret) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        const char *cipher, *mode;
        int r;

        r = crypt_init_fd(image_fd, &cd);
        if (r < 0)
                return r;
        r = crypt_load(cd, CRYPT_LUKS2, NULL);
        if (r == -EINVAL || r == -ENOENT)
                return log_fail(-EMEDIUMTYPE, "the image is not a LUKS2 volume");
        if (r < 0)
                return log_error_errno(r, "cannot read the LUKS2 header");
        cipher = crypt_get_cipher(cd);
        mode = crypt_get_cipher_mode(cd);
        if (!cipher || !mode || strcmp(cipher, "aes") != 0 || strcmp(mode, "xts-plain64") != 0 ||
            cipher_algo((size_t) crypt_get_volume_key_size(cd)) < 0)
                return log_fail(-EBADMSG, "the LUKS2 volume uses %s-%s with a %d-byte key; homes use aes-xts-plain64",
                                cipher ? cipher : "?", mode ? mode : "?", crypt_get_volume_key_size(cd));
        *ret = TAKE_PTR(cd);
        return 0;
}

int luks_set_pbkdf(struct crypt_device *cd, const char *kdf) {
        struct keyslot_kdf k = { .iterations = 3, .memory_kib = 65536, .lanes = 1 };
        struct crypt_pbkdf_type p;
        int r;

        if (!kdf) {
                r = crypt_set_pbkdf_type(cd, NULL); /* the LUKS2 default */
                return r < 0 ? log_error_errno(r, "cannot set the key derivation") : 0;
        }
        if (keyslot_kdf_from_string(kdf, &k) < 0)
                return log_fail(-EINVAL, "invalid KDF cost: %s", kdf);
        p = (struct crypt_pbkdf_type) {
                .type = CRYPT_KDF_ARGON2ID,
                .hash = "sha256",
                .iterations = k.iterations,
                .max_memory_kb = k.memory_kib,
                .parallel_threads = k.lanes,
                .flags = CRYPT_PBKDF_NO_BENCHMARK,
        };
        r = crypt_set_pbkdf_type(cd, &p);
        if (r < 0)
                return log_error_errno(r, "cannot use the KDF cost %s (argon2id needs m >= 32)", kdf);
        return 0;
}

int luks_set_pbkdf_from_slot(struct crypt_device *cd, int slot) {
        struct crypt_pbkdf_type p;
        int r;

        r = crypt_keyslot_get_pbkdf(cd, slot, &p);
        if (r < 0)
                return log_error_errno(r, "cannot read the cost of LUKS key slot %d", slot);
        p.flags |= CRYPT_PBKDF_NO_BENCHMARK;
        p.time_ms = 0;
        r = crypt_set_pbkdf_type(cd, &p);
        if (r < 0)
                return log_error_errno(r, "cannot reuse the cost of LUKS key slot %d", slot);
        return 0;
}

static int random_bytes(void *p, size_t n) {
        /* getrandom(): libgcrypt's very-strong pool would stay allocated until exit. */
        if (getrandom(p, n, 0) != (ssize_t) n)
                return log_error_errno(-EIO, "cannot get random bytes");
        return 0;
}

int luks_format(int image_fd, const char *label, const char *kdf, const char *password,
                struct crypt_device **ret_cd, struct secret **ret_vk) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        _cleanup_secret_ struct secret *vk = NULL;
        struct crypt_params_luks2 params = {
                .sector_size = LUKS_SECTOR_SIZE,
                .label = label,
                .subsystem = LUKS_SUBSYSTEM,
        };
        int r, slot;

        r = secret_new(LUKS_VOLUME_KEY_SIZE, &vk);
        if (r < 0)
                return log_oom();
        r = random_bytes(vk->data, LUKS_VOLUME_KEY_SIZE);
        if (r < 0)
                return r;
        vk->size = LUKS_VOLUME_KEY_SIZE;
        r = crypt_init_fd(image_fd, &cd);
        if (r < 0)
                return r;
        r = luks_set_pbkdf(cd, kdf);
        if (r < 0)
                return r;
        r = crypt_set_metadata_size(cd, LUKS_METADATA_SIZE, 0);
        if (r < 0)
                return log_error_errno(r, "cannot set the LUKS2 metadata size");
        r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, (const char *) vk->data, vk->size, &params);
        if (r < 0)
                return log_error_errno(r, "cannot format the image as LUKS2");
        r = luks_add_slot(cd, vk, password, &slot);
        if (r < 0)
                return r;
        *ret_cd = TAKE_PTR(cd);
        *ret_vk = TAKE_PTR(vk);
        return 0;
}

int luks_unlock(struct crypt_device *cd, const char *password, struct secret **ret_vk, int *ret_slot) {
        _cleanup_secret_ struct secret *vk = NULL;
        size_t size = (size_t) crypt_get_volume_key_size(cd);
        int r;

        r = secret_new(size, &vk);
        if (r < 0)
                return log_oom();
        r = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *) vk->data, &size, password, strlen(password));
        if (r == -EPERM || r == -ENOENT)
                return log_fail(-ENOKEY, "wrong password: no LUKS key slot opens with it");
        if (r < 0)
                return log_error_errno(r, "cannot open the LUKS2 key slots");
        vk->size = size;
        if (ret_slot)
                *ret_slot = r;
        *ret_vk = TAKE_PTR(vk);
        return 0;
}

int luks_add_slot(struct crypt_device *cd, const struct secret *vk, const char *password, int *ret_slot) {
        int slot, r;

        slot = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, (const char *) vk->data, vk->size,
                                               password, strlen(password));
        if (slot == -EINVAL && crypt_keyslot_status(cd, crypt_keyslot_max(CRYPT_LUKS2) - 1) != CRYPT_SLOT_INACTIVE)
                return log_fail(-ENOSPC, "all LUKS key slots are in use");
        if (slot < 0)
                return log_error_errno(slot, "cannot add a LUKS key slot");
        /* Name NULL: only checks that the passphrase opens this slot, no device-mapper. */
        r = crypt_activate_by_passphrase(cd, NULL, slot, password, strlen(password), 0);
        if (r != slot) {
                (void) crypt_keyslot_destroy(cd, slot);
                return log_fail(-EIO, "the new LUKS key slot %d does not open, removed it", slot);
        }
        *ret_slot = slot;
        return 0;
}

int luks_drop_slots_except(struct crypt_device *cd, int keep) {
        int max = crypt_keyslot_max(CRYPT_LUKS2), r;

        for (int i = 0; i < max; i++) {
                crypt_keyslot_info s = crypt_keyslot_status(cd, i);
                if (i == keep || (s != CRYPT_SLOT_ACTIVE && s != CRYPT_SLOT_ACTIVE_LAST))
                        continue;
                r = crypt_keyslot_destroy(cd, i);
                if (r < 0)
                        return log_error_errno(r, "cannot remove LUKS key slot %d", i);
        }
        return 0;
}

static int xts(const struct secret *vk, bool encrypt, const uint8_t iv[LUKS_IV_SIZE],
               const uint8_t *in, uint8_t *out, size_t size) {
        gcry_cipher_hd_t c = NULL;
        gcry_error_t e;

        if (size < 16)
                return -EINVAL; /* XTS needs at least one block */
        e = gcry_cipher_open(&c, cipher_algo(vk->size), GCRY_CIPHER_MODE_XTS, GCRY_CIPHER_SECURE);
        if (!e)
                e = gcry_cipher_setkey(c, vk->data, vk->size);
        if (!e)
                e = gcry_cipher_setiv(c, iv, LUKS_IV_SIZE);
        if (!e)
                e = encrypt ? gcry_cipher_encrypt(c, out, size, in, size) : gcry_cipher_decrypt(c, out, size, in, size);
        gcry_cipher_close(c);
        return e ? -EIO : 0;
}

/* Ids of the tokens of type systemd-homed, as a bit mask. */
static uint64_t homed_tokens(struct crypt_device *cd) {
        uint64_t mask = 0;

        for (int id = 0; id < 32; id++) {
                const char *text = NULL, *type = NULL;
                if (crypt_token_status(cd, id, &type) == CRYPT_TOKEN_INACTIVE || !type)
                        continue;
                if (strcmp(type, LUKS_TOKEN_TYPE) == 0 && crypt_token_json_get(cd, id, &text) >= 0)
                        mask |= UINT64_C(1) << id;
        }
        return mask;
}

int luks_token_write(struct crypt_device *cd, const struct secret *vk, const char *text, size_t size) {
        _cleanup_free_ uint8_t *enc = malloc(size ? size : 1);
        _cleanup_free_ char *b64_record = NULL, *b64_iv = NULL;
        uint8_t iv[LUKS_IV_SIZE];
        uint64_t old = homed_tokens(cd);
        json_object *o;
        int r;

        if (!enc)
                return log_oom();
        r = random_bytes(iv, sizeof iv);
        if (r < 0)
                return r;
        r = xts(vk, true, iv, (const uint8_t *) text, enc, size);
        if (r < 0)
                return log_error_errno(r, "cannot encrypt the record for the LUKS2 header");
        if (base64_encode(enc, size, 0, &b64_record, NULL) < 0 || base64_encode(iv, sizeof iv, 0, &b64_iv, NULL) < 0)
                return log_oom();
        o = json_object_new_object();
        if (!o)
                return log_oom();
        json_object_object_add(o, "type", json_object_new_string(LUKS_TOKEN_TYPE));
        json_object_object_add(o, "keyslots", json_object_new_array());
        json_object_object_add(o, "record", json_object_new_string(b64_record));
        json_object_object_add(o, "iv", json_object_new_string(b64_iv));
        /* Old ones first: a crash in between leaves no token, which the host copy restores. */
        for (int id = 0; id < 32 && r >= 0; id++)
                if (old & (UINT64_C(1) << id))
                        r = crypt_token_json_set(cd, id, NULL);
        if (r >= 0)
                r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN,
                                         json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (r < 0)
                return log_error_errno(r, "cannot write the record token into the LUKS2 header");
        return 0;
}

static int decode_field(json_object *o, const char *key, uint8_t **ret, size_t *ret_size) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        return base64_decode(json_object_get_string(v), strlen(json_object_get_string(v)), ret, ret_size) < 0 ? -EBADMSG : 0;
}

int luks_token_read(struct crypt_device *cd, const struct secret *vk, struct secret **ret) {
        uint64_t mask = homed_tokens(cd);

        for (int id = 0; id < 32; id++) {
                _cleanup_free_ uint8_t *enc = NULL, *iv = NULL;
                _cleanup_secret_ struct secret *plain = NULL;
                const char *text = NULL;
                size_t enc_size, iv_size;
                json_object *o;
                int r;

                if (!(mask & (UINT64_C(1) << id)) || crypt_token_json_get(cd, id, &text) < 0)
                        continue;
                o = json_tokener_parse(text);
                r = o ? decode_field(o, "record", &enc, &enc_size) : -EBADMSG;
                if (r >= 0)
                        r = decode_field(o, "iv", &iv, &iv_size);
                json_object_put(o);
                if (r >= 0 && iv_size != LUKS_IV_SIZE)
                        r = -EBADMSG;
                if (r >= 0)
                        r = secret_new(enc_size + 1, &plain);
                if (r >= 0)
                        r = xts(vk, false, iv, enc, plain->data, enc_size);
                if (r < 0) {
                        log_warning("LUKS2 token %d (%s) is malformed, ignoring it", id, LUKS_TOKEN_TYPE);
                        continue;
                }
                plain->data[enc_size] = 0;
                plain->size = enc_size;
                *ret = TAKE_PTR(plain);
                return 0;
        }
        return -ENOENT;
}

uint64_t luks_data_offset(struct crypt_device *cd) {
        return crypt_get_data_offset(cd) * 512;
}

int luks_write_data(struct crypt_device *cd, const struct secret *vk, int image_fd, int plain_fd) {
        const size_t chunk = 1 << 20;
        _cleanup_secret_ struct secret *buf = NULL;
        uint64_t base = luks_data_offset(cd), sector = (uint64_t) crypt_get_sector_size(cd);
        struct stat img, pl;
        off_t pos = 0;
        int r;

        if (sector == 0 || chunk % sector != 0)
                return log_fail(-EINVAL, "unsupported LUKS2 sector size %" PRIu64, sector);
        if (fstat(image_fd, &img) < 0 || fstat(plain_fd, &pl) < 0)
                return log_error_errno(-errno, "cannot stat the image");
        if ((uint64_t) pl.st_size + base > (uint64_t) img.st_size || pl.st_size % sector != 0)
                return log_fail(-EINVAL, "the file system does not fit the LUKS2 data segment");
        r = secret_new(chunk, &buf); /* file system contents: not key material, but private */
        if (r < 0)
                return log_oom();
        for (;;) {
                off_t data = lseek(plain_fd, pos, SEEK_DATA), hole;
                if (data < 0 && errno == ENXIO)
                        break;
                if (data < 0 || (hole = lseek(plain_fd, data, SEEK_HOLE)) < 0)
                        return log_error_errno(-errno, "cannot map the file system image");
                data -= data % (off_t) sector;
                for (pos = data; pos < hole; ) {
                        size_t n = (size_t) (hole - pos) < chunk ? (size_t) (hole - pos) : chunk;
                        ssize_t k;
                        n += (sector - n % sector) % sector;
                        if ((uint64_t) pos + n > (uint64_t) pl.st_size)
                                n = (size_t) (pl.st_size - pos);
                        k = pread(plain_fd, buf->data, n, pos);
                        if (k != (ssize_t) n)
                                return log_error_errno(k < 0 ? -errno : -EIO, "cannot read the file system image");
                        for (size_t o = 0; o < n; o += sector) {
                                uint8_t iv[LUKS_IV_SIZE] = {};
                                uint64_t s = ((uint64_t) pos + o) / 512; /* plain64: 512-byte units, little-endian */
                                for (int b = 0; b < 8; b++)
                                        iv[b] = (uint8_t) (s >> (8 * b));
                                r = xts(vk, true, iv, buf->data + o, buf->data + o, sector);
                                if (r < 0)
                                        return log_error_errno(r, "cannot encrypt the file system");
                        }
                        k = pwrite(image_fd, buf->data, n, (off_t) base + pos);
                        if (k != (ssize_t) n)
                                return log_error_errno(k < 0 ? -errno : -ENOSPC, "cannot write the image");
                        pos += (off_t) n;
                }
        }
        explicit_bzero(buf->data, chunk);
        if (fsync(image_fd) < 0)
                return log_error_errno(-errno, "cannot sync the image");
        return 0;
}

static bool dm_missing(int r) {
        return r == -EOPNOTSUPP || r == -ENOTSUP || access("/dev/mapper/control", F_OK) < 0;
}

int luks_activate(struct crypt_device *cd, const char *name, const struct secret *vk) {
        int r;

        luks_setup_logging();
        r = crypt_activate_by_volume_key(cd, name, (const char *) vk->data, vk->size, CRYPT_ACTIVATE_ALLOW_DISCARDS);
        if (r >= 0)
                return 0;
        if (dm_missing(r))
                return log_fail(-ENOLINK, "cannot activate the LUKS2 volume: device-mapper (dm-crypt) is not available in this kernel");
        if (r == -EBUSY || r == -EEXIST)
                return log_fail(-EALREADY, "device-mapper device %s is already in use", name);
        return log_error_errno(r, "cannot activate the LUKS2 volume as %s", name);
}

int luks_deactivate(const char *name, bool deferred) {
        int r;

        luks_setup_logging();
        r = crypt_deactivate_by_name(NULL, name, deferred ? CRYPT_DEACTIVATE_DEFERRED : 0);
        if (r >= 0 || r == -ENODEV)
                return 0;
        if (r == -EBUSY)
                return log_fail(-EBUSY, "/dev/mapper/%s is in use", name);
        return log_error_errno(r, "cannot deactivate /dev/mapper/%s", name);
}

/* Through the node and sysfs, not libcryptsetup: crypt_init_by_name() would read
 * and checksum the whole 4 MiB header, which is slow under emulation. */
int luks_active(const char *name, bool *ret_suspended) {
        char node[96], path[128], buf[16] = "";
        _cleanup_close_ int fd = -1;
        struct stat st;
        crypt_status_info s;

        luks_setup_logging();
        *ret_suspended = false;
        if (access("/dev/mapper/control", F_OK) < 0)
                return 0;
        s = crypt_status(NULL, name);
        if (s != CRYPT_ACTIVE && s != CRYPT_BUSY)
                return 0;
        snprintf(node, sizeof node, "/dev/mapper/%s", name);
        if (stat(node, &st) < 0 || !S_ISBLK(st.st_mode))
                return 1;
        snprintf(path, sizeof path, "/sys/dev/block/%u:%u/dm/suspended", major(st.st_rdev), minor(st.st_rdev));
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0)
                *ret_suspended = buf[0] == '1';
        return 1;
}

int luks_suspend(const char *name) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        int r;

        luks_setup_logging();
        r = crypt_init_by_name(&cd, name);
        if (r >= 0)
                r = crypt_suspend(cd, name);
        if (r < 0)
                return log_error_errno(r, "cannot suspend /dev/mapper/%s", name);
        return 0;
}

int luks_resume(const char *name, const char *password) {
        _cleanup_crypt_ struct crypt_device *cd = NULL;
        int r;

        luks_setup_logging();
        r = crypt_init_by_name(&cd, name);
        if (r < 0)
                return log_error_errno(r, "cannot find /dev/mapper/%s", name);
        r = crypt_resume_by_passphrase(cd, name, CRYPT_ANY_SLOT, password, strlen(password));
        if (r == -EPERM || r == -ENOENT)
                return log_fail(-ENOKEY, "wrong password: no LUKS key slot opens with it");
        if (r < 0)
                return log_error_errno(r, "cannot resume /dev/mapper/%s", name);
        return 0;
}
