/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/recordsign.c: the real homed 252 signature vector, key
 * file creation (modes, PEM layout, races), sign/verify round trips and every
 * verification outcome. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base64.h"
#include "crypto.h"
#include "io.h"
#include "read-text.h"
#include "recordsign.h"
#include "secret.h"
#include "tmpdir.h"
#include "userrecord.h"

#define VECTORS "tests/vectors/home/"
#define NOW (UINT64_C(1700000000) * UINT64_C(1000000))

static void write_text(const char *path, const char *text, mode_t mode) {
        (void) unlink(path);
        assert_int_equal(write_file_atomic(path, text, strlen(text), mode, 0), 0);
}

static struct user_record *parse_text(const char *text) {
        struct user_record *ur = NULL;

        assert_int_equal(user_record_parse(text, strlen(text), &ur, NULL), 0);
        return ur;
}

static struct user_record *load_vector(void) {
        size_t size;
        char *text = read_text(VECTORS "lukey.identity", &size);
        struct user_record *ur = parse_text(text);

        free(text);
        return ur;
}

/* Installs the key of the homed vector as DIR/other.public. */
static void install_vector_key(const struct tmpdir_fixture *f) {
        char *key = read_text(VECTORS "lukey.public", NULL), *p = tmpdir_path(f, "other.public");

        write_text(p, key, 0644);
        free(key);
        free(p);
}

static void test_vector_trusted(void **state) {
        struct tmpdir_fixture *f = *state;
        struct user_record *ur = load_vector();

        /* Nothing trusted yet: foreign. A missing directory is the same. */
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
        {
                char *missing = tmpdir_path(f, "no-such-dir");

                assert_int_equal(user_record_verify(ur, missing), RECORD_SIGNED_FOREIGN);
                free(missing);
        }
        install_vector_key(f);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_TRUSTED);

        /* binding, status and secret are outside the signature. */
        assert_int_equal(user_record_set(ur, "binding", json_tokener_parse("{\"3d1219c7c4c5404aaa1f6d2a48adfda4\":"
                                                                           "{\"uid\":60029,\"gid\":60029}}")),
                         0);
        assert_int_equal(user_record_set(ur, "status", json_tokener_parse("{\"x\":{}}")), 0);
        assert_int_equal(user_record_set(ur, "secret", json_tokener_parse("{\"password\":[\"x\"]}")), 0);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_TRUSTED);

        /* Any signed field changed: foreign. */
        assert_int_equal(user_record_set(ur, "realName", json_object_new_string("Lukey")), 0);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
        user_record_free(ur);
}

static void test_vector_tampered(void **state) {
        struct tmpdir_fixture *f = *state;
        size_t size;
        char *text = read_text(VECTORS "lukey.identity", &size), *p;
        struct user_record *ur;

        install_vector_key(f);

        /* One byte of the signed text: "pbkdf2" → "pbkdf3". */
        p = strstr(text, "\"pbkdf2\"");
        assert_non_null(p);
        p[6] = '3';
        ur = parse_text(text);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
        user_record_free(ur);
        p[6] = '2';

        /* One byte of the signature itself. */
        p = strstr(text, "\"tGAnJUp8");
        assert_non_null(p);
        p[1] = 'u';
        ur = parse_text(text);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
        user_record_free(ur);
        p[1] = 't';

        /* Untouched again: trusted. */
        ur = parse_text(text);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_TRUSTED);
        user_record_free(ur);
        free(text);
}

static void test_unsigned(void **state) {
        struct tmpdir_fixture *f = *state;
        struct user_record *ur = load_vector();

        install_vector_key(f);
        json_object_object_del(ur->json, "signature");
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_UNSIGNED);
        assert_int_equal(user_record_set(ur, "signature", json_object_new_array()), 0);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_UNSIGNED);
        user_record_free(ur);
}

static void test_vector_entry_without_key(void **state) {
        struct tmpdir_fixture *f = *state;
        struct user_record *ur = load_vector();
        json_object *entry = json_object_array_get_idx(json_object_object_get(ur->json, "signature"), 0);

        json_object_object_del(entry, "key");
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
        install_vector_key(f);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_TRUSTED);
        user_record_free(ur);
}

