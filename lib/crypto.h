/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libgcrypt start-up: version check and a small secure heap for key schedules,
 * plus secret_no_dump(). Only tools that encrypt link libgcrypt this way. */
#pragma once

int crypto_init(void);
