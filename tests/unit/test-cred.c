/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/cred.c: key names, credential names, the binary format,
 * encryption/decryption round trips, systemd-made vectors and tampering. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base64.h"
#include "cred.h"
#include "crypto.h"
#include "hostkey.h"
#include "io.h"
#include "secret.h"
#include "tmpdir.h"
#include "timestamp.h"

#define VECTORS "tests/vectors/"
#define PAYLOAD "s3cr3t-p4ssw0rd"
/* 2035-01-01 00:00:00 UTC, the not-after time of host-notafter.cred */
#define USEC_2035 UINT64_C(2051222400000000)
/* 2021-01-01 00:00:00 UTC, the not-after time of host-expired.cred */
#define USEC_2021 UINT64_C(1609459200000000)

static const uint8_t id_host[16] = { 0x5a, 0x1c, 0x6a, 0x86, 0xdf, 0x9d, 0x40, 0x96,
                                     0xb1, 0xd5, 0xa6, 0x5e, 0x08, 0x62, 0xf1, 0x9a };
static const uint8_t id_null[16] = { 0x05, 0x84, 0x69, 0xda, 0xf6, 0xf5, 0x43, 0x24,
                                     0x80, 0x05, 0x49, 0xda, 0x0f, 0x8e, 0xa2, 0xfb };

/* Group state: a temp dir with our own host key and a 0400 copy of the vector key. */
static struct {
        char dir[PATH_MAX / 2];
        char own_key[PATH_MAX];    /* created by hostkey_load(may_create) */
        char other_key[PATH_MAX];  /* a second, different key */
        char vector_key[PATH_MAX]; /* copy of tests/vectors/host.secret, mode 0400 */
        bool vector_key_usable;    /* /etc/machine-id is (or now reads as) tests/vectors/machine-id */
        char why[256];
} g;

static int read_small(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return (int) n;
}

static int copy_file(const char *from, const char *to, mode_t mode) {
        struct secret *s = NULL;
        int r = read_file_capped(from, 1 << 24, &s);

        if (r < 0)
                return r;
        r = write_file_atomic(to, s->data, s->size, mode, WRITE_NOREPLACE);
        secret_free(s);
        return r;
}

/* The vector key carries the header of tests/vectors/machine-id. On another
 * machine, root runs this whole test in a private mount namespace with that ID
 * bind-mounted over /etc/machine-id, so the vector tests run everywhere in CI. */
static int use_vector_machine_id(char *mid, size_t size) {
        char vmid[64];

        if (read_small("/etc/machine-id", mid, size) < 0) {
                snprintf(g.why, sizeof(g.why), "no /etc/machine-id");
                return -1;
        }
        if (read_small(VECTORS "machine-id", vmid, sizeof(vmid)) < 0) {
                snprintf(g.why, sizeof(g.why), "no " VECTORS "machine-id");
                return -1;
        }
        mid[strcspn(mid, "\n")] = '\0';
        vmid[strcspn(vmid, "\n")] = '\0';
        if (strcmp(mid, vmid) == 0)
                return 0;
        if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
            mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0 &&
            mount(VECTORS "machine-id", "/etc/machine-id", "none", MS_BIND, NULL) == 0)
                return 0;
        snprintf(g.why, sizeof(g.why),
                 "/etc/machine-id (%s) differs from " VECTORS "machine-id (%s) and it cannot be bind-mounted (needs root)",
                 mid, vmid);
        return -1;
}

static int group_setup(void **state) {
        char mid[64];
        struct secret *s = NULL;
        int r;

        g.vector_key_usable = use_vector_machine_id(mid, sizeof(mid)) == 0;
        if (tmpdir_make(g.dir, sizeof(g.dir), "test-cred") < 0)
                return -1;
        snprintf(g.own_key, sizeof(g.own_key), "%s/own.secret", g.dir);
        snprintf(g.other_key, sizeof(g.other_key), "%s/other.secret", g.dir);
        snprintf(g.vector_key, sizeof(g.vector_key), "%s/vector.secret", g.dir);
        if (hostkey_load(g.own_key, true, &s) < 0)
                return -1;
        secret_free(s);
        s = NULL;
        if (hostkey_load(g.other_key, true, &s) < 0)
                return -1;
        secret_free(s);

        r = copy_file(VECTORS "host.secret", g.vector_key, 0400);
        if (r < 0) {
                snprintf(g.why, sizeof(g.why), "cannot copy " VECTORS "host.secret: %s", strerror(-r));
                g.vector_key_usable = false;
        }
        return 0;
}

static int group_teardown(void **state) {
        tmpdir_remove(g.dir);
        return 0;
}

static void need_vector_key(void) {
        if (!g.vector_key_usable) {
                print_message("# skipping: %s\n", g.why);
                skip();
        }
}

static struct cred_encrypt_params enc_params(enum cred_key key, const char *keypath, const char *name) {
        return (struct cred_encrypt_params) {
                .key = key,
                .host_key_path = keypath,
                .name = name,
                .timestamp = now_usec(),
                .not_after = USEC_INFINITY,
        };
}

static struct cred_decrypt_params dec_params(const char *keypath, const char *name) {
        return (struct cred_decrypt_params) {
                .host_key_path = keypath,
                .expected_name = name,
                .now = now_usec(),
                .null_policy = CRED_NULL_ALLOW,
                .required_key = CRED_KEY_INVALID,
        };
}

static void encrypt_ok(const struct cred_encrypt_params *p, const void *data, size_t size, uint8_t **ret,
                       size_t *ret_size) {
        int r = cred_encrypt(p, data, size, ret, ret_size);

        if (r != 0)
                fail_msg("cred_encrypt failed: %d (%s)", r, strerror(-r));
        assert_non_null(*ret);
}

