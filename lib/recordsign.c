/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "io.h"
#include "log.h"
#include "recordsign.h"
#include "secret.h"

#define ED25519_KEY_SIZE 32
#define ED25519_SIG_SIZE 64
#define KEY_FILE_MAX 4096 /* a PEM Ed25519 key is ~120 bytes */
#define MAX_TRUSTED_KEYS 256

#define PEM_PUBLIC_BEGIN "-----BEGIN PUBLIC KEY-----"
#define PEM_PUBLIC_END "-----END PUBLIC KEY-----"
#define PEM_PRIVATE_BEGIN "-----BEGIN PRIVATE KEY-----"
#define PEM_PRIVATE_END "-----END PRIVATE KEY-----"

/* DER of SubjectPublicKeyInfo / PKCS#8 for Ed25519 (OID 1.3.101.112), up to the raw key. */
static const uint8_t spki_prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
static const uint8_t pkcs8_prefix[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                          0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };

struct sign_key {
        uint8_t *seed; /* ED25519_KEY_SIZE bytes of gcry secure memory */
        uint8_t pub[ED25519_KEY_SIZE];
        char *public_pem;
};

void sign_key_free(struct sign_key *k) {
        if (!k)
                return;
        if (k->seed) {
                explicit_bzero(k->seed, ED25519_KEY_SIZE);
                gcry_free(k->seed);
        }
        free(k->public_pem);
        free(k);
}

/* --- PEM without a PEM library ----------------------------------------------------- */

static int pem_encode(const char *begin, const char *end, const uint8_t *der, size_t size, char **ret) {
        _cleanup_free_ char *b64 = NULL;
        size_t len;
        char *pem;

        if (base64_encode(der, size, 64, &b64, &len) < 0)
                return -ENOMEM;
        if (asprintf(&pem, "%s\n%s\n%s\n", begin, b64, end) < 0)
                return -ENOMEM;
        *ret = pem;
        return 0;
}

/* The DER between the BEGIN and END lines; only whitespace may surround them. */
static int pem_decode(const char *text, size_t size, const char *begin, const char *end, uint8_t **ret,
                      size_t *ret_size) {
        size_t bl = strlen(begin), el = strlen(end), i = 0, body, body_end;

        while (i < size && strchr(" \t\r\n", text[i]) && text[i])
                i++;
        if (size - i < bl || memcmp(text + i, begin, bl) != 0)
                return -EBADMSG;
        body = i + bl;
        for (body_end = body; body_end + el <= size; body_end++)
                if (memcmp(text + body_end, end, el) == 0)
                        break;
        if (body_end + el > size)
                return -EBADMSG;
        for (i = body_end + el; i < size; i++)
                if (!text[i] || !strchr(" \t\r\n", text[i]))
                        return -EBADMSG;
        return base64_decode(text + body, body_end - body, ret, ret_size) < 0 ? -EBADMSG : 0;
}

static int public_key_from_pem(const char *text, size_t size, uint8_t ret[ED25519_KEY_SIZE]) {
        _cleanup_free_ uint8_t *der = NULL;
        size_t n;
        int r;

        r = pem_decode(text, size, PEM_PUBLIC_BEGIN, PEM_PUBLIC_END, &der, &n);
        if (r < 0)
                return r;
        if (n != sizeof(spki_prefix) + ED25519_KEY_SIZE || memcmp(der, spki_prefix, sizeof(spki_prefix)) != 0)
                return -EBADMSG;
        memcpy(ret, der + sizeof(spki_prefix), ED25519_KEY_SIZE);
        return 0;
}

static int public_key_to_pem(const uint8_t pub[ED25519_KEY_SIZE], char **ret) {
        uint8_t der[sizeof(spki_prefix) + ED25519_KEY_SIZE];

        memcpy(der, spki_prefix, sizeof(spki_prefix));
        memcpy(der + sizeof(spki_prefix), pub, ED25519_KEY_SIZE);
        return pem_encode(PEM_PUBLIC_BEGIN, PEM_PUBLIC_END, der, sizeof(der), ret);
}

/* --- libgcrypt Ed25519 --------------------------------------------------------------- */

