/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "cred.h"
#include "hostkey.h"
#include "io.h"
#include "log.h"
#include "timestamp.h"
#include "tpm2.h"

enum {
        NEEDS_HOST = 1 << 0,
        NEEDS_TPM2 = 1 << 1,
        NEEDS_PK = 1 << 2,
        SCOPED = 1 << 3,
};

static const struct {
        uint8_t id[16];
        const char *name;
        unsigned flags;
} key_types[_CRED_KEY_MAX] = {
        [CRED_KEY_HOST] = { { 0x5a, 0x1c, 0x6a, 0x86, 0xdf, 0x9d, 0x40, 0x96, 0xb1, 0xd5, 0xa6, 0x5e, 0x08, 0x62, 0xf1, 0x9a }, "host", NEEDS_HOST },
        [CRED_KEY_TPM2] = { { 0x0c, 0x7c, 0xc0, 0x7b, 0x11, 0x76, 0x45, 0x91, 0x9c, 0x4b, 0x0b, 0xea, 0x08, 0xbc, 0x20, 0xfe }, "tpm2", NEEDS_TPM2 },
        [CRED_KEY_HOST_TPM2] = { { 0x93, 0xa8, 0x94, 0x09, 0x48, 0x74, 0x44, 0x90, 0x90, 0xca, 0xf2, 0xfc, 0x93, 0xca, 0xb5, 0x53 }, "host+tpm2", NEEDS_HOST | NEEDS_TPM2 },
        [CRED_KEY_TPM2_PK] = { { 0xfa, 0xf7, 0xeb, 0x93, 0x41, 0xe3, 0x41, 0x2c, 0xa1, 0xa4, 0x36, 0xf9, 0x5a, 0x29, 0x36, 0x2f }, "tpm2-with-public-key", NEEDS_TPM2 | NEEDS_PK },
        [CRED_KEY_HOST_TPM2_PK] = { { 0xaf, 0x49, 0x50, 0xa8, 0x49, 0x13, 0x4e, 0xb1, 0xa7, 0x38, 0x46, 0x30, 0x4f, 0xf3, 0x0c, 0x05 }, "host+tpm2-with-public-key", NEEDS_HOST | NEEDS_TPM2 | NEEDS_PK },
        [CRED_KEY_NULL] = { { 0x05, 0x84, 0x69, 0xda, 0xf6, 0xf5, 0x43, 0x24, 0x80, 0x05, 0x49, 0xda, 0x0f, 0x8e, 0xa2, 0xfb }, "null", 0 },
        [CRED_KEY_HOST_SCOPED] = { { 0x55, 0xb9, 0xed, 0x1d, 0x38, 0x59, 0x4d, 0x43, 0xa8, 0x31, 0x9d, 0x2e, 0xbb, 0x33, 0x2a, 0xc6 }, "host (user-scoped)", NEEDS_HOST | SCOPED },
        [CRED_KEY_HOST_TPM2_SCOPED] = { { 0xef, 0x4a, 0xc1, 0x36, 0x79, 0xa9, 0x48, 0x0e, 0xa7, 0xdb, 0x68, 0x89, 0x7f, 0x9f, 0x16, 0x5d }, "host+tpm2 (user-scoped)", NEEDS_HOST | NEEDS_TPM2 | SCOPED },
        [CRED_KEY_HOST_TPM2_PK_SCOPED] = { { 0xad, 0xbc, 0x4c, 0xa3, 0xef, 0xb6, 0x42, 0x01, 0xba, 0x88, 0x1b, 0x6f, 0x2e, 0x40, 0x95, 0xea }, "host+tpm2-with-public-key (user-scoped)", NEEDS_HOST | NEEDS_TPM2 | NEEDS_PK | SCOPED },
        [CRED_KEY_AUTO] = { {}, "auto", 0 },
        [CRED_KEY_AUTO_INITRD] = { {}, "auto-initrd", 0 },
};

/* Spellings systemd accepts for --with-key= beyond the canonical names. */
static const struct {
        const char *alias;
        enum cred_key key;
} key_aliases[] = {
        { "", CRED_KEY_AUTO },
        { "tpm2+host", CRED_KEY_HOST_TPM2 },
        { "tpm2-with-public-key+host", CRED_KEY_HOST_TPM2_PK },
        { "tpm2-absent", CRED_KEY_NULL },
};

#define CRED_HEADER_SIZE 32
#define TPM2_HEADER_SIZE 20 /* pcr_mask u64, pcr_bank u16, primary_alg u16, blob_size u32, policy_hash_size u32 */
#define PK_HEADER_SIZE 12   /* pcr_mask u64, size u32 */
#define SCOPED_HEADER_SIZE 8 /* flags u64 */
#define SCOPE_FLAGS 7        /* HAS_UID | HAS_MACHINE | HAS_USERNAME: the only value systemd writes or reads */