static void decrypt_expect(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, const void *want,
                           size_t want_size) {
        struct secret *s = NULL;
        int r = cred_decrypt(p, blob, size, &s);

        if (r != 0)
                fail_msg("cred_decrypt failed: %d (%s)", r, strerror(-r));
        assert_non_null(s);
        assert_int_equal(s->size, want_size);
        if (want_size > 0)
                assert_memory_equal(s->data, want, want_size);
        secret_free(s);
}

static void decrypt_fails(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, int expected) {
        struct secret *s = NULL;
        int r = cred_decrypt(p, blob, size, &s);

        if (r != expected)
                fail_msg("cred_decrypt returned %d (%s), expected %d (%s)", r, r < 0 ? strerror(-r) : "success",
                         expected, strerror(-expected));
        assert_null(s);
}

/* Reads a vector file and turns it into the binary form. */
static void load_vector(const char *file, uint8_t **ret, size_t *ret_size) {
        struct secret *text = NULL;
        int r = read_file_capped(file, CRED_TEXT_MAX, &text);

        if (r < 0)
                fail_msg("cannot read %s: %s", file, strerror(-r));
        r = cred_blob_from_text(text->data, text->size, ret, ret_size);
        if (r < 0)
                fail_msg("cred_blob_from_text(%s) failed: %s", file, strerror(-r));
        secret_free(text);
}

/* --- key and credential names ----------------------------------------- */

static void test_key_from_string(void **state) {
        static const struct {
                const char *s;
                enum cred_key k;
        } t[] = {
                { "host", CRED_KEY_HOST },
                { "null", CRED_KEY_NULL },
                { "auto", CRED_KEY_AUTO },
                { "auto-initrd", CRED_KEY_AUTO_INITRD },
                { "tpm2", CRED_KEY_TPM2 },
                { "host+tpm2", CRED_KEY_HOST_TPM2 },
                { "tpm2+host", CRED_KEY_HOST_TPM2 },
                { "tpm2-with-public-key", CRED_KEY_TPM2_PK },
                { "host+tpm2-with-public-key", CRED_KEY_HOST_TPM2_PK },
                { "tpm2-with-public-key+host", CRED_KEY_HOST_TPM2_PK },
                { "tpm2-absent", CRED_KEY_NULL },
                { "", CRED_KEY_AUTO },
                { "bogus", CRED_KEY_INVALID },
                { "HOST", CRED_KEY_INVALID },
                { "host ", CRED_KEY_INVALID },
                { "host+", CRED_KEY_INVALID },
                { "invalid", CRED_KEY_INVALID },
                /* On-disk names of the user-scoped types are not --with-key= values. */
                { "host (user-scoped)", CRED_KEY_INVALID },
                { "host+tpm2 (user-scoped)", CRED_KEY_INVALID },
        };

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                enum cred_key k = cred_key_from_string(t[i].s);

                if (k != t[i].k)
                        fail_msg("cred_key_from_string(\"%s\") = %d, expected %d", t[i].s, (int) k, (int) t[i].k);
        }
}

static void test_key_to_string(void **state) {
        static const char *const canonical[] = { "host", "null", "auto", "auto-initrd", "tpm2", "host+tpm2",
                                                 "tpm2-with-public-key", "host+tpm2-with-public-key" };

        for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++)
                assert_string_equal(cred_key_to_string(cred_key_from_string(canonical[i])), canonical[i]);
        assert_string_equal(cred_key_to_string(CRED_KEY_INVALID), "invalid");
        assert_string_equal(cred_key_to_string(_CRED_KEY_MAX), "invalid");
        assert_string_equal(cred_key_to_string(CRED_KEY_HOST_SCOPED), "host (user-scoped)");
}

static void test_name_valid(void **state) {
        char n255[257], n256[258];

        memset(n255, 'a', 255);
        n255[255] = '\0';
        memset(n256, 'a', 256);
        n256[256] = '\0';

        assert_true(cred_name_valid("a"));
        assert_true(cred_name_valid("db.password"));
        assert_true(cred_name_valid("with space"));
        assert_true(cred_name_valid(" "));
        assert_true(cred_name_valid("..."));
        assert_true(cred_name_valid(".hidden"));
        assert_true(cred_name_valid("~!@#$%^&*()_+-={}[]|\\;'\"<>,?`"));
        assert_true(cred_name_valid(n255));

        assert_false(cred_name_valid(""));
        assert_false(cred_name_valid("."));
        assert_false(cred_name_valid(".."));
        assert_false(cred_name_valid("a/b"));
        assert_false(cred_name_valid("/"));
        assert_false(cred_name_valid("a:b"));
        assert_false(cred_name_valid(":"));
        assert_false(cred_name_valid(n256));
        assert_false(cred_name_valid("\x7f"));
        assert_false(cred_name_valid("a\x7f"));
        assert_false(cred_name_valid("a\tb"));
        assert_false(cred_name_valid("a\nb"));
        assert_false(cred_name_valid("\x01"));
        assert_false(cred_name_valid("caf\xc3\xa9")); /* non-ASCII */
        assert_false(cred_name_valid("\xff"));
}

/* --- round trips ---------------------------------------------------------- */

static void test_roundtrip_null(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_NULL, NULL, "nullname");
        struct cred_decrypt_params dp = dec_params(NULL, "nullname");
        uint8_t *blob = NULL;
        size_t size = 0;

        encrypt_ok(&ep, PAYLOAD, strlen(PAYLOAD), &blob, &size);
        assert_memory_equal(blob, id_null, 16);
        decrypt_expect(&dp, blob, size, PAYLOAD, strlen(PAYLOAD));
        /* A null credential does not need any host key, even a bogus path. */
        dp.host_key_path = "/nonexistent/key";
        decrypt_expect(&dp, blob, size, PAYLOAD, strlen(PAYLOAD));
        free(blob);
}