/* Q from the seed: libgcrypt derives it when asked for "q@eddsa" of a d-only key. */
static int public_from_seed(const uint8_t *seed, uint8_t ret[ED25519_KEY_SIZE]) {
        gcry_sexp_t key = NULL;
        gcry_ctx_t ctx = NULL;
        gcry_mpi_t q = NULL;
        const unsigned char *p;
        unsigned nbits = 0;
        int r = -EIO;

        if (gcry_sexp_build(&key, NULL, "(private-key(ecc(curve Ed25519)(flags eddsa)(d %b)))",
                            ED25519_KEY_SIZE, seed) != 0)
                goto finish;
        if (gcry_mpi_ec_new(&ctx, key, NULL) != 0)
                goto finish;
        q = gcry_mpi_ec_get_mpi("q@eddsa", ctx, 1);
        if (!q)
                goto finish;
        p = gcry_mpi_get_opaque(q, &nbits);
        if (!p || nbits != ED25519_KEY_SIZE * 8)
                goto finish;
        memcpy(ret, p, ED25519_KEY_SIZE);
        r = 0;
finish:
        gcry_mpi_release(q);
        gcry_ctx_release(ctx);
        gcry_sexp_release(key);
        return r;
}

/* Copies the value of token name (r or s) right-aligned into ret. */
static int sexp_get_fixed(gcry_sexp_t sexp, const char *name, uint8_t *ret, size_t size) {
        gcry_sexp_t t = gcry_sexp_find_token(sexp, name, 0);
        const char *d;
        size_t n = 0;

        if (!t)
                return -EIO;
        d = gcry_sexp_nth_data(t, 1, &n);
        if (!d || n == 0 || n > size) {
                gcry_sexp_release(t);
                return -EIO;
        }
        memset(ret, 0, size - n);
        memcpy(ret + size - n, d, n);
        gcry_sexp_release(t);
        return 0;
}

static int ed25519_sign(const uint8_t *seed, const void *msg, size_t size, uint8_t ret[ED25519_SIG_SIZE]) {
        gcry_sexp_t key = NULL, data = NULL, sig = NULL;
        int r = -EIO;

        if (gcry_sexp_build(&key, NULL, "(private-key(ecc(curve Ed25519)(flags eddsa)(d %b)))",
                            ED25519_KEY_SIZE, seed) != 0 ||
            gcry_sexp_build(&data, NULL, "(data(flags eddsa)(hash-algo sha512)(value %b))", (int) size, msg) != 0 ||
            gcry_pk_sign(&sig, data, key) != 0)
                goto finish;
        r = sexp_get_fixed(sig, "r", ret, 32);
        if (r >= 0)
                r = sexp_get_fixed(sig, "s", ret + 32, 32);
finish:
        gcry_sexp_release(sig);
        gcry_sexp_release(data);
        gcry_sexp_release(key);
        return r;
}

static bool ed25519_verify(const uint8_t pub[ED25519_KEY_SIZE], const void *msg, size_t size,
                           const uint8_t sig[ED25519_SIG_SIZE]) {
        gcry_sexp_t key = NULL, data = NULL, s = NULL;
        bool ok = false;

        if (gcry_sexp_build(&key, NULL, "(public-key(ecc(curve Ed25519)(flags eddsa)(q %b)))", ED25519_KEY_SIZE,
                            pub) == 0 &&
            gcry_sexp_build(&data, NULL, "(data(flags eddsa)(hash-algo sha512)(value %b))", (int) size, msg) == 0 &&
            gcry_sexp_build(&s, NULL, "(sig-val(eddsa(r %b)(s %b)))", 32, sig, 32, sig + 32) == 0)
                ok = gcry_pk_verify(s, data, key) == 0;
        gcry_sexp_release(s);
        gcry_sexp_release(data);
        gcry_sexp_release(key);
        return ok;
}

/* --- key files ----------------------------------------------------------------------- */

/* A regular file (no symlink, FIFO or device), read with a size cap. */
static int read_key_file(int dir_fd, const char *name, struct secret **ret) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size > KEY_FILE_MAX)
                return -E2BIG;
        r = read_fd_capped(fd, KEY_FILE_MAX, ret);
        return r;
}