static void test_malformed_entries(void **state) {
        static const char *const bad[] = {
                "[{}]",
                "[{\"data\":1}]",
                "[{\"data\":\"not base64!\"}]",
                "[{\"data\":\"AAAA\"}]", /* too short */
                "[{\"data\":\"tGAnJUp8rU5w1aCxBOXbq/mYJ3TuozZgay7Xv40he0pry8jBdRWHl406XrV6lFRS0fbRCn3808yDdBizZUIiDQ==\","
                "\"key\":\"not a pem\"}]",
                "[{\"data\":\"tGAnJUp8rU5w1aCxBOXbq/mYJ3TuozZgay7Xv40he0pry8jBdRWHl406XrV6lFRS0fbRCn3808yDdBizZUIiDQ==\","
                "\"key\":5}]",
                "[{\"data\":\"tGAnJUp8rU5w1aCxBOXbq/mYJ3TuozZgay7Xv40he0pry8jBdRWHl406XrV6lFRS0fbRCn3808yDdBizZUIiDQ==\","
                "\"key\":\"-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEAcciMtYOC6DntPvT9DkyB9srJNgYmRVv1wPzdl5m60G0=\\n\"}]",
                "[{\"data\":\"tGAnJUp8rU5w1aCxBOXbq/mYJ3TuozZgay7Xv40he0pry8jBdRWHl406XrV6lFRS0fbRCn3808yDdBizZUIiDQ==\","
                "\"key\":\"-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEA\\n-----END PUBLIC KEY-----\\n\"}]",
        };
        struct tmpdir_fixture *f = *state;

        install_vector_key(f);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct user_record *ur = load_vector();

                assert_int_equal(user_record_set(ur, "signature", json_tokener_parse(bad[i])), 0);
                assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
                user_record_free(ur);
        }
}

static void test_create_key_files(void **state) {
        struct tmpdir_fixture *f = *state;
        char *dir = tmpdir_path(f, "a/b/home"), *priv, *pub, *text, *t2;
        struct sign_key *k = NULL, *k2 = NULL;
        uint8_t *der = NULL;
        struct stat st;
        size_t size, n;

        assert_true(asprintf(&priv, "%s/local.private", dir) > 0);
        assert_true(asprintf(&pub, "%s/local.public", dir) > 0);
        assert_int_equal(sign_key_load_or_create(dir, &k), 0);
        assert_non_null(k);

        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(lstat(priv, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_size, 119); /* as homed writes it */
        assert_int_equal(lstat(pub, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(st.st_size, 113);

        /* PKCS#8: BEGIN line, one Base64 line of 16-byte prefix + 32-byte seed, END line. */
        text = read_text(priv, &size);
        assert_true(strncmp(text, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
        assert_string_equal(text + 28 + 64, "\n-----END PRIVATE KEY-----\n");
        assert_int_equal(base64_decode(text + 28, 64, &der, &n), 0);
        assert_int_equal(n, 48);
        assert_memory_equal(der, "\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20", 16);
        free(der);
        der = NULL;
        free(text);

        text = read_text(pub, &size);
        assert_true(strncmp(text, "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA", 43) == 0);
        assert_string_equal(text + 27 + 60, "\n-----END PUBLIC KEY-----\n");

        /* Loading again gives the same key and writes nothing. */
        assert_int_equal(sign_key_load_or_create(dir, &k2), 0);
        t2 = read_text(pub, NULL);
        assert_string_equal(text, t2);
        free(t2);
        sign_key_free(k2);
        k2 = NULL;

        /* A lost local.public is written again from local.private. */
        assert_int_equal(unlink(pub), 0);
        assert_int_equal(sign_key_load_or_create(dir, &k2), 0);
        t2 = read_text(pub, NULL);
        assert_string_equal(text, t2);
        free(t2);
        sign_key_free(k2);
        k2 = NULL;

        /* A local.public of another key is refused. */
        {
                char *vec = read_text(VECTORS "lukey.public", NULL);

                write_text(pub, vec, 0644);
                free(vec);
                assert_int_equal(sign_key_load_or_create(dir, &k2), -EBADMSG);
                assert_null(k2);
                write_text(pub, text, 0644);
        }

        /* A symlinked or garbage private key is refused. */
        {
                char *target = tmpdir_path(f, "elsewhere");

                assert_int_equal(rename(priv, target), 0);
                assert_int_equal(symlink(target, priv), 0);
                assert_int_equal(sign_key_load_or_create(dir, &k2), -ELOOP);
                assert_int_equal(unlink(priv), 0);
                write_text(priv, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0600);
                assert_int_equal(sign_key_load_or_create(dir, &k2), -EBADMSG);
                assert_int_equal(unlink(priv), 0);
                assert_int_equal(rename(target, priv), 0);
                free(target);
        }

        free(text);
        sign_key_free(k);
        free(priv);
        free(pub);
        free(dir);
}

/* openssl agrees that local.public is the public half of local.private. */
static void test_openssl_interop(void **state) {
        struct tmpdir_fixture *f = *state;
        struct sign_key *k = NULL;
        char *cmd = NULL, *out = tmpdir_path(f, "openssl.pub"), *a, *b;

        if (system("openssl version >/dev/null 2>&1") != 0)
                skip();
        assert_int_equal(sign_key_load_or_create(f->dir, &k), 0);
        assert_true(asprintf(&cmd, "openssl pkey -in '%s/local.private' -pubout -out '%s' 2>/dev/null", f->dir, out) > 0);
        assert_int_equal(system(cmd), 0);
        a = read_text(out, NULL);
        free(cmd);
        assert_true(asprintf(&cmd, "%s/local.public", f->dir) > 0);
        b = read_text(cmd, NULL);
        assert_string_equal(a, b);
        free(a);
        free(b);
        free(cmd);
        free(out);
        sign_key_free(k);
}

static void test_sign_roundtrip(void **state) {
        struct tmpdir_fixture *f = *state;
        struct sign_key *k = NULL;
        struct user_record *ur = NULL;
        json_object *sigs, *e, *v;
        char *pub, *pubtext, *first;

        assert_int_equal(sign_key_load_or_create(f->dir, &k), 0);
        assert_int_equal(user_record_new("pat", 60600, HOME_STORAGE_DIRECTORY, NOW, &ur), 0);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_UNSIGNED);
        assert_int_equal(user_record_sign(ur, k), 0);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_LOCALLY);

        /* One entry, with our local.public as "key". */
        sigs = json_object_object_get(ur->json, "signature");
        assert_int_equal(json_object_array_length(sigs), 1);
        e = json_object_array_get_idx(sigs, 0);
        assert_true(json_object_object_get_ex(e, "key", &v));
        pub = tmpdir_path(f, "local.public");
        pubtext = read_text(pub, NULL);
        assert_string_equal(json_object_get_string(v), pubtext);
        assert_true(json_object_object_get_ex(e, "data", &v));
        assert_int_equal(json_object_get_string_len(v), 88);
        first = strdup(json_object_get_string(v));

        /* Ed25519 is deterministic; signing replaces the array, never appends. */
        assert_int_equal(user_record_sign(ur, k), 0);
        sigs = json_object_object_get(ur->json, "signature");
        assert_int_equal(json_object_array_length(sigs), 1);
        assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(sigs, 0), "data")),
                            first);

        /* Survives the pretty text and a parse. */
        {
                struct user_record *back = NULL;
                char *text = NULL;
                size_t size = 0;

                assert_int_equal(user_record_format(ur, &text, &size), 0);
                assert_int_equal(user_record_parse(text, size, &back, NULL), 0);
                assert_int_equal(user_record_verify(back, f->dir), RECORD_SIGNED_LOCALLY);
                user_record_free(back);
                free(text);
        }

        /* A change after signing breaks it. */
        assert_int_equal(user_record_set(ur, "shell", json_object_new_string("/bin/sh")), 0);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
        assert_int_equal(user_record_sign(ur, k), 0);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_LOCALLY);

        /* Without local.public, our own signature is not trusted here; installed
         * under another name, it is trusted, not local. */
        {
                char *moved = tmpdir_path(f, "local.public.saved"), *peer = tmpdir_path(f, "peer.public");

                assert_int_equal(rename(pub, moved), 0);
                assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);
                write_text(peer, pubtext, 0644);
                assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_TRUSTED);
                assert_int_equal(rename(moved, pub), 0);
                free(moved);
                free(peer);
        }

        free(first);
        free(pubtext);
        free(pub);
        user_record_free(ur);
        sign_key_free(k);
}