static void test_roundtrip_host(void **state) {
        static const size_t sizes[] = { 0, 1, 15, 16, 17, 4096, 65537 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, "db.password");
                struct cred_decrypt_params dp = dec_params(g.own_key, "db.password");
                uint8_t *data = malloc(sizes[i] + 1), *blob = NULL;
                size_t size = 0;

                assert_non_null(data);
                for (size_t k = 0; k < sizes[i]; k++)
                        data[k] = (uint8_t) (k * 31 + i);
                encrypt_ok(&ep, data, sizes[i], &blob, &size);
                assert_memory_equal(blob, id_host, 16);
                /* The payload is not in the clear. */
                if (sizes[i] >= 16)
                        assert_null(memmem(blob, size, data, 16));
                decrypt_expect(&dp, blob, size, data, sizes[i]);
                /* Another host key cannot open it. */
                dp.host_key_path = g.other_key;
                decrypt_fails(&dp, blob, size, -EBADMSG);
                free(blob);
                free(data);
        }
}

static void test_roundtrip_host_binary_payload(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, NULL);
        struct cred_decrypt_params dp = dec_params(g.own_key, NULL);
        uint8_t data[256], *blob = NULL;
        size_t size = 0;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) i;
        encrypt_ok(&ep, data, sizeof(data), &blob, &size);
        decrypt_expect(&dp, blob, size, data, sizeof(data));
        free(blob);
}

static void test_encrypt_creates_host_key(void **state) {
        char path[PATH_MAX + 32];
        struct cred_encrypt_params ep;
        struct cred_decrypt_params dp;
        uint8_t *blob = NULL;
        size_t size = 0;
        struct stat st;

        snprintf(path, sizeof(path), "%s/new/dir/credential.secret", g.dir);
        ep = enc_params(CRED_KEY_HOST, path, "x");
        dp = dec_params(path, "x");
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0400);
        assert_int_equal(st.st_size, HOSTKEY_HEADER_SIZE + HOSTKEY_KEY_SIZE);
        decrypt_expect(&dp, blob, size, "abc", 3);
        free(blob);
}

static void test_decrypt_does_not_create_host_key(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, NULL);
        char path[PATH_MAX + 32];
        struct cred_decrypt_params dp;
        uint8_t *blob = NULL;
        size_t size = 0;

        snprintf(path, sizeof(path), "%s/missing/credential.secret", g.dir);
        dp = dec_params(path, NULL);
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        decrypt_fails(&dp, blob, size, -ENOENT);
        assert_int_equal(access(path, F_OK), -1);
        free(blob);
}

static void test_key_from_environment(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, NULL, NULL);
        struct cred_decrypt_params dp = dec_params(NULL, NULL);
        uint8_t *blob = NULL;
        size_t size = 0;

        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_SECRET", g.own_key, 1), 0);
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        decrypt_expect(&dp, blob, size, "abc", 3);
        dp.host_key_path = g.other_key; /* explicit path beats the environment */
        decrypt_fails(&dp, blob, size, -EBADMSG);
        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_SECRET", g.other_key, 1), 0);
        dp.host_key_path = NULL;
        decrypt_fails(&dp, blob, size, -EBADMSG);
        assert_int_equal(unsetenv("SYSTEMD_CREDENTIAL_SECRET"), 0);
        free(blob);
}

static void test_auto_keys(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_AUTO_INITRD, g.own_key, NULL);
        uint8_t *blob = NULL;
        size_t size = 0;
        int r;

        /* Without TPM2 support auto-initrd means null. */
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        assert_memory_equal(blob, id_null, 16);
        free(blob);
        blob = NULL;

        /* auto means host, unless the key lies on a temporary file system. */
        ep.key = CRED_KEY_AUTO;
        r = cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size);
        if (hostkey_on_temporary_fs(g.own_key)) {
                assert_int_equal(r, -ENOTRECOVERABLE);
                assert_null(blob);
        } else {
                assert_int_equal(r, 0);
                assert_memory_equal(blob, id_host, 16);
                free(blob);
        }
}

/* TPM2 key types with no TPM behind the device: -ENODEV, nothing written. */
static void test_encrypt_unsupported_keys(void **state) {
        static const enum cred_key keys[] = { CRED_KEY_TPM2, CRED_KEY_HOST_TPM2, CRED_KEY_TPM2_PK,
                                              CRED_KEY_HOST_TPM2_PK };
        uint8_t *blob = NULL;
        size_t size = 0;

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                struct cred_encrypt_params ep = enc_params(keys[i], g.own_key, NULL);

                ep.tpm2_device = "/nonexistent/tpmrm0";
                ep.tpm2_public_key = VECTORS "tpm2/pcr-signing-pub.pem";
                assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -ENODEV);
                assert_null(blob);
        }
        {
                struct cred_encrypt_params ep = enc_params(CRED_KEY_INVALID, g.own_key, NULL);

                assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -EINVAL);
                assert_null(blob);
        }
}

/* --- format ------------------------------------------------------------- */