enum cred_key cred_key_from_string(const char *s) {
        for (int k = 0; k < _CRED_KEY_MAX; k++)
                if (!(key_types[k].flags & SCOPED) && strcmp(key_types[k].name, s) == 0)
                        return (enum cred_key) k;
        for (size_t i = 0; i < ELEMENTSOF(key_aliases); i++)
                if (strcmp(key_aliases[i].alias, s) == 0)
                        return key_aliases[i].key;
        return CRED_KEY_INVALID;
}

const char *cred_key_to_string(enum cred_key k) {
        return k >= 0 && k < _CRED_KEY_MAX ? key_types[k].name : "invalid";
}

static enum cred_key cred_key_from_id(const uint8_t *id) {
        for (int k = 0; k < _CRED_KEY_ON_DISK_MAX; k++)
                if (memcmp(key_types[k].id, id, 16) == 0)
                        return (enum cred_key) k;
        return CRED_KEY_INVALID;
}

bool cred_name_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > CRED_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return false;
        for (const char *c = name; *c; c++)
                if (*c < 0x20 || *c > 0x7e || *c == '/' || *c == ':')
                        return false;
        return true;
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static uint16_t get_le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static void put_le64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p) {
        return (uint64_t) get_le32(p) | (uint64_t) get_le32(p + 4) << 32;
}

int cred_scope_key(uint8_t key[32], uid_t uid) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *found = NULL;
        uint8_t machine_id[16], msg[8 + 4];
        gcry_md_hd_t h;
        long n = sysconf(_SC_GETPW_R_SIZE_MAX);
        size_t bufsize = n > 0 ? (size_t) n : 16384;
        int r;

        buf = malloc(bufsize);
        if (!buf)
                return log_oom();
        r = getpwuid_r(uid, &pw, buf, bufsize, &found);
        if (r != 0 || !found)
                return log_fail(-ESRCH, "no user with UID %u on this machine, cannot scope the credential key",
                                (unsigned) uid);
        r = machine_id_get(machine_id);
        if (r < 0)
                return r;
        put_le64(msg, SCOPE_FLAGS);
        put_le32(msg + 8, (uint32_t) uid);
        if (gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC | GCRY_MD_FLAG_SECURE))
                return log_fail(-EIO, "cannot set up HMAC-SHA256");
        if (gcry_md_setkey(h, key, 32)) {
                gcry_md_close(h);
                return log_fail(-EIO, "cannot set up HMAC-SHA256");
        }
        gcry_md_write(h, msg, sizeof(msg));
        gcry_md_write(h, machine_id, sizeof(machine_id));
        gcry_md_write(h, found->pw_name, strlen(found->pw_name) + 1); /* with its NUL */
        memcpy(key, gcry_md_read(h, GCRY_MD_SHA256), 32);
        gcry_md_close(h);
        return 0;
}

int cred_uid_parse(const char *s, uid_t *ret) {
        struct passwd *pw;
        char *end;
        unsigned long v;

        if (!s[0])
                return -EINVAL;
        if (s[0] >= '0' && s[0] <= '9') {
                errno = 0;
                v = strtoul(s, &end, 10);
                if (errno || *end || v >= UINT32_MAX || (uid_t) v != v)
                        return -EINVAL;
                *ret = (uid_t) v;
                return 0;
        }
        pw = getpwnam(s);
        if (!pw)
                return -ESRCH;
        *ret = pw->pw_uid;
        return 0;
}

/* AES key = SHA-256 of the key material: host key ‖ TPM2 secret, each only if
 * the key type uses it; nothing at all for null. Scoped types then go through
 * cred_scope_key() for `uid`. */
static int derive_key(enum cred_key k, const char *host_key_path, bool may_create, const uint8_t *tpm2_secret,
                      size_t tpm2_size, uid_t uid, uint8_t aes_key[32]) {
        _cleanup_secret_ struct secret *host = NULL;
        const char *path;
        gcry_md_hd_t h;
        int r;

        if (key_types[k].flags & NEEDS_HOST) {
                r = hostkey_path(host_key_path, &path);
                if (r < 0)
                        return r;
                r = hostkey_load(path, may_create, &host);
                if (r < 0)
                        return r;
        }
        if (gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_SECURE))
                return log_fail(-EIO, "cannot set up SHA-256");
        if (host)
                gcry_md_write(h, host->data, host->size);
        if (key_types[k].flags & NEEDS_TPM2)
                gcry_md_write(h, tpm2_secret, tpm2_size);
        memcpy(aes_key, gcry_md_read(h, GCRY_MD_SHA256), 32);
        gcry_md_close(h);
        if (key_types[k].flags & SCOPED) {
                r = cred_scope_key(aes_key, uid);
                if (r < 0) {
                        explicit_bzero(aes_key, 32);
                        return r;
                }
        }
        return 0;
}

