/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the credential service protocol (lib/credserve.c), in
 * three modes picked by the first input byte modulo 3:
 *
 *   0  request: the rest is a request body for credserve_request_parse(). An
 *      accepted body must have its data inside the input, a valid name, and
 *      rebuild (credserve_request_build) to the very same bytes.
 *   1  response: the rest is a response body for credserve_response_parse();
 *      data must lie inside the input, a message must be short and printable.
 *   2  serve: the rest is written as the raw byte stream of one connection
 *      (length prefix included) into a socketpair, whose write side is then
 *      shut; credserve_serve() answers on the other end. Whatever came in,
 *      exactly one well-formed response must come back; a body the parser
 *      refuses must be answered with EBADMSG.
 *
 * The service uses a fixed host key of systemd's format in a fresh directory
 * under $TMPDIR (header from /etc/machine-id). Library diagnostics are
 * discarded; set FUZZ_CRED_VERBOSE=1 to see them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cred.h"
#include "credserve.h"
#include "crypto.h"
#include "hostkey.h"
#include "hostkey-fixture.h"
#include "log.h"
#include "secret.h"


#define CHECK(expr)                                                                          \
        do {                                                                                 \
                if (!(expr)) {                                                               \
                        fprintf(real_stderr, "fuzz-credserve: check failed at %s:%d: %s\n", \
                                __FILE__, __LINE__, #expr);                                  \
                        abort();                                                             \
                }                                                                            \
        } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fixture_host_key("fuzz-credserve");
        return 0;
}

static void fuzz_request(const uint8_t *data, size_t size) {
        _cleanup_secret_ struct secret *frame = NULL;
        struct credserve_request q;

        if (credserve_request_parse(data, size, &q) < 0)
                return;
        CHECK(q.op == CREDSERVE_OP_ENCRYPT || q.op == CREDSERVE_OP_DECRYPT);
        CHECK(q.data >= data && q.data + q.data_size == data + size);
        CHECK(strlen(q.name) <= CRED_NAME_MAX);
        CHECK(!q.name[0] || cred_name_valid(q.name));
        CHECK(q.data_size <= (q.op == CREDSERVE_OP_ENCRYPT ? CRED_PLAINTEXT_MAX : CRED_BLOB_MAX));
        CHECK(credserve_request_build(&q, &frame) == 0);
        CHECK(frame->size == 4 + size);
        CHECK(frame->data[0] == (uint8_t) size && frame->data[1] == (uint8_t) (size >> 8) &&
              frame->data[2] == (uint8_t) (size >> 16) && frame->data[3] == (uint8_t) (size >> 24));
        CHECK(memcmp(frame->data + 4, data, size) == 0);
}

static void fuzz_response(const uint8_t *data, size_t size) {
        char msg[CREDSERVE_MESSAGE_MAX + 1];
        const uint8_t *out = NULL;
        size_t out_size = 0;
        int r;

        r = credserve_response_parse(data, size, &out, &out_size, msg);
        if (r == 0) {
                CHECK(out >= data && out + out_size == data + size);
                return;
        }
        CHECK(r < 0 && r >= -4095);
        CHECK(strlen(msg) <= CREDSERVE_MESSAGE_MAX);
        for (const char *c = msg; *c; c++)
                CHECK(*c >= 0x20 && *c < 0x7f);
}

static void fuzz_serve(const uint8_t *data, size_t size) {
        struct cred_decrypt_params server = { .host_key_path = key_path, .null_policy = CRED_NULL_ALLOW };
        _cleanup_free_ uint8_t *answer = NULL;
        char msg[CREDSERVE_MESSAGE_MAX + 1];
        const uint8_t *out = NULL;
        size_t got = 0, cap = 64 + CRED_BLOB_MAX, out_size = 0;
        int sv[2], r, sndbuf = 4 * 1024 * 1024;
        struct credserve_request q;
        uint32_t len;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
        (void) setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        (void) setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        if (size > 0 && write(sv[0], data, size) != (ssize_t) size)
                abort(); /* the input is far below the buffer size */
        (void) shutdown(sv[0], SHUT_WR);
        (void) credserve_serve(sv[1], &server);
        close(sv[1]);

        answer = malloc(cap);
        if (!answer)
                abort();
        for (;;) {
                ssize_t n = read(sv[0], answer + got, cap - got);

                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        close(sv[0]);
        CHECK(got >= 4);
        len = (uint32_t) answer[0] | (uint32_t) answer[1] << 8 | (uint32_t) answer[2] << 16 | (uint32_t) answer[3] << 24;
        CHECK(got == 4 + (size_t) len);
        r = credserve_response_parse(answer + 4, len, &out, &out_size, msg);
        CHECK(r == 0 || msg[0]);
        if (size >= 4) {
                uint32_t in_len = (uint32_t) data[0] | (uint32_t) data[1] << 8 | (uint32_t) data[2] << 16 |
                                  (uint32_t) data[3] << 24;

                /* A complete body that the parser refuses is answered with EBADMSG. */
                if (in_len <= size - 4 && credserve_request_parse(data + 4, in_len, &q) < 0)
                        CHECK(r == -EBADMSG);
        } else
                CHECK(r == -EBADMSG);
        if (out_size > 0)
                explicit_bzero(answer, got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0:
                fuzz_request(data + 1, size - 1);
                break;
        case 1:
                fuzz_response(data + 1, size - 1);
                break;
        default:
                fuzz_serve(data + 1, size - 1);
                break;
        }
        return 0;
}