static void test_sizes(void **state) {
        static const struct {
                const char *name;
                size_t payload;
                size_t expected;
        } t[] = {
                { "db.password", 15, 111 },
                { NULL, 15, 103 },
                { "", 15, 103 },
                { "empty", 0, 96 },
                { "abc", 1, 48 + 24 + 1 + 16 },
                { "abcd", 1, 48 + 24 + 1 + 16 },
                { "abcde", 1, 48 + 32 + 1 + 16 },
        };

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, t[i].name);
                uint8_t *blob = NULL;
                size_t size = 0;

                encrypt_ok(&ep, PAYLOAD, t[i].payload, &blob, &size);
                if (size != t[i].expected)
                        fail_msg("name %s, %zu-byte payload: %zu bytes, expected %zu", t[i].name ? t[i].name : "(none)",
                                 t[i].payload, size, t[i].expected);
                free(blob);
        }
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void test_header_bytes(void **state) {
        static const uint8_t sizes_le[16] = { 32, 0, 0, 0, 1, 0, 0, 0, 12, 0, 0, 0, 16, 0, 0, 0 };
        static const uint8_t zero[4] = {};
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, "db.password");
        uint8_t *a = NULL, *b = NULL;
        size_t asz = 0, bsz = 0;

        encrypt_ok(&ep, PAYLOAD, 15, &a, &asz);
        encrypt_ok(&ep, PAYLOAD, 15, &b, &bsz);
        assert_int_equal(asz, bsz);
        assert_memory_equal(a, id_host, 16);
        assert_memory_equal(a + 16, sizes_le, 16);
        assert_int_equal(le32(a + 16), 32);
        assert_int_equal(le32(a + 20), 1);
        assert_int_equal(le32(a + 24), 12);
        assert_int_equal(le32(a + 28), 16);
        /* Padding after the IV up to the 8-byte boundary is zero. */
        assert_memory_equal(a + 44, zero, 4);
        /* A fresh IV every time, so the ciphertexts differ too. */
        assert_memory_not_equal(a + 32, b + 32, 12);
        assert_memory_not_equal(a + 48, b + 48, asz - 48);
        /* Both decrypt. */
        {
                struct cred_decrypt_params dp = dec_params(g.own_key, "db.password");

                decrypt_expect(&dp, a, asz, PAYLOAD, 15);
                decrypt_expect(&dp, b, bsz, PAYLOAD, 15);
        }
        free(a);
        free(b);
}

/* --- systemd-made vectors ------------------------------------------------- */

static void test_vector_host_named(void **state) {
        struct cred_decrypt_params dp = dec_params(g.vector_key, "db.password");
        uint8_t *blob = NULL;
        size_t size = 0;

        need_vector_key();
        load_vector(VECTORS "host-named.cred", &blob, &size);
        assert_int_equal(size, 111);
        assert_memory_equal(blob, id_host, 16);
        decrypt_expect(&dp, blob, size, PAYLOAD, strlen(PAYLOAD));
        /* The wrong name is refused. */
        dp.expected_name = "db.passwort";
        decrypt_fails(&dp, blob, size, -EREMOTE);
        /* Our own host key is a different key. */
        dp.expected_name = "db.password";
        dp.host_key_path = g.own_key;
        decrypt_fails(&dp, blob, size, -EBADMSG);
        free(blob);
}

static void test_vectors_host(void **state) {
        static const struct {
                const char *file;
                const char *name;
                const char *payload;
        } t[] = {
                { VECTORS "host-noname.cred", "anything", PAYLOAD },
                { VECTORS "host-empty.cred", "empty", "" },
                { VECTORS "host-notafter.cred", "expiring", PAYLOAD },
                { VECTORS "v257-host-named.cred", "db.password", PAYLOAD },
                { VECTORS "host-default-name.cred", "host-default-name.cred", PAYLOAD },
                { VECTORS "auto.cred", "auto", PAYLOAD },
        };

        need_vector_key();
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                struct cred_decrypt_params dp = dec_params(g.vector_key, t[i].name);
                uint8_t *blob = NULL;
                size_t size = 0;

                print_message("# %s\n", t[i].file);
                load_vector(t[i].file, &blob, &size);
                decrypt_expect(&dp, blob, size, t[i].payload, strlen(t[i].payload));
                free(blob);
        }
}

static void test_vector_binary_payloads(void **state) {
        static const struct {
                const char *cred, *name, *plain;
        } t[] = {
                { VECTORS "host-32.cred", "secret32", VECTORS "pt-32.bin" },
                { VECTORS "host-1MiB.cred", "big", VECTORS "pt-1MiB.bin" },
        };

        need_vector_key();
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                struct cred_decrypt_params dp = dec_params(g.vector_key, t[i].name);
                struct secret *plain = NULL;
                uint8_t *blob = NULL;
                size_t size = 0;

                assert_int_equal(read_file_capped(t[i].plain, CRED_PLAINTEXT_MAX, &plain), 0);
                load_vector(t[i].cred, &blob, &size);
                decrypt_expect(&dp, blob, size, plain->data, plain->size);
                secret_free(plain);
                free(blob);
        }
}

static void test_vector_expiry(void **state) {
        struct cred_decrypt_params dp = dec_params(g.vector_key, "expired");
        uint8_t *blob = NULL;
        size_t size = 0;

        need_vector_key();
        load_vector(VECTORS "host-expired.cred", &blob, &size);
        decrypt_fails(&dp, blob, size, -ESTALE);
        dp.allow_expired = true;
        decrypt_expect(&dp, blob, size, PAYLOAD, strlen(PAYLOAD));
        dp.allow_expired = false;
        dp.now = USEC_2021; /* not after 2021-01-01 00:00:00: still valid at that instant */
        decrypt_expect(&dp, blob, size, PAYLOAD, strlen(PAYLOAD));
        dp.now = USEC_2021 + 1;
        decrypt_fails(&dp, blob, size, -ESTALE);
        free(blob);

        dp = dec_params(g.vector_key, "expiring");
        load_vector(VECTORS "host-notafter.cred", &blob, &size);
        dp.now = USEC_2035;
        decrypt_expect(&dp, blob, size, PAYLOAD, strlen(PAYLOAD));
        dp.now = USEC_2035 + 1;
        decrypt_fails(&dp, blob, size, -ESTALE);
        free(blob);
}