static int seed_from_pem(const struct secret *s, uint8_t *seed) {
        uint8_t *der = NULL;
        size_t n = 0;
        int r;

        r = pem_decode((const char *) s->data, s->size, PEM_PRIVATE_BEGIN, PEM_PRIVATE_END, &der, &n);
        if (r < 0)
                return r;
        if (n == sizeof(pkcs8_prefix) + ED25519_KEY_SIZE && memcmp(der, pkcs8_prefix, sizeof(pkcs8_prefix)) == 0)
                memcpy(seed, der + sizeof(pkcs8_prefix), ED25519_KEY_SIZE);
        else
                r = -EBADMSG;
        explicit_bzero(der, n);
        free(der);
        return r;
}

static int write_private_key(const char *path, const uint8_t *seed) {
        _cleanup_secret_ struct secret *der = NULL, *pem = NULL;
        static const char begin[] = PEM_PRIVATE_BEGIN "\n", end[] = "\n" PEM_PRIVATE_END "\n";
        char *b64 = NULL;
        size_t len = 0;
        int r;

        r = secret_new(sizeof(pkcs8_prefix) + ED25519_KEY_SIZE, &der);
        if (r < 0)
                return r;
        memcpy(der->data, pkcs8_prefix, sizeof(pkcs8_prefix));
        memcpy(der->data + sizeof(pkcs8_prefix), seed, ED25519_KEY_SIZE);
        der->size = sizeof(pkcs8_prefix) + ED25519_KEY_SIZE;
        r = base64_encode(der->data, der->size, 64, &b64, &len);
        if (r < 0)
                return r;
        r = secret_new(sizeof(begin) + len + sizeof(end), &pem);
        if (r >= 0) {
                memcpy(pem->data, begin, sizeof(begin) - 1);
                memcpy(pem->data + sizeof(begin) - 1, b64, len);
                memcpy(pem->data + sizeof(begin) - 1 + len, end, sizeof(end) - 1);
                pem->size = sizeof(begin) - 1 + len + sizeof(end) - 1;
        }
        /* The Base64 text is the key too. */
        explicit_bzero(b64, len);
        free(b64);
        if (r < 0)
                return r;
        return write_file_atomic(path, pem->data, pem->size, 0600, WRITE_NOREPLACE | WRITE_SYNC_DIR | WRITE_SECRET);
}

