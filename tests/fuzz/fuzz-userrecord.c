/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the user record: the whole input is record text for
 * user_record_parse(). A record that parses must give canonical, pretty and
 * public text; the canonical text must be a fixed point (parse it, canonicalise
 * again, same bytes) and the pretty text must parse back to the same canonical
 * text. The account decisions run on it at a few fixed times. Seeds:
 * tests/vectors/home/ (the .identity files and fuzz-*.json). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "userrecord.h"

#define CHECK(expr)                                                                            \
        do {                                                                                   \
                if (!(expr)) {                                                                 \
                        fprintf(stderr, "fuzz-userrecord: check failed at %s:%d: %s\n",        \
                                __FILE__, __LINE__, #expr);                                    \
                        abort();                                                               \
                }                                                                              \
        } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(LOG_LEVEL_ERROR);
        return 0;
}

static char *canonical_of(const char *text, size_t size) {
        struct user_record *ur = NULL;
        const char *error = NULL;
        char *c = NULL;
        size_t n = 0;

        CHECK(user_record_parse(text, size, &ur, &error) == 0);
        CHECK(user_record_canonical(ur, &c, &n) == 0);
        CHECK(n == strlen(c));
        user_record_free(ur);
        return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint64_t times[] = { 0, UINT64_C(1700000000000000), UINT64_MAX };
        struct user_record *ur = NULL, *other = NULL;
        const char *error = NULL;
        char *canon = NULL, *pretty = NULL, *pub = NULL, *again;
        size_t csize = 0, psize = 0, usize = 0;
        int r;

        r = user_record_parse((const char *) data, size, &ur, &error);
        if (r < 0) {
                CHECK(r == -EBADMSG || r == -ENOMEM);
                CHECK(error);
                CHECK(!ur);
                return 0;
        }

        CHECK(user_name_is_valid(ur->user_name));
        CHECK(ur->storage >= 0 && ur->storage < _HOME_STORAGE_MAX);
        CHECK(ur->home_directory && ur->image_path && ur->real_name && ur->shell);
        CHECK(ur->access_mode <= 07777);

        CHECK(user_record_canonical(ur, &canon, &csize) == 0);
        CHECK(csize == strlen(canon));
        CHECK(!strstr(canon, "\\/"));

        /* Canonical text is a fixed point (userName is top level, so it is in there). */
        again = canonical_of(canon, csize);
        CHECK(strcmp(again, canon) == 0);
        free(again);

        CHECK(user_record_format(ur, &pretty, &psize) == 0);
        CHECK(psize == strlen(pretty) && psize > 0 && pretty[psize - 1] == '\n');
        CHECK(user_record_parse(pretty, psize, &other, &error) == 0);
        CHECK(other->uid == ur->uid && other->gid == ur->gid && other->storage == ur->storage);
        CHECK(strcmp(other->home_directory, ur->home_directory) == 0);
        again = NULL;
        CHECK(user_record_canonical(other, &again, NULL) == 0);
        CHECK(strcmp(again, canon) == 0);
        free(again);
        CHECK(user_record_pick_newer(ur, other) == 0);
        user_record_free(other);

        CHECK(user_record_format_public(ur, &pub, &usize) == 0);
        CHECK(usize == strlen(pub));
        other = NULL;
        /* The public text is a valid record too (binding stays, so the effective fields do). */
        CHECK(user_record_parse(pub, usize, &other, &error) == 0);
        CHECK(other->uid == ur->uid && other->storage == ur->storage);
        CHECK(user_record_hashed_passwords(other) == NULL);
        user_record_free(other);

        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
                enum user_record_blocked b = user_record_check_blocked(ur, times[i]);
                enum user_record_aging a = user_record_check_password_aging(ur, times[i]);

                CHECK((b == USER_RECORD_OK) == !user_record_blocked_message(b));
                CHECK((a == PASSWORD_OK) == !user_record_aging_message(a));
        }

        free(canon);
        free(pretty);
        free(pub);
        user_record_free(ur);
        return 0;
}