static void test_vectors_null(void **state) {
        static const struct {
                const char *file, *name;
        } t[] = {
                { VECTORS "null-named.cred", "nullkey" },
                { VECTORS "v257-null-named.cred", "nullkey" },
                { VECTORS "auto-initrd.cred", "autoinitrd" },
        };

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                /* A null key needs no host key: a path that does not exist proves it. */
                struct cred_decrypt_params dp = dec_params("/nonexistent/credential.secret", t[i].name);
                uint8_t *blob = NULL;
                size_t size = 0;

                print_message("# %s\n", t[i].file);
                load_vector(t[i].file, &blob, &size);
                assert_memory_equal(blob, id_null, 16);
                decrypt_expect(&dp, blob, size, PAYLOAD, strlen(PAYLOAD));
                dp.null_policy = CRED_NULL_REFUSE;
                decrypt_fails(&dp, blob, size, -EPERM);
                free(blob);
        }
}

static void test_vectors_unsupported(void **state) {
        struct cred_decrypt_params dp = dec_params(g.vector_key, NULL);
        uint8_t *blob = NULL;
        size_t size = 0;

        dp.tpm2_device = "/nonexistent/tpmrm0"; /* no TPM2 here: a clear -ENODEV */
        load_vector(VECTORS "tpm2-pcr7.cred", &blob, &size);
        decrypt_fails(&dp, blob, size, -ENODEV);
        free(blob);
        load_vector(VECTORS "v257-user-nobody.cred", &blob, &size);
        decrypt_fails(&dp, blob, size, -EMEDIUMTYPE);
        free(blob);
}

/* --- validation ----------------------------------------------------------- */

static void test_name_mismatch(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, "right");
        struct cred_decrypt_params dp = dec_params(g.own_key, "wrong");
        uint8_t *blob = NULL;
        size_t size = 0;

        encrypt_ok(&ep, "abc", 3, &blob, &size);
        decrypt_fails(&dp, blob, size, -EREMOTE);
        dp.expected_name = "righ";
        decrypt_fails(&dp, blob, size, -EREMOTE);
        dp.expected_name = "right ";
        decrypt_fails(&dp, blob, size, -EREMOTE);
        /* systemd's escape hatch. */
        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_VALIDATE_NAME", "0", 1), 0);
        dp.expected_name = "wrong";
        decrypt_expect(&dp, blob, size, "abc", 3);
        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_VALIDATE_NAME", "1", 1), 0);
        decrypt_fails(&dp, blob, size, -EREMOTE);
        assert_int_equal(unsetenv("SYSTEMD_CREDENTIAL_VALIDATE_NAME"), 0);
        /* No expected name: no check. */
        dp.expected_name = NULL;
        decrypt_expect(&dp, blob, size, "abc", 3);
        dp.expected_name = "right";
        decrypt_expect(&dp, blob, size, "abc", 3);
        free(blob);

        /* No embedded name: any expected name is fine. */
        ep.name = NULL;
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        dp.expected_name = "whatever";
        decrypt_expect(&dp, blob, size, "abc", 3);
        free(blob);
}

static void test_invalid_name_at_encrypt(void **state) {
        static const char *const bad[] = { ".", "..", "a/b", "a:b", "\x7f" };
        uint8_t *blob = NULL;
        size_t size = 0;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct cred_encrypt_params ep = enc_params(CRED_KEY_NULL, NULL, bad[i]);

                assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -EINVAL);
                assert_null(blob);
        }
}

static void test_expiry(void **state) {
        uint64_t now = now_usec();
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, "exp");
        struct cred_decrypt_params dp = dec_params(g.own_key, "exp");
        uint8_t *blob = NULL;
        size_t size = 0;

        ep.timestamp = now - 2 * 3600 * USEC_PER_SEC;
        ep.not_after = now - 3600 * USEC_PER_SEC;
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        decrypt_fails(&dp, blob, size, -ESTALE);
        dp.allow_expired = true;
        decrypt_expect(&dp, blob, size, "abc", 3);
        dp.allow_expired = false;
        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_VALIDATE_NOT_AFTER", "0", 1), 0);
        decrypt_expect(&dp, blob, size, "abc", 3);
        assert_int_equal(unsetenv("SYSTEMD_CREDENTIAL_VALIDATE_NOT_AFTER"), 0);
        /* "now" as the caller says it. */
        dp.now = now - 3 * 3600 * USEC_PER_SEC;
        decrypt_expect(&dp, blob, size, "abc", 3);
        free(blob);

        /* In the future: fine. */
        ep.timestamp = now;
        ep.not_after = now + 3600 * USEC_PER_SEC;
        dp.now = now;
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        decrypt_expect(&dp, blob, size, "abc", 3);
        free(blob);

        /* No timestamp, only not-after. */
        ep.timestamp = USEC_INFINITY;
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        decrypt_expect(&dp, blob, size, "abc", 3);
        free(blob);
}

static void test_timestamps_out_of_order(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, NULL);
        uint8_t *blob = NULL;
        size_t size = 0;

        ep.timestamp = USEC_2035;
        ep.not_after = USEC_2035 - 1;
        assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -EINVAL);
        assert_null(blob);
        /* Equal is refused too: decryption would reject it (timestamp >= not-after). */
        ep.not_after = USEC_2035;
        assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -EINVAL);
        assert_null(blob);
        ep.not_after = USEC_2035 + 1;
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        free(blob);
}