static int cipher_open(const uint8_t aes_key[32], const uint8_t *iv, size_t iv_size, gcry_cipher_hd_t *ret) {
        gcry_cipher_hd_t h;
        gcry_error_t e;

        e = gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE);
        if (!e)
                e = gcry_cipher_setkey(h, aes_key, 32);
        if (!e)
                e = gcry_cipher_setiv(h, iv, iv_size);
        if (e) {
                gcry_cipher_close(h);
                return log_fail(-EIO, "cannot set up AES-256-GCM: %s", gcry_strerror(e));
        }
        *ret = h;
        return 0;
}

static void cipher_closep(gcry_cipher_hd_t *h) {
        if (*h)
                gcry_cipher_close(*h);
}

/* TPM2 material of one encryption: the sealed object, the PEM of a signed-policy key. */
struct tpm2_part {
        struct tpm2_sealed sealed;
        char *pem;
        size_t pem_size;
        uint32_t pk_mask;
        uint8_t secret[TPM2_SECRET_MAX];
        size_t secret_size;
};

static void tpm2_part_done(struct tpm2_part *t) {
        tpm2_sealed_done(&t->sealed);
        free(t->pem);
        explicit_bzero(t->secret, sizeof(t->secret));
}

static const char *const pubkey_search[] = {
        "/etc/systemd/tpm2-pcr-public-key.pem",
        "/run/systemd/tpm2-pcr-public-key.pem",
        "/usr/local/lib/systemd/tpm2-pcr-public-key.pem",
        "/usr/lib/systemd/tpm2-pcr-public-key.pem",
};

/* Reads --tpm2-public-key= or the first default file; 0 with pem NULL if there is none and !required. */
static int load_public_key(const struct cred_encrypt_params *p, bool required, struct tpm2_part *t) {
        _cleanup_secret_ struct secret *text = NULL;
        const char *path = p->tpm2_public_key;
        int r;

        for (size_t i = 0; !path && i < ELEMENTSOF(pubkey_search); i++)
                if (access(pubkey_search[i], F_OK) >= 0)
                        path = pubkey_search[i];
        if (!path) {
                if (required)
                        return log_fail(-ENOENT, "no TPM2 PCR public key given (--tpm2-public-key=) and none installed");
                return 0;
        }
        r = read_file_capped(path, TPM2_PUBKEY_MAX, &text);
        if (r < 0)
                return log_error_errno(r, "cannot read TPM2 PCR public key %s", path);
        t->pem = malloc(text->size + 1);
        if (!t->pem)
                return log_oom();
        memcpy(t->pem, text->data, text->size);
        t->pem[text->size] = '\0';
        t->pem_size = text->size;
        t->pk_mask = p->tpm2_public_key_pcrs_set ? p->tpm2_public_key_pcrs : UINT32_C(1) << 11;
        if (t->pk_mask == 0) {
                free(TAKE_PTR(t->pem));
                if (required)
                        return log_fail(-EINVAL, "a signed PCR policy needs at least one PCR (--tpm2-public-key-pcrs=)");
        }
        return 0;
}

static int tpm2_part_seal(const struct cred_encrypt_params *p, struct tpm2_part *t) {
        struct tpm2_pcr_spec pcrs = p->tpm2_pcrs;
        struct tpm2_pubkey pk = { .pem = t->pem, .pem_size = t->pem_size, .pcr_mask = t->pk_mask };

        if (!p->tpm2_pcrs_set)
                pcrs = (struct tpm2_pcr_spec) { .mask = UINT32_C(1) << 7 };
        return tpm2_seal(p->tpm2_device, &pcrs, t->pem ? &pk : NULL, &t->sealed, t->secret, &t->secret_size);
}

static bool tpm2_device_given(const char *device) {
        return device && strcmp(device, "auto") != 0;
}

/* The auto types: seal when there is a TPM2 (an explicit --tpm2-device= counts as
 * one); a failed seal only drops the TPM2 part. Returns whether it sealed. */
static int auto_seal(const struct cred_encrypt_params *p, struct tpm2_part *t, bool *ret_sealed) {
        int r;

        *ret_sealed = false;
        if (!tpm2_present() && !tpm2_device_given(p->tpm2_device))
                return 0;
        r = load_public_key(p, false, t);
        if (r < 0)
                return r;
        if (tpm2_part_seal(p, t) >= 0)
                *ret_sealed = true;
        else
                log_warning("TPM2 sealing failed, continuing without TPM2");
        return 0;
}

