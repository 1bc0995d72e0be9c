/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* home-activate's exit codes: the contract that pam_latchkey maps to PAM codes. */
#pragma once

enum home_exit {
        HOME_EXIT_OK = 0,
        HOME_EXIT_OTHER = 1,
        HOME_EXIT_USAGE = 2,
        HOME_EXIT_BAD_PASSWORD = 3,
        HOME_EXIT_NO_HOME = 4,
        HOME_EXIT_BUSY = 5,              /* referenced by a session, or in use */
        HOME_EXIT_ALREADY_ACTIVE = 6,    /* activate: after the password was checked */
        HOME_EXIT_BLOCKED = 7,           /* locked, not yet valid, no longer valid */
        HOME_EXIT_NOT_ACTIVE = 8,
        HOME_EXIT_BAD_RECORD = 9,        /* unsigned, tampered, untrusted key, incompatible */
        HOME_EXIT_EXISTS = 10,
        HOME_EXIT_PASSWORD_CHANGE = 11,  /* account: a new password is required */
        HOME_EXIT_PASSWORD_EXPIRED = 12, /* account: expired and cannot be changed */
};