static void test_plaintext_limit(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, "big");
        struct cred_decrypt_params dp = dec_params(g.own_key, "big");
        uint8_t *data = calloc(1, CRED_PLAINTEXT_MAX + 1), *blob = NULL;
        size_t size = 0;

        assert_non_null(data);
        for (size_t i = 0; i <= CRED_PLAINTEXT_MAX; i++)
                data[i] = (uint8_t) (i ^ (i >> 9));
        assert_int_equal(cred_encrypt(&ep, data, CRED_PLAINTEXT_MAX + 1, &blob, &size), -E2BIG);
        assert_null(blob);
        encrypt_ok(&ep, data, CRED_PLAINTEXT_MAX, &blob, &size);
        decrypt_expect(&dp, blob, size, data, CRED_PLAINTEXT_MAX);
        free(blob);
        free(data);

        /* Decryption refuses anything larger than CRED_BLOB_MAX up front. */
        data = calloc(1, CRED_BLOB_MAX + 1);
        assert_non_null(data);
        memcpy(data, id_null, 16);
        decrypt_fails(&dp, data, CRED_BLOB_MAX + 1, -E2BIG);
        free(data);
}

/* Flips each byte in turn; every variant must fail and yield no secret. */
static void tamper_all(const struct cred_decrypt_params *dp, const uint8_t *blob, size_t size, uint8_t mask) {
        int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        size_t bad_at = SIZE_MAX;
        int bad_r = 0;
        bool leaked = false;

        assert_true(saved >= 0 && devnull >= 0);
        fflush(stderr);
        dup2(devnull, STDERR_FILENO); /* thousands of expected error lines */
        for (size_t i = 0; i < size && bad_at == SIZE_MAX; i++) {
                uint8_t *copy = malloc(size);
                struct secret *s = NULL;
                int r;

                memcpy(copy, blob, size);
                copy[i] ^= mask;
                r = cred_decrypt(dp, copy, size, &s);
                if (r >= 0 || s) {
                        bad_at = i;
                        bad_r = r;
                        leaked = s != NULL;
                }
                secret_free(s);
                free(copy);
        }
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(devnull);
        if (bad_at != SIZE_MAX)
                fail_msg("flipping byte %zu (mask 0x%02x) of a %zu-byte credential: cred_decrypt returned %d%s", bad_at,
                         mask, size, bad_r, leaked ? " and a secret" : "");
}

static void test_tamper(void **state) {
        static const enum cred_key keys[] = { CRED_KEY_HOST, CRED_KEY_NULL };
        static const uint8_t masks[] = { 0x01, 0x80, 0xff };

        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                struct cred_encrypt_params ep = enc_params(keys[k], g.own_key, "tamper");
                struct cred_decrypt_params dp = dec_params(g.own_key, "tamper");
                uint8_t *blob = NULL;
                size_t size = 0;

                ep.not_after = ep.timestamp + 3600 * USEC_PER_SEC;
                encrypt_ok(&ep, "hello", 5, &blob, &size);
                decrypt_expect(&dp, blob, size, "hello", 5); /* the original is fine */
                for (size_t m = 0; m < sizeof(masks); m++)
                        tamper_all(&dp, blob, size, masks[m]);
                free(blob);
        }
}

static void test_truncations(void **state) {
        static const enum cred_key keys[] = { CRED_KEY_HOST, CRED_KEY_NULL };

        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                struct cred_encrypt_params ep = enc_params(keys[k], g.own_key, "trunc");
                struct cred_decrypt_params dp = dec_params(g.own_key, "trunc");
                int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
                uint8_t *blob = NULL;
                size_t size = 0, bad_at = SIZE_MAX;
                int bad_r = 0;

                encrypt_ok(&ep, "hello world", 11, &blob, &size);
                assert_true(saved >= 0 && devnull >= 0);
                fflush(stderr);
                dup2(devnull, STDERR_FILENO);
                for (size_t len = 0; len < size && bad_at == SIZE_MAX; len++) {
                        /* An exact-size copy, so that reading past the end is a real overrun. */
                        uint8_t *copy = malloc(len ? len : 1);
                        struct secret *s = NULL;
                        int r;

                        memcpy(copy, blob, len);
                        r = cred_decrypt(&dp, copy, len, &s);
                        if (r >= 0 || s) {
                                bad_at = len;
                                bad_r = r;
                        }
                        secret_free(s);
                        free(copy);
                }
                fflush(stderr);
                dup2(saved, STDERR_FILENO);
                close(saved);
                close(devnull);
                if (bad_at != SIZE_MAX)
                        fail_msg("credential truncated to %zu of %zu bytes decrypted (%d)", bad_at, size, bad_r);
                /* Extra bytes at the end fail too. */
                {
                        uint8_t *longer = calloc(1, size + 1);

                        memcpy(longer, blob, size);
                        decrypt_fails(&dp, longer, size + 1, -EBADMSG);
                        free(longer);
                }
                free(blob);
        }
}

static void test_required_key(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_NULL, NULL, NULL);
        struct cred_decrypt_params dp = dec_params(g.own_key, NULL);
        uint8_t *nullblob = NULL, *hostblob = NULL;
        size_t nsize = 0, hsize = 0;

        encrypt_ok(&ep, "abc", 3, &nullblob, &nsize);
        ep.key = CRED_KEY_HOST;
        ep.host_key_path = g.own_key;
        encrypt_ok(&ep, "abc", 3, &hostblob, &hsize);

        dp.require_key = true;
        dp.required_key = CRED_KEY_HOST;
        decrypt_fails(&dp, nullblob, nsize, -EPERM);
        decrypt_expect(&dp, hostblob, hsize, "abc", 3);
        dp.required_key = CRED_KEY_NULL;
        decrypt_fails(&dp, hostblob, hsize, -EPERM);
        decrypt_expect(&dp, nullblob, nsize, "abc", 3);
        /* Not required: both open. */
        dp.require_key = false;
        decrypt_expect(&dp, nullblob, nsize, "abc", 3);
        decrypt_expect(&dp, hostblob, hsize, "abc", 3);
        free(nullblob);
        free(hostblob);
}