/* Picks the key type; for TPM2 types, seals a fresh secret into the TPM. */
static int resolve_key(const struct cred_encrypt_params *p, struct tpm2_part *t, enum cred_key *ret) {
        enum cred_key want = p->key;
        const char *path;
        int r;

        if (p->scoped) {
                /* systemd's _CRED_AUTO_SCOPED: the host key always, the TPM2 too when there is one. */
                if (want == CRED_KEY_AUTO) {
                        bool sealed;

                        r = auto_seal(p, t, &sealed);
                        if (r < 0)
                                return r;
                        *ret = !sealed ? CRED_KEY_HOST_SCOPED
                                       : t->pem ? CRED_KEY_HOST_TPM2_PK_SCOPED : CRED_KEY_HOST_TPM2_SCOPED;
                        return 0;
                }
                if (want == CRED_KEY_HOST)
                        want = CRED_KEY_HOST_SCOPED;
                else if (want == CRED_KEY_HOST_TPM2)
                        want = CRED_KEY_HOST_TPM2_SCOPED;
                else if (want == CRED_KEY_HOST_TPM2_PK)
                        want = CRED_KEY_HOST_TPM2_PK_SCOPED;
                else
                        return log_fail(-EOPNOTSUPP, "key type %s is not available for user-scoped credentials "
                                        "(use auto, host, host+tpm2 or host+tpm2-with-public-key)",
                                        cred_key_to_string(want));
        }
        if (want == CRED_KEY_AUTO || want == CRED_KEY_AUTO_INITRD) {
                bool host = false, sealed;

                if (want == CRED_KEY_AUTO) {
                        r = hostkey_path(p->host_key_path, &path);
                        if (r < 0)
                                return r;
                        host = !hostkey_on_temporary_fs(path);
                }
                r = auto_seal(p, t, &sealed);
                if (r < 0)
                        return r;
                if (sealed)
                        *ret = host ? (t->pem ? CRED_KEY_HOST_TPM2_PK : CRED_KEY_HOST_TPM2)
                                    : (t->pem ? CRED_KEY_TPM2_PK : CRED_KEY_TPM2);
                else if (host)
                        *ret = CRED_KEY_HOST;
                else if (want == CRED_KEY_AUTO_INITRD) {
                        log_warning("no TPM2 available, using a null key: no confidentiality or authenticity");
                        *ret = CRED_KEY_NULL;
                } else
                        return log_fail(-ENOTRECOVERABLE,
                                        "TPM2 not available and host key %s located on a temporary file system, cannot encrypt",
                                        path);
                return 0;
        }
        if (want < 0 || want >= _CRED_KEY_ON_DISK_MAX)
                return log_fail(-EINVAL, "invalid key type");
        if ((key_types[want].flags & SCOPED) && !p->scoped)
                return log_fail(-EINVAL, "a user-scoped key type needs a user scope");
        if (key_types[want].flags & NEEDS_TPM2) {
                if (key_types[want].flags & NEEDS_PK) {
                        r = load_public_key(p, true, t);
                        if (r < 0)
                                return r;
                }
                r = tpm2_part_seal(p, t);
                if (r < 0)
                        return r;
        }
        if (want == CRED_KEY_NULL)
                log_warning("using a null key: no confidentiality or authenticity");
        *ret = want;
        return 0;
}

