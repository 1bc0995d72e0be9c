/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/userrecord.c and lib/password.c: field checks, defaults,
 * effective-field precedence, canonical and pretty text, the account decisions
 * with a fake clock, and crypt(3) hashes. */
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
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "io.h"
#include "password.h"
#include "read-text.h"
#include "secret.h"
#include "tmpdir.h"
#include "userrecord.h"

#define VECTORS "tests/vectors/home/"
#define SEC UINT64_C(1000000)
#define DAY (UINT64_C(86400) * SEC)
#define NOW (UINT64_C(1700000000) * SEC)
#define UNSET UINT64_MAX

static struct user_record *parse_ok(const char *json) {
        struct user_record *ur = NULL;
        const char *error = NULL;
        int r = user_record_parse(json, strlen(json), &ur, &error);

        if (r < 0)
                print_error("parse failed: %s (%s)\n", error ?: "?", json);
        assert_int_equal(r, 0);
        assert_non_null(ur);
        return ur;
}

/* The machine's ID as the library reads it, or NULL (then the test skips). */
static const char *machine_id(void) {
        static char id[33];
        int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return NULL;
        n = read(fd, id, 32);
        close(fd);
        if (n != 32)
                return NULL;
        id[32] = '\0';
        return id;
}

static void test_name_valid(void **state) {
        static const char *const good[] = { "a", "alice", "_x", "user-1", "a_b", "abcdefghijklmnopqrstuvwxyz01234" };
        static const char *const bad[] = { "", "root", "nobody", "Alice", "1abc", "-x", "a.b", "a b", "a/b",
                                           "abcdefghijklmnopqrstuvwxyz012345", "ä", "a:b" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(user_name_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(user_name_is_valid(bad[i]));
        assert_false(user_name_is_valid(NULL));
}

static void test_storage_strings(void **state) {
        assert_string_equal(home_storage_to_string(HOME_STORAGE_DIRECTORY), "directory");
        assert_string_equal(home_storage_to_string(HOME_STORAGE_FSCRYPT), "fscrypt");
        assert_string_equal(home_storage_to_string(HOME_STORAGE_LUKS), "luks");
        assert_null(home_storage_to_string(_HOME_STORAGE_MAX));
        assert_null(home_storage_to_string(HOME_STORAGE_INVALID));
        assert_int_equal(home_storage_from_string("luks"), HOME_STORAGE_LUKS);
        assert_int_equal(home_storage_from_string("subvolume"), HOME_STORAGE_INVALID);
        assert_int_equal(home_storage_from_string(NULL), HOME_STORAGE_INVALID);
}

static void test_parse_defaults(void **state) {
        struct user_record *ur = parse_ok("{\"userName\":\"alice\"}");

        assert_string_equal(ur->user_name, "alice");
        assert_null(ur->realm);
        assert_string_equal(ur->real_name, "alice");
        assert_string_equal(ur->home_directory, "/home/alice");
        assert_string_equal(ur->image_path, "/home/alice.homedir");
        assert_string_equal(ur->shell, "/bin/bash");
        assert_int_equal(ur->storage, HOME_STORAGE_DIRECTORY);
        assert_int_equal(ur->uid, (uid_t) -1);
        assert_int_equal(ur->gid, (gid_t) -1);
        assert_false(ur->locked);
        assert_true(ur->mount_nosuid);
        assert_true(ur->mount_nodev);
        assert_false(ur->mount_noexec);
        assert_int_equal(ur->access_mode, 0700);
        assert_true(ur->last_change_usec == 0);
        assert_true(ur->last_password_change_usec == 0);
        assert_true(ur->not_before_usec == 0);
        assert_true(ur->not_after_usec == UINT64_MAX);
        assert_true(ur->password_change_min_usec == UNSET);
        assert_true(ur->password_change_max_usec == UNSET);
        assert_true(ur->password_change_warn_usec == UNSET);
        assert_true(ur->password_change_inactive_usec == UNSET);
        assert_false(ur->password_change_now);
        assert_null(user_record_hashed_passwords(ur));
        user_record_free(ur);

        ur = parse_ok("{\"userName\":\"bob\",\"storage\":\"luks\",\"uid\":60100}");
        assert_string_equal(ur->image_path, "/home/bob.home");
        assert_int_equal(ur->storage, HOME_STORAGE_LUKS);
        assert_int_equal(ur->uid, 60100);
        assert_int_equal(ur->gid, 60100);
        user_record_free(ur);

        ur = parse_ok("{\"userName\":\"carol\",\"storage\":\"fscrypt\"}");
        assert_string_equal(ur->image_path, "/home/carol.homedir");
        assert_int_equal(ur->storage, HOME_STORAGE_FSCRYPT);
        user_record_free(ur);
}

static void test_parse_full(void **state) {
        struct user_record *ur = parse_ok(
                "{\"userName\":\"dave\",\"realm\":\"example.com\",\"realName\":\"Dave Ö\",\"uid\":60200,\"gid\":60201,"
                "\"homeDirectory\":\"/home/d\",\"imagePath\":\"/dev/sdb1\",\"shell\":\"/bin/zsh\",\"storage\":\"luks\","
                "\"locked\":true,\"mountNoSuid\":false,\"mountNoDevices\":false,\"mountNoExecute\":true,"
                "\"accessMode\":488,\"lastChangeUSec\":1,\"lastPasswordChangeUSec\":2,\"notBeforeUSec\":3,"
                "\"notAfterUSec\":18446744073709551615,\"passwordChangeMinUSec\":5,\"passwordChangeMaxUSec\":6,"
                "\"passwordChangeWarnUSec\":7,\"passwordChangeInactiveUSec\":8,\"passwordChangeNow\":true,"
                "\"memberOf\":[\"wheel\"],\"unknownField\":{\"x\":[1,2.5,null]},"
                "\"privileged\":{\"hashedPassword\":[\"$6$x$y\"]},\"secret\":{\"password\":[\"pw\"]},"
                "\"status\":{},\"signature\":[]}");

        assert_string_equal(ur->realm, "example.com");
        assert_string_equal(ur->real_name, "Dave Ö");
        assert_int_equal(ur->uid, 60200);
        assert_int_equal(ur->gid, 60201);
        assert_string_equal(ur->home_directory, "/home/d");
        assert_string_equal(ur->image_path, "/dev/sdb1");
        assert_string_equal(ur->shell, "/bin/zsh");
        assert_true(ur->locked);
        assert_false(ur->mount_nosuid);
        assert_false(ur->mount_nodev);
        assert_true(ur->mount_noexec);
        assert_int_equal(ur->access_mode, 0750);
        assert_true(ur->last_change_usec == 1);
        assert_true(ur->last_password_change_usec == 2);
        assert_true(ur->not_before_usec == 3);
        assert_true(ur->not_after_usec == UINT64_MAX);
        assert_true(ur->password_change_min_usec == 5);
        assert_true(ur->password_change_max_usec == 6);
        assert_true(ur->password_change_warn_usec == 7);
        assert_true(ur->password_change_inactive_usec == 8);
        assert_true(ur->password_change_now);
        assert_non_null(user_record_hashed_passwords(ur));
        assert_int_equal(json_object_array_length(user_record_hashed_passwords(ur)), 1);
        user_record_free(ur);
}

static void test_parse_bad(void **state) {
        static const struct {
                const char *json;
                const char *error; /* substring of the error phrase */
        } t[] = {
                { "", "JSON" },
                { "{", "JSON" },
                { "[]", "object" },
                { "\"x\"", "object" },
                { "null", "JSON" },
                { "{\"userName\":\"a\"} x", "trailing" },
                { "{\"userName\":\"a\"}{}", "trailing" },
                { "{'userName':'a'}", "JSON" },
                { "{\"userName\":\"a\",}", "JSON" },
                { "{\"userName\":\"\xff\"}", "JSON" },
                { "{}", "userName" },
                { "{\"userName\":1}", "userName" },
                { "{\"userName\":null}", "userName" },
                { "{\"userName\":\"root\"}", "userName" },
                { "{\"userName\":\"nobody\"}", "userName" },
                { "{\"userName\":\"Alice\"}", "userName" },
                { "{\"userName\":\"a/b\"}", "userName" },
                { "{\"userName\":\"a\\u0000b\"}", "userName" },
                { "{\"userName\":\"abcdefghijklmnopqrstuvwxyz012345\"}", "userName" },
                { "{\"userName\":\"a\",\"realm\":[]}", "realm" },
                { "{\"userName\":\"a\",\"realName\":5}", "realName" },
                { "{\"userName\":\"a\",\"shell\":true}", "shell" },
                { "{\"userName\":\"a\",\"homeDirectory\":\"home/a\"}", "homeDirectory" },
                { "{\"userName\":\"a\",\"homeDirectory\":7}", "homeDirectory" },
                { "{\"userName\":\"a\",\"imagePath\":\"\"}", "imagePath" },
                { "{\"userName\":\"a\",\"uid\":\"1000\"}", "uid" },
                { "{\"userName\":\"a\",\"uid\":0}", "uid" },
                { "{\"userName\":\"a\",\"uid\":65534}", "uid" },
                { "{\"userName\":\"a\",\"uid\":65535}", "uid" },
                { "{\"userName\":\"a\",\"uid\":-5}", "uid" },
                { "{\"userName\":\"a\",\"uid\":4294967295}", "uid" },
                { "{\"userName\":\"a\",\"uid\":4294967296}", "uid" },
                { "{\"userName\":\"a\",\"uid\":60000.5}", "uid" },
                { "{\"userName\":\"a\",\"uid\":null}", "uid" },
                { "{\"userName\":\"a\",\"gid\":0}", "gid" },
                { "{\"userName\":\"a\",\"gid\":false}", "gid" },
                { "{\"userName\":\"a\",\"locked\":\"yes\"}", "locked" },
                { "{\"userName\":\"a\",\"locked\":1}", "locked" },
                { "{\"userName\":\"a\",\"mountNoSuid\":0}", "mountNoSuid" },
                { "{\"userName\":\"a\",\"mountNoDevices\":null}", "mountNoDevices" },
                { "{\"userName\":\"a\",\"mountNoExecute\":\"true\"}", "mountNoExecute" },
                { "{\"userName\":\"a\",\"passwordChangeNow\":[]}", "passwordChangeNow" },
                { "{\"userName\":\"a\",\"lastChangeUSec\":-1}", "lastChangeUSec" },
                { "{\"userName\":\"a\",\"lastChangeUSec\":1.5}", "lastChangeUSec" },
                { "{\"userName\":\"a\",\"lastChangeUSec\":\"1\"}", "lastChangeUSec" },
                { "{\"userName\":\"a\",\"lastPasswordChangeUSec\":{}}", "lastPasswordChangeUSec" },
                { "{\"userName\":\"a\",\"notBeforeUSec\":-9223372036854775808}", "notBeforeUSec" },
                { "{\"userName\":\"a\",\"notAfterUSec\":true}", "notAfterUSec" },
                { "{\"userName\":\"a\",\"passwordChangeMinUSec\":-2}", "passwordChangeMinUSec" },
                { "{\"userName\":\"a\",\"passwordChangeMaxUSec\":1e3}", "passwordChangeMaxUSec" },
                { "{\"userName\":\"a\",\"passwordChangeWarnUSec\":\"\"}", "passwordChangeWarnUSec" },
                { "{\"userName\":\"a\",\"passwordChangeInactiveUSec\":[1]}", "passwordChangeInactiveUSec" },
                { "{\"userName\":\"a\",\"accessMode\":4096}", "accessMode" },
                { "{\"userName\":\"a\",\"accessMode\":\"0700\"}", "accessMode" },
                { "{\"userName\":\"a\",\"diskSize\":-1}", "diskSize" },
                { "{\"userName\":\"a\",\"memberOf\":[\"x\",1]}", "memberOf" },
                { "{\"userName\":\"a\",\"memberOf\":\"x\"}", "memberOf" },
                { "{\"userName\":\"a\",\"storage\":5}", "storage" },
                { "{\"userName\":\"a\",\"storage\":\"subvolume\"}", "unsupported storage" },
                { "{\"userName\":\"a\",\"storage\":\"classic\"}", "unsupported storage" },
                { "{\"userName\":\"a\",\"storage\":\"cifs\"}", "unsupported storage" },
                { "{\"userName\":\"a\",\"storage\":\"tmpfs\"}", "storage" },
                { "{\"userName\":\"a\",\"storage\":\"LUKS\"}", "storage" },
                { "{\"userName\":\"a\",\"privileged\":[]}", "privileged" },
                { "{\"userName\":\"a\",\"privileged\":{\"hashedPassword\":\"x\"}}", "hashedPassword" },
                { "{\"userName\":\"a\",\"privileged\":{\"hashedPassword\":[1]}}", "hashedPassword" },
                { "{\"userName\":\"a\",\"secret\":\"pw\"}", "secret" },
                { "{\"userName\":\"a\",\"secret\":{\"password\":\"pw\"}}", "secret.password" },
                { "{\"userName\":\"a\",\"status\":[]}", "status" },
                { "{\"userName\":\"a\",\"signature\":{}}", "signature" },
                { "{\"userName\":\"a\",\"signature\":[1]}", "signature" },
                { "{\"userName\":\"a\",\"perMachine\":{}}", "perMachine" },
                { "{\"userName\":\"a\",\"perMachine\":[1]}", "perMachine" },
                { "{\"userName\":\"a\",\"perMachine\":[{\"matchMachineId\":1}]}", "matchMachineId" },
                { "{\"userName\":\"a\",\"perMachine\":[{\"matchMachineId\":[\"x\",2]}]}", "matchMachineId" },
                { "{\"userName\":\"a\",\"perMachine\":[{\"matchHostname\":{}}]}", "matchHostname" },
                { "{\"userName\":\"a\",\"perMachine\":[{\"matchHostname\":\"h\",\"uid\":0}]}", "uid" },
                { "{\"userName\":\"a\",\"perMachine\":[{\"matchHostname\":\"h\",\"storage\":7}]}", "storage" },
                { "{\"userName\":\"a\",\"binding\":[]}", "binding" },
                { "{\"userName\":\"a\",\"binding\":{\"0123\":1}}", "binding" },
                { "{\"userName\":\"a\",\"binding\":{\"0123\":{\"imagePath\":1}}}", "imagePath" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct user_record *ur = NULL;
                const char *error = NULL;
                int r = user_record_parse(t[i].json, strlen(t[i].json), &ur, &error);

                if (r != -EBADMSG || !error || !strstr(error, t[i].error))
                        print_error("case %zu %s: r=%d error=%s\n", i, t[i].json, r, error ?: "(null)");
                assert_int_equal(r, -EBADMSG);
                assert_null(ur);
                assert_non_null(error);
                assert_non_null(strstr(error, t[i].error));
        }
}

static void test_parse_limits(void **state) {
        struct user_record *ur = NULL;
        const char *error = NULL;
        static const char nul[] = "{\"userName\":\"a\"}\0";
        size_t big = USER_RECORD_MAX + 1;
        char *text;

        /* A NUL byte would hide everything after it from json-c. */
        assert_int_equal(user_record_parse(nul, sizeof(nul) - 1, &ur, &error), -EBADMSG);
        assert_int_equal(user_record_parse("{\"userName\":\"a\"}\0{", 18, &ur, NULL), -EBADMSG);

        text = malloc(big);
        assert_non_null(text);
        memset(text, ' ', big);
        memcpy(text, "{\"userName\":\"a\"}", 16);
        assert_int_equal(user_record_parse(text, big, &ur, &error), -EBADMSG);
        assert_string_equal(error, "record too large");
        /* Exactly at the cap, trailing whitespace, is fine. */
        ur = NULL;
        assert_int_equal(user_record_parse(text, big - 1, &ur, &error), 0);
        user_record_free(ur);
        free(text);

        /* Deep nesting in an unknown field is refused by the tokener, not a crash. */
        {
                char deep[4096] = "{\"userName\":\"a\",\"x\":";
                size_t n = strlen(deep);

                for (int i = 0; i < 1000; i++)
                        deep[n++] = '[';
                for (int i = 0; i < 1000; i++)
                        deep[n++] = ']';
                deep[n++] = '}';
                assert_int_equal(user_record_parse(deep, n, &ur, NULL), -EBADMSG);
        }
}

static void test_precedence(void **state) {
        const char *mid = machine_id();
        char host[256], *json = NULL;
        struct user_record *ur;

        if (!mid)
                skip();
        assert_int_equal(gethostname(host, sizeof(host)), 0);

        assert_true(asprintf(&json,
                             "{\"userName\":\"erin\",\"uid\":60001,\"shell\":\"/bin/sh\",\"realName\":\"Top\","
                             "\"storage\":\"directory\",\"locked\":false,"
                             "\"perMachine\":["
                             "{\"matchMachineId\":\"00000000000000000000000000000001\",\"uid\":60002,\"locked\":true},"
                             "{\"matchMachineId\":\"%s\",\"uid\":60003,\"shell\":\"/bin/zsh\",\"storage\":\"fscrypt\"},"
                             "{\"matchMachineId\":[\"00000000000000000000000000000002\",\"%s\"],\"uid\":60004},"
                             "{\"matchHostname\":\"%s\",\"realName\":\"Host\"},"
                             "{\"matchHostname\":[\"no-such-host.invalid\"],\"realName\":\"Other\"},"
                             "{\"uid\":60009}"
                             "],"
                             "\"binding\":{\"%s\":{\"uid\":60005,\"imagePath\":\"/srv/erin\",\"storage\":\"luks\"},"
                             "\"00000000000000000000000000000001\":{\"uid\":60006,\"homeDirectory\":\"/x\"}}}",
                             mid, mid, host, mid) > 0);

        ur = parse_ok(json);
        assert_int_equal(ur->uid, 60005);   /* binding[machine-id] */
        assert_int_equal(ur->gid, 60005);   /* gid defaults to the effective uid */
        assert_string_equal(ur->shell, "/bin/zsh");  /* matching perMachine */
        assert_string_equal(ur->real_name, "Host");  /* matchHostname */
        assert_string_equal(ur->image_path, "/srv/erin");
        assert_string_equal(ur->home_directory, "/home/erin"); /* other machine's binding ignored */
        assert_int_equal(ur->storage, HOME_STORAGE_LUKS);
        assert_false(ur->locked);                   /* non-matching entry ignored */

        /* Without binding: the last matching perMachine entry wins, whole values. */
        json_object_object_del(ur->json, "binding");
        assert_int_equal(user_record_load_fields(ur), 0);
        assert_int_equal(ur->uid, 60004);
        assert_int_equal(ur->storage, HOME_STORAGE_FSCRYPT);
        assert_string_equal(ur->image_path, "/home/erin.homedir");

        /* Without perMachine: top level. */
        json_object_object_del(ur->json, "perMachine");
        assert_int_equal(user_record_load_fields(ur), 0);
        assert_int_equal(ur->uid, 60001);
        assert_string_equal(ur->shell, "/bin/sh");
        assert_string_equal(ur->real_name, "Top");
        assert_int_equal(ur->storage, HOME_STORAGE_DIRECTORY);
        user_record_free(ur);
        free(json);

        /* An upper-case or UUID-formatted ID still matches this machine. */
        {
                char upper[33], uuid[37];

                for (int i = 0; i < 32; i++)
                        upper[i] = (char) (mid[i] >= 'a' && mid[i] <= 'f' ? mid[i] - 32 : mid[i]);
                upper[32] = '\0';
                snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", mid, mid + 8, mid + 12, mid + 16, mid + 20);
                assert_true(asprintf(&json,
                                     "{\"userName\":\"erin\",\"perMachine\":[{\"matchMachineId\":\"%s\",\"uid\":60010},"
                                     "{\"matchMachineId\":\"%s\",\"shell\":\"/bin/dash\"}]}",
                                     upper, uuid) > 0);
                ur = parse_ok(json);
                assert_int_equal(ur->uid, 60010);
                assert_string_equal(ur->shell, "/bin/dash");
                user_record_free(ur);
                free(json);
        }

        /* An unsupported storage is refused only where it is effective. */
        ur = NULL;
        assert_int_equal(user_record_parse(
                                 "{\"userName\":\"erin\",\"perMachine\":[{\"matchHostname\":\"no-such-host.invalid\","
                                 "\"storage\":\"subvolume\"}]}",
                                 strlen("{\"userName\":\"erin\",\"perMachine\":[{\"matchHostname\":\"no-such-host.invalid\","
                                        "\"storage\":\"subvolume\"}]}"),
                                 &ur, NULL),
                         0);
        user_record_free(ur);
        assert_true(asprintf(&json, "{\"userName\":\"erin\",\"binding\":{\"%s\":{\"storage\":\"cifs\"}}}", mid) > 0);
        {
                const char *error = NULL;

                ur = NULL;
                assert_int_equal(user_record_parse(json, strlen(json), &ur, &error), -EBADMSG);
                assert_non_null(strstr(error, "unsupported storage"));
        }
        free(json);
}

static void test_canonical_vector(void **state) {
        struct user_record *ur = NULL;
        char *text, *expected, *canon = NULL, *again = NULL;
        size_t size, csize = 0, asize = 0;
        const char *mid = machine_id();

        text = read_text(VECTORS "lukey.identity", &size);
        expected = read_text(VECTORS "lukey.canonical", NULL);
        assert_int_equal(user_record_parse(text, size, &ur, NULL), 0);
        assert_int_equal(user_record_canonical(ur, &canon, &csize), 0);
        assert_string_equal(canon, expected);
        assert_int_equal(csize, strlen(expected));

        assert_string_equal(ur->user_name, "lukey");
        assert_int_equal(ur->uid, (uid_t) -1);
        assert_true(ur->last_change_usec == UINT64_C(1795391475099208));
        /* The perMachine entry names the machine the vector was made on. */
        if (mid && strcmp(mid, "3d1219c7c4c5404aaa1f6d2a48adfda4") == 0) {
                assert_int_equal(ur->storage, HOME_STORAGE_LUKS);
                assert_string_equal(ur->image_path, "/home/lukey.home");
        } else
                assert_int_equal(ur->storage, HOME_STORAGE_DIRECTORY);

        /* secret, binding and status are not signed. */
        assert_int_equal(user_record_set(ur, "secret", json_tokener_parse("{\"password\":[\"pw1\"]}")), 0);
        assert_int_equal(user_record_set(ur, "status", json_tokener_parse("{\"x\":{\"rateLimitCount\":3}}")), 0);
        assert_int_equal(user_record_set(ur, "binding",
                                         json_tokener_parse("{\"3d1219c7c4c5404aaa1f6d2a48adfda4\":{\"uid\":60029,"
                                                            "\"gid\":60029,\"imagePath\":\"/home/lukey.home\"}}")),
                         0);
        assert_int_equal(user_record_canonical(ur, &again, &asize), 0);
        assert_string_equal(again, expected);
        if (mid && strcmp(mid, "3d1219c7c4c5404aaa1f6d2a48adfda4") == 0)
                assert_int_equal(ur->uid, 60029);

        free(again);
        free(canon);
        free(expected);
        free(text);
        user_record_free(ur);
}

static void test_canonical_rules(void **state) {
        struct user_record *ur = parse_ok(
                "{\"zeta\":{\"b\":1,\"a\":{\"d\":[{\"z\":1,\"y\":2}],\"c\":null}},\"userName\":\"fred\","
                "\"imagePath\":\"/home/fred.homedir\",\"realName\":\"Fr\xc3\xa9" "d\\t\\u0001\",\"Upper\":true,"
                "\"notAfterUSec\":18446744073709551615,\"signature\":[{\"data\":\"x\"}],\"_\":-1,"
                "\"emptyObj\":{},\"emptyArr\":[]}");
        char *canon = NULL;
        size_t size = 0;

        assert_int_equal(user_record_canonical(ur, &canon, &size), 0);
        assert_string_equal(canon,
                            "{\"Upper\":true,\"_\":-1,\"emptyArr\":[],\"emptyObj\":{},\"imagePath\":\"/home/fred.homedir\","
                            "\"notAfterUSec\":18446744073709551615,\"realName\":\"Fr\xc3\xa9" "d\\t\\u0001\","
                            "\"userName\":\"fred\",\"zeta\":{\"a\":{\"c\":null,\"d\":[{\"y\":2,\"z\":1}]},\"b\":1}}");
        assert_int_equal(size, strlen(canon));
        /* The record itself is untouched: json-c keeps insertion order there. */
        {
                struct json_object_iterator it = json_object_iter_begin(ur->json);

                assert_string_equal(json_object_iter_peek_name(&it), "zeta");
        }
        free(canon);
        user_record_free(ur);
}

static void test_format(void **state) {
        struct user_record *ur = parse_ok(
                "{\"userName\":\"gina\",\"uid\":60300,\"privileged\":{\"hashedPassword\":[\"$6$a$b\"]},"
                "\"secret\":{\"password\":[\"pw\"]},\"signature\":[{\"data\":\"AA==\"}],"
                "\"binding\":{\"00000000000000000000000000000001\":{\"imagePath\":\"/a/b\"}},\"aa\":1}");
        struct user_record *back = NULL;
        char *pretty = NULL, *pub = NULL, *c1 = NULL, *c2 = NULL;
        size_t size = 0, psize = 0;

        assert_int_equal(user_record_format(ur, &pretty, &size), 0);
        assert_int_equal(size, strlen(pretty));
        assert_true(size > 2 && pretty[size - 1] == '\n' && pretty[size - 2] == '}');
        assert_true(strncmp(pretty, "{\n\t\"aa\":1,\n\t\"binding\":{\n\t\t\"", 27) == 0);
        assert_non_null(strstr(pretty, "\"/a/b\""));  /* "/" not escaped */
        assert_non_null(strstr(pretty, "\"secret\""));

        /* Pretty text parses back to the same record. */
        assert_int_equal(user_record_parse(pretty, size, &back, NULL), 0);
        assert_int_equal(user_record_canonical(ur, &c1, NULL), 0);
        assert_int_equal(user_record_canonical(back, &c2, NULL), 0);
        assert_string_equal(c1, c2);

        assert_int_equal(user_record_format_public(ur, &pub, &psize), 0);
        assert_int_equal(psize, strlen(pub));
        assert_true(pub[psize - 1] == '\n');
        assert_null(strstr(pub, "privileged"));
        assert_null(strstr(pub, "hashedPassword"));
        assert_null(strstr(pub, "secret"));
        assert_null(strstr(pub, "signature"));
        assert_non_null(strstr(pub, "\"binding\""));
        assert_non_null(strstr(pub, "\"uid\":60300"));

        free(pretty);
        free(pub);
        free(c1);
        free(c2);
        user_record_free(back);
        user_record_free(ur);
}

static void test_new(void **state) {
        struct user_record *ur = NULL;
        json_object *v;
        char *canon = NULL;

        assert_int_equal(user_record_new("hank", 60400, HOME_STORAGE_LUKS, NOW, &ur), 0);
        assert_string_equal(ur->user_name, "hank");
        assert_int_equal(ur->uid, 60400);
        assert_int_equal(ur->gid, 60400);
        assert_string_equal(ur->real_name, "hank");
        assert_string_equal(ur->home_directory, "/home/hank");
        assert_string_equal(ur->image_path, "/home/hank.home");
        assert_int_equal(ur->storage, HOME_STORAGE_LUKS);
        assert_true(ur->last_change_usec == NOW);
        assert_true(ur->last_password_change_usec == NOW);
        assert_true(json_object_object_get_ex(ur->json, "disposition", &v));
        assert_string_equal(json_object_get_string(v), "regular");
        assert_int_equal(user_record_canonical(ur, &canon, NULL), 0);
        assert_string_equal(canon,
                            "{\"disposition\":\"regular\",\"gid\":60400,\"homeDirectory\":\"/home/hank\","
                            "\"imagePath\":\"/home/hank.home\",\"lastChangeUSec\":1700000000000000,"
                            "\"lastPasswordChangeUSec\":1700000000000000,\"realName\":\"hank\",\"storage\":\"luks\","
                            "\"uid\":60400,\"userName\":\"hank\"}");
        free(canon);
        user_record_free(ur);

        ur = NULL;
        assert_int_equal(user_record_new("ivy", 60401, HOME_STORAGE_DIRECTORY, UINT64_MAX - 1, &ur), 0);
        assert_string_equal(ur->image_path, "/home/ivy.homedir");
        assert_true(ur->last_change_usec == UINT64_MAX - 1);
        user_record_free(ur);

        ur = NULL;
        assert_int_equal(user_record_new("root", 60402, HOME_STORAGE_DIRECTORY, NOW, &ur), -EINVAL);
        assert_int_equal(user_record_new("ivy", 0, HOME_STORAGE_DIRECTORY, NOW, &ur), -EINVAL);
        assert_int_equal(user_record_new("ivy", 65534, HOME_STORAGE_DIRECTORY, NOW, &ur), -EINVAL);
        assert_int_equal(user_record_new("ivy", 60403, HOME_STORAGE_INVALID, NOW, &ur), -EINVAL);
        assert_int_equal(user_record_new("ivy", 60403, _HOME_STORAGE_MAX, NOW, &ur), -EINVAL);
        assert_null(ur);
}

static void test_set(void **state) {
        struct user_record *ur = parse_ok("{\"userName\":\"jack\",\"uid\":60500}");

        assert_int_equal(user_record_set(ur, "shell", json_object_new_string("/bin/fish")), 0);
        assert_string_equal(ur->shell, "/bin/fish");
        assert_int_equal(user_record_set(ur, "uid", json_object_new_int64(60501)), 0);
        assert_int_equal(ur->uid, 60501);

        /* A bad value is refused and the old one stays. */
        assert_int_equal(user_record_set(ur, "uid", json_object_new_string("x")), -EBADMSG);
        assert_int_equal(ur->uid, 60501);
        assert_int_equal(json_object_get_int64(json_object_object_get(ur->json, "uid")), 60501);
        assert_int_equal(user_record_set(ur, "storage", json_object_new_string("subvolume")), -EBADMSG);
        assert_false(json_object_object_get_ex(ur->json, "storage", NULL));
        assert_int_equal(ur->storage, HOME_STORAGE_DIRECTORY);
        assert_int_equal(user_record_set(ur, "userName", json_object_new_string("root")), -EBADMSG);
        assert_string_equal(ur->user_name, "jack");
        assert_int_equal(user_record_set(ur, "x", NULL), -EINVAL);
        user_record_free(ur);
}

static void test_load(void **state) {
        char dir[PATH_MAX], path[PATH_MAX + 16], link[PATH_MAX + 16];
        struct user_record *ur = NULL;
        char *big;

        assert_int_equal(tmpdir_make(dir, sizeof(dir), "test-userrecord"), 0);
        snprintf(path, sizeof(path), "%s/a.identity", dir);
        snprintf(link, sizeof(link), "%s/b.identity", dir);

        assert_int_equal(user_record_load(path, &ur), -ENOENT);
        assert_int_equal(write_file_atomic(path, "{\"userName\":\"kim\"}\n", 19, 0600, 0), 0);
        assert_int_equal(user_record_load(path, &ur), 0);
        assert_string_equal(ur->user_name, "kim");
        user_record_free(ur);
        ur = NULL;

        assert_int_equal(symlink(path, link), 0);
        assert_int_equal(user_record_load(link, &ur), -ELOOP);

        assert_int_equal(write_file_atomic(path, "{\"userName\":1}", 14, 0600, 0), 0);
        assert_int_equal(user_record_load(path, &ur), -EBADMSG);

        big = calloc(1, USER_RECORD_MAX + 1);
        assert_non_null(big);
        memset(big, ' ', USER_RECORD_MAX + 1);
        assert_int_equal(write_file_atomic(path, big, USER_RECORD_MAX + 1, 0600, 0), 0);
        assert_int_equal(user_record_load(path, &ur), -E2BIG);
        assert_null(ur);
        free(big);
        tmpdir_remove(dir);
}

static struct user_record *record_with_time(const char *name, const char *realm, uint64_t last_change) {
        char json[256];

        if (last_change == 0)
                snprintf(json, sizeof(json), "{\"userName\":\"%s\"%s%s%s}", name, realm ? ",\"realm\":\"" : "",
                         realm ?: "", realm ? "\"" : "");
        else
                snprintf(json, sizeof(json), "{\"userName\":\"%s\",\"lastChangeUSec\":%llu%s%s%s}", name,
                         (unsigned long long) last_change, realm ? ",\"realm\":\"" : "", realm ?: "",
                         realm ? "\"" : "");
        return parse_ok(json);
}

static void test_pick_newer(void **state) {
        static const struct {
                const char *name_a, *realm_a;
                uint64_t a;
                const char *name_b, *realm_b;
                uint64_t b;
                int expected;
        } t[] = {
                { "lee", NULL, 10, "lee", NULL, 20, 1 },
                { "lee", NULL, 20, "lee", NULL, 10, 0 },
                { "lee", NULL, 20, "lee", NULL, 20, 0 },   /* equal keeps a */
                { "lee", NULL, 0, "lee", NULL, 1, 1 },     /* unset is older */
                { "lee", NULL, 1, "lee", NULL, 0, 0 },
                { "lee", NULL, 0, "lee", NULL, 0, 0 },
                { "lee", "r", 1, "lee", "r", 2, 1 },
                { "lee", NULL, 1, "leo", NULL, 2, -EINVAL },
                { "lee", "r", 1, "lee", NULL, 2, -EINVAL },
                { "lee", NULL, 1, "lee", "r", 2, -EINVAL },
                { "lee", "r", 1, "lee", "s", 2, -EINVAL },
                { "lee", NULL, UINT64_MAX, "lee", NULL, UINT64_MAX - 1, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct user_record *a = record_with_time(t[i].name_a, t[i].realm_a, t[i].a),
                                   *b = record_with_time(t[i].name_b, t[i].realm_b, t[i].b);
                int r = user_record_pick_newer(a, b);

                if (r != t[i].expected)
                        print_error("case %zu: got %d\n", i, r);
                assert_int_equal(r, t[i].expected);
                user_record_free(a);
                user_record_free(b);
        }
}

static void test_blocked(void **state) {
        static const struct {
                bool locked;
                uint64_t not_before, not_after, last_change, now;
                enum user_record_blocked expected;
        } t[] = {
                { false, 0, UINT64_MAX, 0, NOW, USER_RECORD_OK },
                { true, 0, UINT64_MAX, 0, NOW, USER_RECORD_LOCKED },
                { true, NOW + 1, 0, 0, NOW, USER_RECORD_LOCKED },  /* locked checked first */
                { false, NOW + 1, UINT64_MAX, 0, NOW, USER_RECORD_NOT_YET_VALID },
                { false, NOW, UINT64_MAX, 0, NOW, USER_RECORD_OK },
                { false, NOW + 1, NOW - 1, 0, NOW, USER_RECORD_NOT_YET_VALID }, /* not-before before not-after */
                { false, 0, NOW - 1, 0, NOW, USER_RECORD_NO_LONGER_VALID },
                { false, 0, NOW, 0, NOW, USER_RECORD_OK },
                { false, NOW - DAY, NOW + DAY, 0, NOW, USER_RECORD_OK },
                { false, 0, UINT64_MAX, NOW + DAY, NOW, USER_RECORD_OK }, /* future lastChange: clock wrong, allow */
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct user_record *ur = parse_ok("{\"userName\":\"mia\"}");

                ur->locked = t[i].locked;
                ur->not_before_usec = t[i].not_before;
                ur->not_after_usec = t[i].not_after;
                ur->last_change_usec = t[i].last_change;
                if (user_record_check_blocked(ur, t[i].now) != t[i].expected)
                        print_error("case %zu\n", i);
                assert_int_equal(user_record_check_blocked(ur, t[i].now), t[i].expected);
                user_record_free(ur);
        }

        /* The same through JSON fields. */
        {
                struct user_record *ur = parse_ok("{\"userName\":\"mia\",\"notBeforeUSec\":1700000000000001}");

                assert_int_equal(user_record_check_blocked(ur, NOW), USER_RECORD_NOT_YET_VALID);
                user_record_free(ur);
                ur = parse_ok("{\"userName\":\"mia\",\"notAfterUSec\":1699999999999999}");
                assert_int_equal(user_record_check_blocked(ur, NOW), USER_RECORD_NO_LONGER_VALID);
                user_record_free(ur);
                ur = parse_ok("{\"userName\":\"mia\",\"locked\":true}");
                assert_int_equal(user_record_check_blocked(ur, NOW), USER_RECORD_LOCKED);
                user_record_free(ur);
        }

        assert_null(user_record_blocked_message(USER_RECORD_OK));
        assert_string_equal(user_record_blocked_message(USER_RECORD_LOCKED),
                            "User record is blocked, prohibiting access.");
        assert_string_equal(user_record_blocked_message(USER_RECORD_NOT_YET_VALID),
                            "User record is not valid yet, prohibiting access.");
        assert_string_equal(user_record_blocked_message(USER_RECORD_NO_LONGER_VALID),
                            "User record is not valid anymore, prohibiting access.");
}

static void test_aging(void **state) {
        static const struct {
                bool now_flag;
                uint64_t last, min, max, warn, inactive;
                enum user_record_aging expected;
        } t[] = {
                /* nothing configured */
                { false, 0, UNSET, UNSET, UNSET, UNSET, PASSWORD_OK },
                { false, NOW - DAY, UNSET, UNSET, UNSET, UNSET, PASSWORD_OK },
                /* passwordChangeNow overrides everything */
                { true, 0, UNSET, UNSET, UNSET, UNSET, PASSWORD_CHANGE_REQUIRED },
                { true, NOW - 100 * DAY, 0, 10 * DAY, UNSET, 0, PASSWORD_CHANGE_REQUIRED },
                /* min or max without a last-change stamp */
                { false, 0, DAY, UNSET, UNSET, UNSET, PASSWORD_RECORD_INVALID },
                { false, 0, UNSET, DAY, UNSET, UNSET, PASSWORD_RECORD_INVALID },
                { false, 0, UNSET, UNSET, DAY, UNSET, PASSWORD_OK },
                /* last change in the future: clock wrong, only a warning */
                { false, NOW + DAY, DAY, 10 * DAY, UNSET, UNSET, PASSWORD_OK },
                { false, NOW + 100 * DAY, UNSET, DAY, DAY, 0, PASSWORD_OK },
                { false, NOW + DAY, UNSET, UNSET, UNSET, DAY, PASSWORD_OK },
                /* within max */
                { false, NOW - DAY, UNSET, 10 * DAY, UNSET, UNSET, PASSWORD_OK },
                { false, NOW - DAY, UNSET, 10 * DAY, 2 * DAY, UNSET, PASSWORD_OK },
                /* within warn of last + max */
                { false, NOW - 9 * DAY, UNSET, 10 * DAY, 2 * DAY, UNSET, PASSWORD_WARN_SOON },
                { false, NOW - 8 * DAY, UNSET, 10 * DAY, 2 * DAY, UNSET, PASSWORD_WARN_SOON }, /* boundary */
                { false, NOW - 8 * DAY + 1, UNSET, 10 * DAY, 2 * DAY, UNSET, PASSWORD_OK },
                { false, NOW - DAY, UNSET, 10 * DAY, 20 * DAY, UNSET, PASSWORD_WARN_SOON }, /* warn > max */
                /* warn, but changing not allowed yet: nothing */
                { false, NOW - 9 * DAY, 9 * DAY + 1, 10 * DAY, 2 * DAY, UNSET, PASSWORD_OK },
                { false, NOW - 9 * DAY, 9 * DAY, 10 * DAY, 2 * DAY, UNSET, PASSWORD_WARN_SOON },
                /* past last + max */
                { false, NOW - 10 * DAY, UNSET, 10 * DAY, UNSET, UNSET, PASSWORD_EXPIRED_CHANGE }, /* boundary */
                { false, NOW - 10 * DAY + 1, UNSET, 10 * DAY, UNSET, UNSET, PASSWORD_OK },
                { false, NOW - 11 * DAY, UNSET, 10 * DAY, DAY, UNSET, PASSWORD_EXPIRED_CHANGE },
                { false, NOW - 11 * DAY, 0, 10 * DAY, UNSET, 5 * DAY, PASSWORD_EXPIRED_CHANGE },
                /* past last + max, changing not permitted */
                { false, NOW - 11 * DAY, 20 * DAY, 10 * DAY, UNSET, UNSET, PASSWORD_EXPIRED_LOCKED },
                /* past last + max + inactive */
                { false, NOW - 15 * DAY, UNSET, 10 * DAY, UNSET, 5 * DAY, PASSWORD_EXPIRED_LOCKED }, /* boundary */
                { false, NOW - 15 * DAY + 1, UNSET, 10 * DAY, UNSET, 5 * DAY, PASSWORD_EXPIRED_CHANGE },
                { false, NOW - 10 * DAY, UNSET, 10 * DAY, UNSET, 0, PASSWORD_EXPIRED_LOCKED },
                /* min only */
                { false, NOW - DAY, 2 * DAY, UNSET, UNSET, UNSET, PASSWORD_OK },
                /* overflow: a max that reaches past the end of time never expires */
                { false, NOW - DAY, UNSET, UINT64_MAX - 1, 1, UNSET, PASSWORD_OK },
                { false, 1, UNSET, UINT64_MAX - 1, UNSET, UNSET, PASSWORD_OK },
                { false, NOW - 11 * DAY, UNSET, 10 * DAY, UNSET, UINT64_MAX - 1, PASSWORD_EXPIRED_CHANGE },
                { false, NOW - 11 * DAY, UINT64_MAX - 1, 10 * DAY, UNSET, UNSET, PASSWORD_EXPIRED_LOCKED },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct user_record *ur = parse_ok("{\"userName\":\"ned\"}");
                enum user_record_aging a;

                ur->password_change_now = t[i].now_flag;
                ur->last_password_change_usec = t[i].last;
                ur->password_change_min_usec = t[i].min;
                ur->password_change_max_usec = t[i].max;
                ur->password_change_warn_usec = t[i].warn;
                ur->password_change_inactive_usec = t[i].inactive;
                a = user_record_check_password_aging(ur, NOW);
                if (a != t[i].expected)
                        print_error("case %zu: got %d, expected %d\n", i, a, t[i].expected);
                assert_int_equal(a, t[i].expected);
                user_record_free(ur);
        }

        /* Through JSON fields too. */
        {
                struct user_record *ur = parse_ok(
                        "{\"userName\":\"ned\",\"lastPasswordChangeUSec\":1690000000000000,"
                        "\"passwordChangeMaxUSec\":864000000000,\"passwordChangeInactiveUSec\":86400000000}");

                assert_int_equal(user_record_check_password_aging(ur, NOW), PASSWORD_EXPIRED_LOCKED);
                user_record_free(ur);
                ur = parse_ok("{\"userName\":\"ned\",\"passwordChangeNow\":true}");
                assert_int_equal(user_record_check_password_aging(ur, NOW), PASSWORD_CHANGE_REQUIRED);
                user_record_free(ur);
        }

        assert_null(user_record_aging_message(PASSWORD_OK));
        assert_string_equal(user_record_aging_message(PASSWORD_WARN_SOON), "Password will expire soon, please change.");
        assert_string_equal(user_record_aging_message(PASSWORD_CHANGE_REQUIRED), "Password change required.");
        assert_string_equal(user_record_aging_message(PASSWORD_EXPIRED_CHANGE), "Password expired, change required.");
        assert_string_equal(user_record_aging_message(PASSWORD_EXPIRED_LOCKED),
                            "Password is expired, but can't change, refusing login.");
        assert_string_equal(user_record_aging_message(PASSWORD_RECORD_INVALID),
                            "User record not valid, prohibiting access.");
}

/* openssl passwd -6 -salt latchkeysalt 'correct horse' */
#define SHA512_VECTOR "$6$latchkeysalt$jZCz2L3UFyMVtoZofsGTL4bj4jAojfNRLdv8oOjg0DYWnSC34k.2mtPgdUSadBwP4S3ejAiwgpCUSafNxDA7t1"

static void test_password(void **state) {
        json_object *hashes = json_object_new_array(), *empty = json_object_new_array();
        char *h1 = NULL, *h2 = NULL;

        assert_int_equal(password_hash("hunter2", &h1), 0);
        assert_int_equal(password_hash("hunter2", &h2), 0);
        assert_true(strncmp(h1, "$y$", 3) == 0);
        assert_string_not_equal(h1, h2); /* fresh salts */

        json_object_array_add(hashes, json_object_new_string(h1));
        assert_int_equal(password_test(hashes, "hunter2"), 0);
        assert_int_equal(password_test(hashes, "hunter3"), -ENOKEY);
        assert_int_equal(password_test(hashes, ""), -ENOKEY);
        assert_int_equal(password_test(empty, "hunter2"), -EKEYREVOKED);
        assert_int_equal(password_test(NULL, "hunter2"), -EKEYREVOKED);

        /* Any entry may match; junk entries are skipped, not errors. */
        json_object_array_add(hashes, json_object_new_int(5));
        json_object_array_add(hashes, json_object_new_string("!locked"));
        json_object_array_add(hashes, json_object_new_string(""));
        json_object_array_add(hashes, json_object_new_string("garbage"));
        json_object_array_add(hashes, json_object_new_string(SHA512_VECTOR));
        assert_int_equal(password_test(hashes, "correct horse"), 0);
        assert_int_equal(password_test(hashes, "hunter2"), 0);
        assert_int_equal(password_test(hashes, "correct horse "), -ENOKEY);

        /* The fixed SHA-512 crypt vector alone. */
        {
                json_object *v = json_object_new_array();

                json_object_array_add(v, json_object_new_string(SHA512_VECTOR));
                assert_int_equal(password_test(v, "correct horse"), 0);
                assert_int_equal(password_test(v, "Correct horse"), -ENOKEY);
                json_object_put(v);
        }
        /* A non-array is "no hashes". */
        {
                json_object *s = json_object_new_string(SHA512_VECTOR);

                assert_int_equal(password_test(s, "correct horse"), -EKEYREVOKED);
                json_object_put(s);
        }
        json_object_put(hashes);
        json_object_put(empty);
        free(h1);
        free(h2);
}

static void test_password_record(void **state) {
        struct user_record *ur = parse_ok("{\"userName\":\"olga\",\"privileged\":{\"hashedPassword\":[\"" SHA512_VECTOR
                                          "\"]}}");

        assert_int_equal(password_test(user_record_hashed_passwords(ur), "correct horse"), 0);
        assert_int_equal(password_test(user_record_hashed_passwords(ur), "wrong"), -ENOKEY);
        user_record_free(ur);
        ur = parse_ok("{\"userName\":\"olga\",\"privileged\":{}}");
        assert_int_equal(password_test(user_record_hashed_passwords(ur), "correct horse"), -EKEYREVOKED);
        user_record_free(ur);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_storage_strings),
                cmocka_unit_test(test_parse_defaults),
                cmocka_unit_test(test_parse_full),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_parse_limits),
                cmocka_unit_test(test_precedence),
                cmocka_unit_test(test_canonical_vector),
                cmocka_unit_test(test_canonical_rules),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_new),
                cmocka_unit_test(test_set),
                cmocka_unit_test(test_load),
                cmocka_unit_test(test_pick_newer),
                cmocka_unit_test(test_blocked),
                cmocka_unit_test(test_aging),
                cmocka_unit_test(test_password),
                cmocka_unit_test(test_password_record),
        };

        if (crypto_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("userrecord", tests, NULL, NULL);
}