static void test_mixed_entries(void **state) {
        struct tmpdir_fixture *f = *state;
        struct sign_key *k = NULL;
        struct user_record *ur = load_vector(), *mine = NULL;
        json_object *sigs, *local_entry, *vector_entry, *arr;

        install_vector_key(f);
        assert_int_equal(sign_key_load_or_create(f->dir, &k), 0);

        vector_entry = json_object_get(json_object_array_get_idx(json_object_object_get(ur->json, "signature"), 0));
        {
                char *text = NULL;
                size_t size = 0;

                /* A second copy of the record signed by the local key. */
                assert_int_equal(user_record_format(ur, &text, &size), 0);
                assert_int_equal(user_record_parse(text, size, &mine, NULL), 0);
                free(text);
        }
        assert_int_equal(user_record_sign(mine, k), 0);
        assert_int_equal(user_record_verify(mine, f->dir), RECORD_SIGNED_LOCALLY);
        sigs = json_object_object_get(mine->json, "signature");
        local_entry = json_object_get(json_object_array_get_idx(sigs, 0));

        /* local + other trusted: trusted, not exclusively local. */
        arr = json_object_new_array();
        json_object_array_add(arr, json_object_get(local_entry));
        json_object_array_add(arr, json_object_get(vector_entry));
        assert_int_equal(user_record_set(mine, "signature", arr), 0);
        assert_int_equal(user_record_verify(mine, f->dir), RECORD_SIGNED_TRUSTED);

        /* local + a bad entry: trusted, not exclusively local. */
        arr = json_object_new_array();
        json_object_array_add(arr, json_object_get(local_entry));
        json_object_array_add(arr, json_tokener_parse("{\"data\":\"AAAA\"}"));
        assert_int_equal(user_record_set(mine, "signature", arr), 0);
        assert_int_equal(user_record_verify(mine, f->dir), RECORD_SIGNED_TRUSTED);

        /* local twice: still local. */
        arr = json_object_new_array();
        json_object_array_add(arr, json_object_get(local_entry));
        json_object_array_add(arr, json_object_get(local_entry));
        assert_int_equal(user_record_set(mine, "signature", arr), 0);
        assert_int_equal(user_record_verify(mine, f->dir), RECORD_SIGNED_LOCALLY);

        json_object_put(local_entry);
        json_object_put(vector_entry);
        user_record_free(mine);
        user_record_free(ur);
        sign_key_free(k);
}

