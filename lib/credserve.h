/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The credential service: a privileged `cred-decrypt --serve`, started per
 * connection on an AF_UNIX stream socket (Accept=yes, or inetd style), that
 * encrypts and decrypts user-scoped credentials for the connecting UID. The
 * caller is identified by SO_PEERCRED only, never by anything in the request.
 *
 * Wire format, version 1 (all integers little-endian). Each message is a frame:
 *
 *   le32 body length (≤ CREDSERVE_BODY_MAX), then the body.
 *
 * Request body (exactly 36 + name_len + data_len bytes):
 *
 *   off size field
 *    0   4   magic "LKCQ"
 *    4   1   version, 1
 *    5   1   op: 1 encrypt, 2 decrypt
 *    6   2   flags: 1 UID present, 2 timestamp present, 4 name given; others must be 0
 *    8   4   uid: must equal the peer's UID if present (the service never serves another UID)
 *   12   8   timestamp, µs since the epoch: encrypt: embedded; decrypt: "now" for the expiry
 *            check. The service accepts it only within ±30 s of its own clock.
 *   20   8   not_after, µs (encrypt; UINT64_MAX = never); 0 for decrypt
 *   28   1   key (encrypt): 0 auto, 1 host, 2 host+tpm2, 3 host+tpm2-with-public-key; 0 for decrypt
 *   29   1   name_len (≤ 255): encrypt: name to embed; decrypt: expected name (flag 4)
 *   30   2   reserved, 0
 *   32   4   data_len: encrypt: plaintext (≤ 1 MiB); decrypt: binary credential (≤ 1 MiB + 128 KiB)
 *   36       name (no NUL, a valid credential name), then data
 *
 * Response body (exactly 16 + data_len bytes):
 *
 *    0   4   magic "LKCA"
 *    4   1   version, 1
 *    5   1   status: 0 success, 1 error
 *    6   2   reserved, 0
 *    8   4   errno (positive) on error, else 0
 *   12   4   data_len: success: the binary credential (encrypt) or the plaintext
 *            (decrypt); error: a one-line message (≤ 512 bytes, never secret data)
 *   16       data
 *
 * One request per connection; the service answers every request, malformed
 * ones included, with a response, then closes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cred.h"
#include "secret.h"

#define CREDSERVE_SOCKET_DEFAULT "/run/latchkey/creds.socket"
#define CREDSERVE_VERSION 1
#define CREDSERVE_REQUEST_HEADER 36
#define CREDSERVE_RESPONSE_HEADER 16
#define CREDSERVE_BODY_MAX (CREDSERVE_REQUEST_HEADER + CRED_NAME_MAX + CRED_BLOB_MAX)
#define CREDSERVE_MESSAGE_MAX 512U
#define CREDSERVE_TIMESTAMP_SLACK_USEC (30U * 1000000U)
#define CREDSERVE_IO_TIMEOUT_SEC 10

enum { CREDSERVE_OP_ENCRYPT = 1, CREDSERVE_OP_DECRYPT = 2 };
enum {
        CREDSERVE_FLAG_UID = 1 << 0,
        CREDSERVE_FLAG_TIMESTAMP = 1 << 1,
        CREDSERVE_FLAG_NAME = 1 << 2,
        _CREDSERVE_FLAGS_ALL = (1 << 3) - 1,
};
enum { CREDSERVE_KEY_AUTO, CREDSERVE_KEY_HOST, CREDSERVE_KEY_HOST_TPM2, CREDSERVE_KEY_HOST_TPM2_PK, _CREDSERVE_KEY_MAX };

struct credserve_request {
        uint8_t op;
        uint16_t flags;
        uint32_t uid;
        uint64_t timestamp;
        uint64_t not_after;
        uint8_t key;
        char name[CRED_NAME_MAX + 1]; /* "" if none */
        const uint8_t *data;          /* points into the parsed body */
        size_t data_size;
};

/* Parses and validates a request body (without the length prefix). -EBADMSG if malformed. */
int credserve_request_parse(const uint8_t *body, size_t size, struct credserve_request *ret);
/* Builds a whole request frame (length prefix included) in secure memory. */
int credserve_request_build(const struct credserve_request *req, struct secret **ret);

/* Parses a response body: 0 and the data, or -errno and the message (NUL-terminated in msg). */
int credserve_response_parse(const uint8_t *body, size_t size, const uint8_t **ret_data, size_t *ret_size,
                             char msg[CREDSERVE_MESSAGE_MAX + 1]);

/* Serves one connection on fd (stdin in inetd mode, also used for the answer). `server` holds the
 * service's own host key, TPM2 device and signature settings. Returns 0 if a response was sent. */
int credserve_serve(int fd, const struct cred_decrypt_params *server);

/* The socket: $LATCHKEY_CREDS_SOCKET if set (absolute), else CREDSERVE_SOCKET_DEFAULT. */
const char *credserve_socket_path(void);
/* True if this process should use the service: not root, no explicit host key, and the host key
 * cannot be opened (permission, or missing). */
bool credserve_wanted(const char *host_key_override);
/* Client: sends one request, returns the response data in secure memory; logs the service's error. */
int credserve_call(const struct credserve_request *req, struct secret **ret);

/* Decrypts locally, or through the service when credserve_wanted(); for the service the scope is
 * always the caller's own user. */
int credserve_decrypt_auto(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, struct secret **ret);
