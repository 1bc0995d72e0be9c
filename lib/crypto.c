/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <gcrypt.h>

#include "crypto.h"
#include "log.h"
#include "secret.h"

int crypto_init(void) {
        secret_no_dump();

        if (!gcry_check_version("1.8.0"))
                return log_fail(-ENOPKG, "libgcrypt too old (need 1.8.0)");
        /* Its own unprefixed warning line would break our one-line errors. */
        gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
        /* Enough for AES-GCM and SHA-256/HMAC contexts; bulk secrets use struct secret. */
        gcry_control(GCRYCTL_INIT_SECMEM, 32768, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
        return 0;
}