static int path_join(const char *dir, const char *name, char **ret) {
        return asprintf(ret, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

int sign_key_load_or_create(const char *dir, struct sign_key **ret) {
        _cleanup_(sign_key_freep) struct sign_key *k = NULL;
        _cleanup_secret_ struct secret *s = NULL, *pub_text = NULL;
        _cleanup_free_ char *private_path = NULL, *public_path = NULL;
        _cleanup_close_ int dir_fd = -1;
        uint8_t file_pub[ED25519_KEY_SIZE];
        int r;

        if (path_join(dir, "local.private", &private_path) < 0 || path_join(dir, "local.public", &public_path) < 0)
                return log_oom();
        k = calloc(1, sizeof(*k));
        if (!k)
                return log_oom();
        k->seed = gcry_malloc_secure(ED25519_KEY_SIZE);
        if (!k->seed)
                return log_oom();

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = dir_fd < 0 ? -errno : read_key_file(dir_fd, "local.private", &s);
        if (r == -ENOENT) {
                log_info("Generating key pair for signing local user identity records.");
                r = mkdir_parents(dir, 0700);
                if (r < 0)
                        return log_error_errno(r, "cannot create %s", dir);
                /* The kernel's CSPRNG, as for the host key (libgcrypt's VERY_STRONG level
                 * also starts its jitter collector, which it never frees). */
                if (getrandom(k->seed, ED25519_KEY_SIZE, 0) != ED25519_KEY_SIZE)
                        return log_error_errno(-errno, "cannot get random bytes");
                r = write_private_key(private_path, k->seed);
                /* Someone else created the pair first: use theirs. */
                if (r == -EEXIST)
                        log_debug("%s appeared meanwhile, loading it", private_path);
                else if (r < 0)
                        return log_error_errno(r, "cannot write %s", private_path);
                if (dir_fd < 0)
                        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = dir_fd < 0 ? -errno : read_key_file(dir_fd, "local.private", &s);
        }
        if (r < 0)
                return log_error_errno(r, "cannot read %s", private_path);
        r = seed_from_pem(s, k->seed);
        if (r < 0)
                return log_fail(r, "%s: not an Ed25519 private key in PKCS#8 PEM", private_path);
        if (public_from_seed(k->seed, k->pub) < 0)
                return log_fail(-EIO, "%s: cannot derive the public key", private_path);
        if (public_key_to_pem(k->pub, &k->public_pem) < 0)
                return log_oom();

        /* local.public follows from local.private: write it if missing (a creator may
         * have died between the two files), refuse one that belongs to another key. */
        r = read_key_file(dir_fd, "local.public", &pub_text);
        if (r == -ENOENT) {
                r = write_file_atomic(public_path, k->public_pem, strlen(k->public_pem), 0644,
                                      WRITE_NOREPLACE | WRITE_SYNC_DIR);
                if (r < 0 && r != -EEXIST)
                        return log_error_errno(r, "cannot write %s", public_path);
                r = read_key_file(dir_fd, "local.public", &pub_text);
        }
        if (r < 0)
                return log_error_errno(r, "cannot read %s", public_path);
        if (public_key_from_pem((const char *) pub_text->data, pub_text->size, file_pub) < 0 ||
            memcmp(file_pub, k->pub, ED25519_KEY_SIZE) != 0)
                return log_fail(-EBADMSG, "%s does not match %s, refusing", public_path, private_path);

        *ret = TAKE_PTR(k);
        return 0;
}

/* --- records ----------------------------------------------------------------------- */

int user_record_sign(struct user_record *ur, const struct sign_key *k) {
        _cleanup_free_ char *text = NULL, *b64 = NULL;
        uint8_t sig[ED25519_SIG_SIZE];
        json_object *arr = NULL, *entry = NULL;
        size_t size = 0, len = 0;
        int r;

        r = user_record_canonical(ur, &text, &size);
        if (r < 0)
                return r;
        r = ed25519_sign(k->seed, text, size, sig);
        if (r < 0)
                return r;
        r = base64_encode(sig, sizeof(sig), 0, &b64, &len);
        if (r < 0)
                return r;
        entry = json_object_new_object();
        arr = json_object_new_array();
        if (!entry || !arr ||
            json_object_object_add(entry, "data", json_object_new_string_len(b64, (int) len)) < 0 ||
            json_object_object_add(entry, "key", json_object_new_string(k->public_pem)) < 0 ||
            !json_object_object_get(entry, "data") || !json_object_object_get(entry, "key") ||
            json_object_array_add(arr, entry) < 0) {
                json_object_put(entry);
                json_object_put(arr);
                return -ENOMEM;
        }
        return user_record_set(ur, "signature", arr);
}

struct trusted {
        uint8_t keys[MAX_TRUSTED_KEYS][ED25519_KEY_SIZE];
        size_t n;
        bool have_local; /* keys[0] is local.public */
};

static int trusted_load(const char *dir, struct trusted *t) {
        _cleanup_close_ int dir_fd = -1;
        struct dirent *de;
        DIR *d;
        int fd, r;

        t->n = 0;
        t->have_local = false;
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return errno == ENOENT ? 0 : -errno; /* no directory, no trusted keys */
        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_secret_ struct secret *s = NULL;
                size_t len = strlen(de->d_name);
                bool local = strcmp(de->d_name, "local.public") == 0;
                uint8_t key[ED25519_KEY_SIZE];

                if (len <= 7 || strcmp(de->d_name + len - 7, ".public") != 0 || de->d_name[0] == '.')
                        continue;
                if (t->n >= MAX_TRUSTED_KEYS && !local)
                        continue;
                r = read_key_file(dir_fd, de->d_name, &s);
                if (r == -ENOENT || r == -EBADFD || r == -ELOOP)
                        continue; /* vanished, or not a regular file: not a key */
                if (r < 0) {
                        closedir(d);
                        return r;
                }
                if (public_key_from_pem((const char *) s->data, s->size, key) < 0) {
                        log_debug("%s/%s: not an Ed25519 public key in PEM, ignoring", dir, de->d_name);
                        continue;
                }
                if (local) {
                        /* keys[0] is always local.public. */
                        if (t->n > 0 && t->n < MAX_TRUSTED_KEYS)
                                memcpy(t->keys[t->n], t->keys[0], ED25519_KEY_SIZE);
                        memcpy(t->keys[0], key, ED25519_KEY_SIZE);
                        t->have_local = true;
                        if (t->n < MAX_TRUSTED_KEYS)
                                t->n++;
                } else
                        memcpy(t->keys[t->n++], key, ED25519_KEY_SIZE);
        }
        r = errno > 0 ? -errno : 0;
        closedir(d);
        return r;
}

/* -1 if key is not trusted, else its index. */
static ssize_t trusted_find(const struct trusted *t, const uint8_t key[ED25519_KEY_SIZE]) {
        for (size_t i = 0; i < t->n; i++)
                if (memcmp(t->keys[i], key, ED25519_KEY_SIZE) == 0)
                        return (ssize_t) i;
        return -1;
}

/* Index of the trusted key that made a good signature in this entry, or -1. */
static ssize_t check_entry(json_object *entry, const struct trusted *t, const char *text, size_t size) {
        _cleanup_free_ uint8_t *sig = NULL;
        json_object *data, *key;
        size_t n = 0;

        if (!json_object_is_type(entry, json_type_object) || !json_object_object_get_ex(entry, "data", &data) ||
            !json_object_is_type(data, json_type_string))
                return -1;
        if (base64_decode(json_object_get_string(data), (size_t) json_object_get_string_len(data), &sig, &n) < 0 ||
            n != ED25519_SIG_SIZE)
                return -1;

        if (json_object_object_get_ex(entry, "key", &key)) {
                uint8_t pub[ED25519_KEY_SIZE];
                ssize_t i;

                if (!json_object_is_type(key, json_type_string) ||
                    public_key_from_pem(json_object_get_string(key), (size_t) json_object_get_string_len(key), pub) < 0)
                        return -1;
                i = trusted_find(t, pub);
                if (i < 0) {
                        /* Checked for the log's sake: good or not, an unknown key is foreign. */
                        log_debug("user record signature by an untrusted key is %s",
                                  ed25519_verify(pub, text, size, sig) ? "valid" : "invalid");
                        return -1;
                }
                return ed25519_verify(pub, text, size, sig) ? i : -1;
        }
        /* No key named: any trusted key that verifies it. */
        for (size_t i = 0; i < t->n; i++)
                if (ed25519_verify(t->keys[i], text, size, sig))
                        return (ssize_t) i;
        return -1;
}

int user_record_verify(const struct user_record *ur, const char *dir) {
        _cleanup_free_ struct trusted *t = NULL;
        _cleanup_free_ char *text = NULL;
        json_object *sigs;
        size_t n, size = 0;
        bool good_local = false, good_other = false, bad = false;
        int r;

        if (!json_object_object_get_ex(ur->json, "signature", &sigs) || !json_object_is_type(sigs, json_type_array) ||
            json_object_array_length(sigs) == 0)
                return RECORD_UNSIGNED;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        r = trusted_load(dir, t);
        if (r < 0)
                return r;
        r = user_record_canonical(ur, &text, &size);
        if (r < 0)
                return r;

        n = json_object_array_length(sigs);
        for (size_t i = 0; i < n; i++) {
                ssize_t k = check_entry(json_object_array_get_idx(sigs, i), t, text, size);

                if (k < 0)
                        bad = true;
                else if (k == 0 && t->have_local)
                        good_local = true;
                else
                        good_other = true;
        }
        if (good_local && !bad && !good_other)
                return RECORD_SIGNED_LOCALLY;
        if (good_local || good_other)
                return RECORD_SIGNED_TRUSTED;
        return RECORD_SIGNED_FOREIGN;
}
