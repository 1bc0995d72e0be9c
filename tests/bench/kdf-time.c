/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Times the costs inside an fscrypt activation that are not process work: one key
 * slot unwrap at a given KDF cost, one yescrypt check, and the calibrated default.
 *   kdf-time t=1,m=64,p=1 RUNS   → "unwrap_ms=… yescrypt_ms=… default_ms=… default=t=…,m=…,p=…" */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "keyslot.h"
#include "password.h"
#include "secret.h"

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* Median of runs timings of one unwrap of slot. */
static double median_unwrap(const char *slot, int runs) {
        double *t = calloc(runs, sizeof *t), m;
        for (int i = 0; i < runs; i++) {
                struct secret *key = NULL;
                double start = now_ms();
                if (keyslot_unwrap(slot, strlen(slot), "bench", 5, &key) < 0)
                        exit(1);
                t[i] = now_ms() - start;
                secret_free(key);
        }
        qsort(t, runs, sizeof *t, cmp_double);
        m = t[runs / 2];
        free(t);
        return m;
}

int main(int argc, char *argv[]) {
        struct keyslot_kdf cheap = { 3, 65536, 1 }, def;
        struct secret *key = NULL;
        char *slot = NULL, *def_slot = NULL, *hash = NULL;
        json_object *hashes = json_object_new_array();
        int runs = argc > 2 ? atoi(argv[2]) : 20;
        double yes[21], start;

        if (argc < 2 || runs < 1 || crypto_init() < 0 || keyslot_kdf_from_string(argv[1], &cheap) < 0 ||
            secret_new(64, &key) < 0)
                return 2;
        key->size = 64;
        memset(key->data, 0x5a, 64);
        if (keyslot_wrap(&cheap, "bench", 5, key, &slot) < 0 || keyslot_kdf_calibrate(1000, &def) < 0 ||
            keyslot_wrap(&def, "bench", 5, key, &def_slot) < 0 || password_hash("bench", &hash) < 0)
                return 1;
        json_object_array_add(hashes, json_object_new_string(hash));
        for (int i = 0; i < 21; i++) {
                start = now_ms();
                if (password_test(hashes, "bench") < 0)
                        return 1;
                yes[i] = now_ms() - start;
        }
        qsort(yes, 21, sizeof *yes, cmp_double);
        printf("unwrap_ms=%.3f yescrypt_ms=%.3f default_ms=%.1f default=t=%u,m=%u,p=%u\n", median_unwrap(slot, runs),
               yes[10], median_unwrap(def_slot, 1), def.iterations, def.memory_kib, def.lanes);
        json_object_put(hashes);
        secret_free(key);
        free(slot);
        free(def_slot);
        free(hash);
        return 0;
}
