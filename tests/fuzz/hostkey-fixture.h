/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For the fuzz targets that need a host key: a scratch credential.secret with a
 * fixed key (reproducers stay reproducible) for this machine's ID, removed at exit;
 * the library's stderr diagnostics silenced unless FUZZ_CRED_VERBOSE is set. */
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "hostkey.h"
#include "log.h"

static FILE *real_stderr;
static char key_dir[PATH_MAX];
static char key_path[PATH_MAX];
static uint8_t host_key[HOSTKEY_KEY_SIZE];

static void fixture_remove_key(void) {
        if (key_path[0])
                (void) unlink(key_path);
        if (key_dir[0])
                (void) rmdir(key_dir);
}

/* Writes the scratch host key; name prefixes the messages. Aborts on failure. */
static void fixture_host_key(const char *name) {
        const char *tmp = getenv("TMPDIR");
        uint8_t mid[16], header[HOSTKEY_HEADER_SIZE];
        int fd;

        real_stderr = stderr;
        if (crypto_init() < 0)
                abort();
        log_set_max_level(LOG_LEVEL_ERROR);
        /* These would turn off the checks the harnesses assert on. */
        unsetenv("SYSTEMD_CREDENTIAL_VALIDATE_NAME");
        unsetenv("SYSTEMD_CREDENTIAL_VALIDATE_NOT_AFTER");
        unsetenv("SYSTEMD_CREDENTIAL_SECRET");
        if (machine_id_get(mid) < 0 || hostkey_machine_header(mid, header) < 0) {
                fprintf(stderr, "%s: need a valid /etc/machine-id for the host key\n", name);
                abort();
        }
        for (size_t i = 0; i < sizeof(host_key); i++)
                host_key[i] = (uint8_t) (i * 131 + 7);
        snprintf(key_dir, sizeof(key_dir), "%s/%s.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp", name);
        if (!mkdtemp(key_dir)) {
                perror(name);
                abort();
        }
        snprintf(key_path, sizeof(key_path), "%s/credential.secret", key_dir);
        atexit(fixture_remove_key);
        fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, header, sizeof(header)) != (ssize_t) sizeof(header) ||
            write(fd, host_key, sizeof(host_key)) != (ssize_t) sizeof(host_key) || fchmod(fd, 0400) < 0 ||
            close(fd) < 0) {
                perror(name);
                abort();
        }
        /* libFuzzer and the sanitizers keep the real stderr (their FILE* and fd 2);
         * only the library's fprintf(stderr, …) diagnostics go to /dev/null. */
        if (!getenv("FUZZ_CRED_VERBOSE")) {
                FILE *devnull = fopen("/dev/null", "we");

                if (devnull)
                        stderr = devnull;
        }
}