int cred_encrypt(const struct cred_encrypt_params *p, const uint8_t *plaintext, size_t size,
                 uint8_t **ret, size_t *ret_size) {
        _cleanup_(cipher_closep) gcry_cipher_hd_t h = NULL;
        _cleanup_(tpm2_part_done) struct tpm2_part t = {};
        _cleanup_free_ uint8_t *out = NULL;
        size_t name_len = p->name ? strlen(p->name) : 0;
        size_t aad = ALIGN8(CRED_HEADER_SIZE + 12), meta = ALIGN8(20 + name_len), total, o;
        enum cred_key k = CRED_KEY_INVALID;
        uint8_t aes_key[32];
        gcry_error_t e;
        int r;

        if (size > CRED_PLAINTEXT_MAX)
                return log_fail(-E2BIG, "plaintext too long for a credential (%zu bytes, at most %u)", size,
                                CRED_PLAINTEXT_MAX);
        if (name_len > 0 && !cred_name_valid(p->name))
                return log_fail(-EINVAL, "invalid credential name \"%s\"", p->name);
        if (p->not_after != USEC_INFINITY && p->timestamp != USEC_INFINITY && p->not_after <= p->timestamp)
                return log_fail(-EINVAL, "not-after time must be later than the timestamp");
        r = resolve_key(p, &t, &k);
        if (r < 0)
                return r;
        if (key_types[k].flags & NEEDS_TPM2)
                aad += ALIGN8(TPM2_HEADER_SIZE + t.sealed.blob_size + t.sealed.policy_hash_size);
        if (key_types[k].flags & NEEDS_PK)
                aad += ALIGN8(PK_HEADER_SIZE + t.pem_size);
        if (key_types[k].flags & SCOPED)
                aad += SCOPED_HEADER_SIZE;

        total = aad + meta + size + 16;
        out = calloc(1, total);
        if (!out)
                return log_oom();
        memcpy(out, key_types[k].id, 16);
        put_le32(out + 16, 32);  /* key size */
        put_le32(out + 20, 1);   /* block size, as OpenSSL reports it for GCM */
        put_le32(out + 24, 12);  /* IV size */
        put_le32(out + 28, 16);  /* tag size */
        gcry_create_nonce(out + CRED_HEADER_SIZE, 12);
        o = ALIGN8(CRED_HEADER_SIZE + 12);
        if (key_types[k].flags & NEEDS_TPM2) {
                /* pcr_mask, bank, primary alg, sizes, then the blob *before* the policy hash. */
                put_le64(out + o, t.sealed.pcr_mask);
                put_le16(out + o + 8, t.sealed.pcr_bank);
                put_le16(out + o + 10, t.sealed.primary_alg);
                put_le32(out + o + 12, (uint32_t) t.sealed.blob_size);
                put_le32(out + o + 16, (uint32_t) t.sealed.policy_hash_size);
                memcpy(out + o + TPM2_HEADER_SIZE, t.sealed.blob, t.sealed.blob_size);
                memcpy(out + o + TPM2_HEADER_SIZE + t.sealed.blob_size, t.sealed.policy_hash, t.sealed.policy_hash_size);
                o += ALIGN8(TPM2_HEADER_SIZE + t.sealed.blob_size + t.sealed.policy_hash_size);
        }
        if (key_types[k].flags & NEEDS_PK) {
                put_le64(out + o, t.pk_mask);
                put_le32(out + o + 8, (uint32_t) t.pem_size);
                memcpy(out + o + PK_HEADER_SIZE, t.pem, t.pem_size);
                o += ALIGN8(PK_HEADER_SIZE + t.pem_size);
        }
        if (key_types[k].flags & SCOPED)
                put_le64(out + o, SCOPE_FLAGS);

        /* Metadata goes straight into the output and is encrypted in place. */
        put_le64(out + aad, p->timestamp);
        put_le64(out + aad + 8, p->not_after);
        put_le32(out + aad + 16, (uint32_t) name_len);
        if (name_len > 0)
                memcpy(out + aad + 20, p->name, name_len);

        r = derive_key(k, p->host_key_path, true, t.secret, t.secret_size, p->uid, aes_key);
        if (r < 0)
                return r;
        r = cipher_open(aes_key, out + CRED_HEADER_SIZE, 12, &h);
        explicit_bzero(aes_key, sizeof(aes_key));
        if (r < 0)
                return r;
        e = gcry_cipher_authenticate(h, out, aad);
        if (!e)
                e = gcry_cipher_encrypt(h, out + aad, meta, NULL, 0);
        if (!e)
                e = gcry_cipher_final(h);
        if (!e)
                e = gcry_cipher_encrypt(h, out + aad + meta, size, plaintext, size);
        if (!e)
                e = gcry_cipher_gettag(h, out + aad + meta + size, 16);
        if (e)
                return log_fail(-EIO, "encryption failed: %s", gcry_strerror(e));
        *ret = TAKE_PTR(out);
        *ret_size = total;
        return 0;
}