static void test_trusted_keys_regular_only(void **state) {
        struct tmpdir_fixture *f = *state;
        struct user_record *ur = load_vector();
        char *real = tmpdir_path(f, "real.key"), *link = tmpdir_path(f, "link.public"), *fifo = tmpdir_path(f, "fifo.public"),
             *dot = tmpdir_path(f, ".hidden.public"), *bak = tmpdir_path(f, "other.public.bak"),
             *junk = tmpdir_path(f, "junk.public"), *key = read_text(VECTORS "lukey.public", NULL);

        /* The vector key, but reachable only through a symlink, FIFO or wrong name. */
        write_text(real, key, 0644);
        assert_int_equal(symlink(real, link), 0);
        assert_int_equal(mkfifo(fifo, 0644), 0);
        write_text(dot, key, 0644);
        write_text(bak, key, 0644);
        write_text(junk, "not a key\n", 0644);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_FOREIGN);

        /* An oversized *.public is an error, not silently "foreign". */
        {
                char *huge = calloc(1, 8192);

                memset(huge, 'A', 8191);
                write_text(junk, huge, 0644);
                free(huge);
                assert_int_equal(user_record_verify(ur, f->dir), -E2BIG);
                assert_int_equal(unlink(junk), 0);
        }

        install_vector_key(f);
        assert_int_equal(user_record_verify(ur, f->dir), RECORD_SIGNED_TRUSTED);

        free(real);
        free(link);
        free(fifo);
        free(dot);
        free(bak);
        free(junk);
        free(key);
        user_record_free(ur);
}

/* Several processes creating the key pair at once all end up with the same key. */
static void test_create_race(void **state) {
        struct tmpdir_fixture *f = *state;
        char *dir = tmpdir_path(f, "race"), *pub, *expected;
        struct user_record *ur = NULL;
        pid_t pids[6];

        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        struct sign_key *k = NULL;
                        struct user_record *r = NULL;
                        char *path = NULL, *text = NULL;
                        size_t size = 0;
                        int rc = 1;

                        if (sign_key_load_or_create(dir, &k) == 0 &&
                            user_record_new("quinn", 60700, HOME_STORAGE_DIRECTORY, NOW, &r) == 0 &&
                            user_record_sign(r, k) == 0 && user_record_format(r, &text, &size) == 0 &&
                            asprintf(&path, "%s/../race-%zu.json", dir, i) > 0 &&
                            write_file_atomic(path, text, size, 0644, 0) == 0)
                                rc = 0;
                        /* Freed so that valgrind's leak check of the child stays quiet. */
                        free(path);
                        free(text);
                        user_record_free(r);
                        sign_key_free(k);
                        free(dir);
                        _exit(rc);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                int status;

                assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        assert_true(asprintf(&pub, "%s/local.public", dir) > 0);
        expected = read_text(pub, NULL);
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                char *path = NULL, *text;
                size_t size;

                assert_true(asprintf(&path, "%s/race-%zu.json", f->dir, i) > 0);
                text = read_text(path, &size);
                assert_int_equal(user_record_parse(text, size, &ur, NULL), 0);
                /* Signed with the one key that won, which local.public names. */
                assert_int_equal(user_record_verify(ur, dir), RECORD_SIGNED_LOCALLY);
                assert_string_equal(json_object_get_string(json_object_object_get(
                                            json_object_array_get_idx(json_object_object_get(ur->json, "signature"), 0),
                                            "key")),
                                    expected);
                user_record_free(ur);
                ur = NULL;
                free(text);
                free(path);
        }
        free(expected);
        free(pub);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_vector_trusted, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_vector_tampered, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_unsigned, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_vector_entry_without_key, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_malformed_entries, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_create_key_files, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_openssl_interop, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_sign_roundtrip, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_mixed_entries, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_trusted_keys_regular_only, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_create_race, tmpdir_setup, tmpdir_teardown),
        };

        if (crypto_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("recordsign", tests, NULL, NULL);
}