static void test_null_policy(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_NULL, NULL, NULL);
        struct cred_decrypt_params dp = dec_params(g.own_key, NULL);
        uint8_t *nullblob = NULL, *hostblob = NULL;
        size_t nsize = 0, hsize = 0;

        encrypt_ok(&ep, "abc", 3, &nullblob, &nsize);
        ep.key = CRED_KEY_HOST;
        ep.host_key_path = g.own_key;
        encrypt_ok(&ep, "abc", 3, &hostblob, &hsize);

        dp.null_policy = CRED_NULL_REFUSE;
        decrypt_fails(&dp, nullblob, nsize, -EPERM);
        decrypt_expect(&dp, hostblob, hsize, "abc", 3); /* only null is refused */
        dp.null_policy = CRED_NULL_ALLOW;
        decrypt_expect(&dp, nullblob, nsize, "abc", 3);
        free(nullblob);
        free(hostblob);
}

/* --- text forms ------------------------------------------------------------ */

static void test_blob_from_text(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, "text");
        uint8_t *blob = NULL, *back = NULL;
        size_t size = 0, n = 0;
        char *text = NULL;
        size_t tlen = 0;

        encrypt_ok(&ep, PAYLOAD, 15, &blob, &size);

        /* Raw binary is passed through. */
        assert_int_equal(cred_blob_from_text(blob, size, &back, &n), 0);
        assert_int_equal(n, size);
        assert_memory_equal(back, blob, size);
        free(back);

        /* Base64, wrapped like systemd-creds, with and without a final newline. */
        assert_int_equal(base64_encode(blob, size, CRED_BASE64_WIDTH, &text, &tlen), 0);
        assert_non_null(strchr(text, '\n'));
        assert_int_equal(cred_blob_from_text((const uint8_t *) text, tlen, &back, &n), 0);
        assert_int_equal(n, size);
        assert_memory_equal(back, blob, size);
        free(back);
        text = realloc(text, tlen + 2);
        text[tlen] = '\n';
        text[tlen + 1] = '\0';
        assert_int_equal(cred_blob_from_text((const uint8_t *) text, tlen + 1, &back, &n), 0);
        assert_int_equal(n, size);
        assert_memory_equal(back, blob, size);
        free(back);
        free(text);

        /* Neither Base64 nor a credential. */
        back = NULL;
        assert_int_equal(cred_blob_from_text((const uint8_t *) "hello", 5, &back, &n), -EBADMSG);
        assert_null(back);
        assert_int_equal(cred_blob_from_text((const uint8_t *) "Zg==Zg==", 8, &back, &n), -EBADMSG);
        assert_null(back);
        free(blob);
}

static void test_looks_encrypted(void **state) {
        static const char *const files[] = {
                VECTORS "host-named.cred", VECTORS "null-named.cred", VECTORS "auto.cred",
                VECTORS "tpm2-pcr7.cred",  VECTORS "host-empty.cred", VECTORS "v257-user-nobody.cred",
        };
        struct cred_encrypt_params ep = enc_params(CRED_KEY_NULL, NULL, NULL);
        uint8_t *blob = NULL;
        size_t size = 0;
        char *text = NULL;

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                struct secret *s = NULL;

                assert_int_equal(read_file_capped(files[i], CRED_TEXT_MAX, &s), 0);
                if (!cred_looks_encrypted(s->data, s->size))
                        fail_msg("%s does not look encrypted", files[i]);
                secret_free(s);
        }
        assert_false(cred_looks_encrypted((const uint8_t *) "hello", 5));
        assert_false(cred_looks_encrypted((const uint8_t *) "", 0));
        /* Valid Base64 that is not a credential. */
        assert_false(cred_looks_encrypted((const uint8_t *) "aGVsbG8gd29ybGQsIHRoaXMgaXMgdGV4dA==", 36));

        encrypt_ok(&ep, "abc", 3, &blob, &size);
        assert_true(cred_looks_encrypted(blob, size));
        /* 16 bytes of ID are enough to tell, 15 are not. */
        assert_true(cred_looks_encrypted(blob, 16));
        assert_false(cred_looks_encrypted(blob, 15));
        assert_int_equal(base64_encode(blob, size, 0, &text, NULL), 0);
        assert_true(cred_looks_encrypted((const uint8_t *) text, strlen(text)));
        free(text);
        blob[3] ^= 1;
        assert_false(cred_looks_encrypted(blob, size));
        free(blob);
}

/* --- user scope (v256+) ------------------------------------------------------ */

static const uint8_t id_host_scoped[16] = { 0x55, 0xb9, 0xed, 0x1d, 0x38, 0x59, 0x4d, 0x43,
                                            0xa8, 0x31, 0x9d, 0x2e, 0xbb, 0x33, 0x2a, 0xc6 };

static void test_vectors_scoped(void **state) {
        struct cred_decrypt_params dp = dec_params(g.vector_key, NULL);
        uint8_t *blob = NULL;
        size_t size = 0;

        need_vector_key();
        if (!getpwuid(65534) || strcmp(getpwuid(65534)->pw_name, "nobody") != 0)
                fail_msg("the v257 vector needs UID 65534 to be \"nobody\"");
        load_vector(VECTORS "v257-user-nobody.cred", &blob, &size);
        dp.scoped = true;
        dp.uid = 65534;
        decrypt_expect(&dp, blob, size, "s3cr3t-p4ssw0rd", 15);
        dp.any_scope = true;
        decrypt_expect(&dp, blob, size, "s3cr3t-p4ssw0rd", 15);
        dp.uid = 0;
        decrypt_fails(&dp, blob, size, -EBADMSG);
        dp.scoped = false;
        decrypt_fails(&dp, blob, size, -EMEDIUMTYPE);
        free(blob);
        load_vector(VECTORS "v257-user-root.cred", &blob, &size);
        dp.scoped = true;
        dp.uid = 0;
        decrypt_expect(&dp, blob, size, "s3cr3t-p4ssw0rd", 15);
        free(blob);
        /* A system credential opens with a scope only with any_scope (PID1, root's --uid=). */
        load_vector(VECTORS "v257-host-named.cred", &blob, &size);
        dp.any_scope = false;
        decrypt_fails(&dp, blob, size, -EMEDIUMTYPE);
        dp.any_scope = true;
        decrypt_expect(&dp, blob, size, "s3cr3t-p4ssw0rd", 15);
        free(blob);
}