static bool firmware_has_tpm2_and_secure_boot(void) {
        uint8_t v[5];
        ssize_t n;
        int fd;

        if (access("/sys/firmware/acpi/tables/TPM2", F_OK) < 0)
                return false;
        fd = open("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, v, sizeof(v));
        close(fd);
        return n == 5 && v[4] == 1;
}

static int check_null_policy(enum cred_null_policy policy) {
        if (policy == CRED_NULL_ALLOW)
                return 0;
        if (policy == CRED_NULL_REFUSE)
                return log_fail(-EPERM, "credential is encrypted with a null key, refusing (--refuse-null)");
        if (firmware_has_tpm2_and_secure_boot())
                return log_fail(-EPERM, "credential is encrypted with a null key on a system with TPM2 and Secure Boot, refusing (use --allow-null)");
        log_warning("credential is encrypted with a null key: its authenticity is not protected");
        return 0;
}

/* The TPM2 and public-key headers as found in a credential (pointers into it). */
struct tpm2_headers {
        struct tpm2_sealed sealed; /* blob points into the credential: not freed */
        const char *pem;
        size_t pem_size;
        uint32_t pk_mask;
};

/* Checks the headers in systemd's order (key type, null policy, scope, sizes);
 * returns the offset where the ciphertext starts. */
static int parse_header(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size,
                        enum cred_key *ret_key, size_t *ret_aad, struct tpm2_headers *th) {
        enum cred_key k = CRED_KEY_INVALID;
        uint32_t iv_size;
        size_t aad;
        int r;

        if (size < 16)
                return log_fail(-EBADMSG, "credential truncated: %zu bytes, not even a key type", size);
        k = cred_key_from_id(blob);
        if (k == CRED_KEY_INVALID)
                return log_fail(-EOPNOTSUPP, "unknown credential key type (not an encrypted credential?)");
        if (p->require_key && p->required_key != k)
                return log_fail(-EPERM, "credential uses key type %s, but --with-key=%s was required",
                                key_types[k].name, cred_key_to_string(p->required_key));
        if (k == CRED_KEY_NULL) {
                r = check_null_policy(p->null_policy);
                if (r < 0)
                        return r;
        }
        if ((key_types[k].flags & SCOPED) && !p->scoped)
                return log_fail(-EMEDIUMTYPE, "credential is user-scoped (%s), but no user was selected (--user, --uid=)",
                                key_types[k].name);
        if (!(key_types[k].flags & SCOPED) && p->scoped && !p->any_scope)
                return log_fail(-EMEDIUMTYPE, "credential is not user-scoped (%s), but a user scope was requested",
                                key_types[k].name);
        if (size < CRED_HEADER_SIZE)
                return log_fail(-EBADMSG, "credential truncated: %zu bytes, the header alone is %d", size,
                                CRED_HEADER_SIZE);
        if (get_le32(blob + 16) != 32)
                return log_fail(-EBADMSG, "credential has unsupported key size %u", get_le32(blob + 16));
        if (get_le32(blob + 20) != 1)
                return log_fail(-EBADMSG, "credential has unsupported block size %u", get_le32(blob + 20));
        iv_size = get_le32(blob + 24);
        if (iv_size == 0 || iv_size > 16 * 1024)
                return log_fail(-EBADMSG, "credential has invalid IV size %u", iv_size);
        if (get_le32(blob + 28) != 16)
                return log_fail(-EBADMSG, "credential has unsupported tag size %u", get_le32(blob + 28));
        aad = ALIGN8(CRED_HEADER_SIZE + (size_t) iv_size);
        if (key_types[k].flags & NEEDS_TPM2) {
                uint64_t mask;
                uint32_t blob_size, hash_size;
                uint16_t bank;

                if (size < aad + TPM2_HEADER_SIZE)
                        return log_fail(-EBADMSG, "credential truncated: no room for its TPM2 header");
                mask = get_le64(blob + aad);
                bank = get_le16(blob + aad + 8);
                blob_size = get_le32(blob + aad + 12);
                hash_size = get_le32(blob + aad + 16);
                if (mask > TPM2_PCR_MASK_ALL)
                        return log_fail(-EBADMSG, "credential's TPM2 PCR mask 0x%" PRIx64 " is out of range", mask);
                /* An empty mask: 252 wrote 0xffff, 254 wrote 0, later ones sha256. */
                if (mask != 0 && !tpm2_bank_name(bank))
                        return log_fail(-EOPNOTSUPP, "credential's TPM2 PCR bank 0x%04x is invalid or not supported", bank);
                if (blob_size > TPM2_BLOB_MAX || hash_size > TPM2_POLICY_HASH_MAX)
                        return log_fail(-EBADMSG, "credential's TPM2 header has oversized fields");
                if (size - aad - TPM2_HEADER_SIZE < (size_t) blob_size + hash_size)
                        return log_fail(-EBADMSG, "credential truncated inside its TPM2 header");
                th->sealed = (struct tpm2_sealed) {
                        .pcr_mask = (uint32_t) mask,
                        .pcr_bank = bank,
                        .primary_alg = get_le16(blob + aad + 10),
                        .blob = (uint8_t *) blob + aad + TPM2_HEADER_SIZE,
                        .blob_size = blob_size,
                        .policy_hash_size = hash_size,
                };
                if (hash_size <= sizeof(th->sealed.policy_hash))
                        memcpy(th->sealed.policy_hash, blob + aad + TPM2_HEADER_SIZE + blob_size, hash_size);
                aad += ALIGN8(TPM2_HEADER_SIZE + (size_t) blob_size + hash_size);
        }
        if (key_types[k].flags & NEEDS_PK) {
                uint64_t mask;
                uint32_t pem_size;

                if (size < aad + PK_HEADER_SIZE)
                        return log_fail(-EBADMSG, "credential truncated: no room for its public key header");
                mask = get_le64(blob + aad);
                pem_size = get_le32(blob + aad + 8);
                if (mask == 0 || mask > TPM2_PCR_MASK_ALL)
                        return log_fail(-EBADMSG, "credential's signed PCR mask 0x%" PRIx64 " is invalid", mask);
                if (pem_size > TPM2_PUBKEY_MAX || size - aad - PK_HEADER_SIZE < pem_size)
                        return log_fail(-EBADMSG, "credential's public key header is truncated or oversized");
                th->pem = (const char *) blob + aad + PK_HEADER_SIZE;
                th->pem_size = pem_size;
                th->pk_mask = (uint32_t) mask;
                aad += ALIGN8(PK_HEADER_SIZE + (size_t) pem_size);
        }
        if (key_types[k].flags & SCOPED) {
                uint64_t flags;

                if (size < aad + SCOPED_HEADER_SIZE)
                        return log_fail(-EBADMSG, "credential truncated: no room for its scope header");
                flags = get_le64(blob + aad);
                if (flags != SCOPE_FLAGS)
                        return log_fail(-EOPNOTSUPP, "credential's scope flags 0x%" PRIx64 " are not supported", flags);
                aad += SCOPED_HEADER_SIZE;
        }
        if (aad > size || size - aad < 16)
                return log_fail(-EBADMSG, "credential truncated: %zu bytes, headers and tag need %zu", size, aad + 16);
        *ret_key = k;
        *ret_aad = aad;
        return 0;
}

/* Validates the decrypted metadata header; returns its padded length. */
static int check_metadata(const struct cred_decrypt_params *p, const uint8_t *m, size_t size, size_t *ret_len) {
        uint64_t timestamp, not_after;
        uint32_t name_size;
        char name[CRED_NAME_MAX + 1];
        char when[64];

        if (size < 24)
                return log_fail(-EBADMSG, "credential plaintext too short for its metadata header");
        timestamp = get_le64(m);
        not_after = get_le64(m + 8);
        name_size = get_le32(m + 16);
        if (timestamp != USEC_INFINITY && not_after != USEC_INFINITY && timestamp >= not_after)
                return log_fail(-EBADMSG, "credential timestamps are not in order");
        if (name_size > CRED_NAME_MAX || ALIGN8(20 + (size_t) name_size) > size)
                return log_fail(-EBADMSG, "credential embedded name too long");
        memcpy(name, m + 20, name_size);
        name[name_size] = '\0';
        if (name_size > 0 && (memchr(m + 20, 0, name_size) || !cred_name_valid(name)))
                return log_fail(-EBADMSG, "credential embedded name is not valid");
        if (name_size > 0 && p->expected_name && strcmp(name, p->expected_name) != 0) {
                const char *v = getenv("SYSTEMD_CREDENTIAL_VALIDATE_NAME");

                if (!v || strcmp(v, "0") != 0)
                        return log_fail(-EREMOTE, "credential name mismatch: expected \"%s\", got \"%s\"",
                                        p->expected_name, name);
        }
        if (not_after != USEC_INFINITY && not_after < p->now && !p->allow_expired) {
                const char *v = getenv("SYSTEMD_CREDENTIAL_VALIDATE_NOT_AFTER");

                timestamp_format(not_after, when, sizeof(when));
                if (!v || strcmp(v, "0") != 0)
                        return log_fail(-ESTALE, "credential expired at %s, refusing (--allow-expired overrides)", when);
        }
        *ret_len = ALIGN8(20 + (size_t) name_size);
        return 0;
}

int cred_decrypt(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, struct secret **ret) {
        _cleanup_(cipher_closep) gcry_cipher_hd_t h = NULL;
        _cleanup_secret_ struct secret *pt = NULL;
        enum cred_key k = CRED_KEY_INVALID;
        size_t aad = 0, ct_len, meta_len = 0, tpm2_size = 0;
        struct tpm2_headers th = {};
        uint8_t aes_key[32], tpm2_secret[TPM2_SECRET_MAX];
        gcry_error_t e;
        int r;

        if (size > CRED_BLOB_MAX)
                return log_fail(-E2BIG, "credential too large (%zu bytes, at most %u)", size, CRED_BLOB_MAX);
        r = parse_header(p, blob, size, &k, &aad, &th);
        if (r < 0)
                return r;
        ct_len = size - aad - 16;
        r = secret_new(ct_len, &pt);
        if (r < 0)
                return log_oom();

        if (key_types[k].flags & NEEDS_TPM2) {
                struct tpm2_pubkey pk = {
                        .pem = th.pem, .pem_size = th.pem_size, .pcr_mask = th.pk_mask, .signature_path = p->tpm2_signature,
                };

                r = tpm2_unseal(p->tpm2_device, &th.sealed, th.pem ? &pk : NULL, tpm2_secret, &tpm2_size);
                if (r < 0)
                        return r;
        }
        r = derive_key(k, p->host_key_path, false, tpm2_secret, tpm2_size, p->uid, aes_key);
        explicit_bzero(tpm2_secret, sizeof(tpm2_secret));
        if (r < 0)
                return r;
        r = cipher_open(aes_key, blob + CRED_HEADER_SIZE, get_le32(blob + 24), &h);
        explicit_bzero(aes_key, sizeof(aes_key));
        if (r < 0)
                return r;
        e = gcry_cipher_authenticate(h, blob, aad);
        if (!e)
                e = gcry_cipher_final(h);
        if (!e)
                e = gcry_cipher_decrypt(h, pt->data, ct_len, blob + aad, ct_len);
        if (e)
                return log_fail(-EIO, "decryption failed: %s", gcry_strerror(e));
        if (gcry_cipher_checktag(h, blob + aad + ct_len, 16))
                return log_fail(-EBADMSG, "decryption failed: authentication tag mismatch (wrong key, or credential corrupted)");
        pt->size = ct_len;

        r = check_metadata(p, pt->data, pt->size, &meta_len);
        if (r < 0)
                return r;
        if (pt->size - meta_len > CRED_PLAINTEXT_MAX)
                return log_fail(-E2BIG, "credential payload too large (more than %u bytes)", CRED_PLAINTEXT_MAX);
        memmove(pt->data, pt->data + meta_len, pt->size - meta_len);
        explicit_bzero(pt->data + pt->size - meta_len, meta_len);
        pt->size -= meta_len;
        *ret = TAKE_PTR(pt);
        return 0;
}

bool cred_needs_privileged_key(const uint8_t *blob, size_t size) {
        enum cred_key k = size >= 16 ? cred_key_from_id(blob) : CRED_KEY_INVALID;

        return k != CRED_KEY_INVALID && (key_types[k].flags & (NEEDS_HOST | NEEDS_TPM2));
}

static bool is_raw_credential(const uint8_t *data, size_t size) {
        return size >= 16 && cred_key_from_id(data) != CRED_KEY_INVALID;
}

int cred_blob_from_text(const uint8_t *text, size_t size, uint8_t **ret, size_t *ret_size) {
        uint8_t *blob;
        size_t n;
        int r;

        if (size > CRED_TEXT_MAX)
                return log_fail(-E2BIG, "credential too large (%zu bytes, at most %u)", size, CRED_TEXT_MAX);
        if (is_raw_credential(text, size)) {
                blob = malloc(size ? size : 1);
                if (!blob)
                        return log_oom();
                memcpy(blob, text, size);
                *ret = blob;
                *ret_size = size;
                return 0;
        }
        r = base64_decode((const char *) text, size, &blob, &n);
        if (r == -EINVAL)
                return log_fail(-EBADMSG, "credential is neither valid Base64 nor a binary credential");
        if (r < 0)
                return log_error_errno(r, "cannot decode credential");
        if (n > CRED_BLOB_MAX) {
                free(blob);
                return log_fail(-E2BIG, "credential too large (%zu bytes decoded, at most %u)", n, CRED_BLOB_MAX);
        }
        *ret = blob;
        *ret_size = n;
        return 0;
}

bool cred_looks_encrypted(const uint8_t *text, size_t size) {
        char prefix[24]; /* 24 Base64 characters: 18 bytes, enough for the key type */
        uint8_t *blob = NULL;
        size_t n = 0, k = 0;
        bool known;

        if (is_raw_credential(text, size))
                return true;
        /* Decode only a prefix: the data may be a plain secret that must not be copied around. */
        for (size_t i = 0; i < size && k < sizeof(prefix); i++)
                if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
                        prefix[k++] = (char) text[i];
        known = k == sizeof(prefix) && base64_decode(prefix, k, &blob, &n) == 0 && is_raw_credential(blob, n);
        if (blob)
                explicit_bzero(blob, n);
        free(blob);
        explicit_bzero(prefix, sizeof(prefix));
        return known;
}