static void test_scoped_roundtrip(void **state) {
        struct cred_encrypt_params ep = enc_params(CRED_KEY_HOST, g.own_key, "scoped");
        struct cred_decrypt_params dp = dec_params(g.own_key, "scoped");
        uint8_t *blob = NULL;
        size_t size = 0;

        ep.scoped = true;
        ep.uid = 0;
        encrypt_ok(&ep, "abc", 3, &blob, &size);
        assert_memory_equal(blob, id_host_scoped, 16);
        assert_int_equal(size, 48 + 8 + 32 + 3 + 16);
        assert_int_equal(blob[48], 7); /* scope flags */
        dp.scoped = true;
        dp.uid = 0;
        decrypt_expect(&dp, blob, size, "abc", 3);
        dp.scoped = false;
        decrypt_fails(&dp, blob, size, -EMEDIUMTYPE);
        dp.scoped = true;
        blob[48] = 6; /* flags other than 7: refused before decryption */
        decrypt_fails(&dp, blob, size, -EOPNOTSUPP);
        blob[48] = 7;
        blob[size - 1] ^= 1;
        decrypt_fails(&dp, blob, size, -EBADMSG);
        free(blob);
        blob = NULL;

        /* auto becomes host-scoped without a TPM2; null and tpm2 alone have no scoped variant. */
        ep.key = CRED_KEY_AUTO;
        ep.tpm2_device = NULL;
        if (!tpm2_present()) {
                encrypt_ok(&ep, "abc", 3, &blob, &size);
                assert_memory_equal(blob, id_host_scoped, 16);
                free(blob);
                blob = NULL;
        }
        ep.key = CRED_KEY_NULL;
        assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -EOPNOTSUPP);
        ep.key = CRED_KEY_TPM2;
        assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -EOPNOTSUPP);
        /* A UID without a user name cannot be scoped to. */
        ep.key = CRED_KEY_HOST;
        ep.uid = 3999999999U;
        if (!getpwuid(ep.uid))
                assert_int_equal(cred_encrypt(&ep, (const uint8_t *) "abc", 3, &blob, &size), -ESRCH);
        assert_null(blob);
}

static void test_uid_parse(void **state) {
        uid_t u = 1;

        assert_int_equal(cred_uid_parse("0", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(cred_uid_parse("root", &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(cred_uid_parse("65534", &u), 0);
        assert_int_equal(u, 65534);
        assert_int_equal(cred_uid_parse("", &u), -EINVAL);
        assert_int_equal(cred_uid_parse("12x", &u), -EINVAL);
        assert_int_equal(cred_uid_parse("4294967295", &u), -EINVAL);
        assert_int_equal(cred_uid_parse("no-such-user-latchkey", &u), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_from_string),
                cmocka_unit_test(test_key_to_string),
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_roundtrip_null),
                cmocka_unit_test(test_roundtrip_host),
                cmocka_unit_test(test_roundtrip_host_binary_payload),
                cmocka_unit_test(test_encrypt_creates_host_key),
                cmocka_unit_test(test_decrypt_does_not_create_host_key),
                cmocka_unit_test(test_key_from_environment),
                cmocka_unit_test(test_auto_keys),
                cmocka_unit_test(test_encrypt_unsupported_keys),
                cmocka_unit_test(test_sizes),
                cmocka_unit_test(test_header_bytes),
                cmocka_unit_test(test_vector_host_named),
                cmocka_unit_test(test_vectors_host),
                cmocka_unit_test(test_vector_binary_payloads),
                cmocka_unit_test(test_vector_expiry),
                cmocka_unit_test(test_vectors_null),
                cmocka_unit_test(test_vectors_unsupported),
                cmocka_unit_test(test_name_mismatch),
                cmocka_unit_test(test_invalid_name_at_encrypt),
                cmocka_unit_test(test_expiry),
                cmocka_unit_test(test_timestamps_out_of_order),
                cmocka_unit_test(test_plaintext_limit),
                cmocka_unit_test(test_tamper),
                cmocka_unit_test(test_truncations),
                cmocka_unit_test(test_required_key),
                cmocka_unit_test(test_null_policy),
                cmocka_unit_test(test_blob_from_text),
                cmocka_unit_test(test_looks_encrypted),
                cmocka_unit_test(test_vectors_scoped),
                cmocka_unit_test(test_scoped_roundtrip),
                cmocka_unit_test(test_uid_parse),
        };

        if (crypto_init() < 0)
                return 1;
        /* The test binary runs with SYSTEMD_CREDENTIAL_* unset unless a test sets them. */
        unsetenv("SYSTEMD_CREDENTIAL_SECRET");
        unsetenv("SYSTEMD_CREDENTIAL_VALIDATE_NAME");
        unsetenv("SYSTEMD_CREDENTIAL_VALIDATE_NOT_AFTER");
        return cmocka_run_group_tests_name("cred", tests, group_setup, group_teardown);
}
