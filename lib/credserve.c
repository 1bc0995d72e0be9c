/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "credserve.h"
#include "hostkey.h"
#include "io.h"
#include "log.h"
#include "timestamp.h"

#define CREDSERVE_CLIENT_TIMEOUT_SEC 60 /* the service may be waiting on a TPM */

static const uint8_t request_magic[4] = { 'L', 'K', 'C', 'Q' };
static const uint8_t response_magic[4] = { 'L', 'K', 'C', 'A' };

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p) {
        return (uint64_t) get_le32(p) | (uint64_t) get_le32(p + 4) << 32;
}

int credserve_request_parse(const uint8_t *body, size_t size, struct credserve_request *ret) {
        struct credserve_request q = {};
        size_t name_len, data_len;

        if (size < CREDSERVE_REQUEST_HEADER || size > CREDSERVE_BODY_MAX)
                return -EBADMSG;
        if (memcmp(body, request_magic, 4) != 0 || body[4] != CREDSERVE_VERSION)
                return -EBADMSG;
        q.op = body[5];
        if (q.op != CREDSERVE_OP_ENCRYPT && q.op != CREDSERVE_OP_DECRYPT)
                return -EBADMSG;
        q.flags = get_le16(body + 6);
        if (q.flags & ~_CREDSERVE_FLAGS_ALL)
                return -EBADMSG;
        q.uid = get_le32(body + 8);
        q.timestamp = get_le64(body + 12);
        q.not_after = get_le64(body + 20);
        q.key = body[28];
        name_len = body[29];
        if (get_le16(body + 30) != 0)
                return -EBADMSG;
        data_len = get_le32(body + 32);
        if (!(q.flags & CREDSERVE_FLAG_UID) && q.uid != 0)
                return -EBADMSG;
        if (!(q.flags & CREDSERVE_FLAG_TIMESTAMP) && q.timestamp != 0)
                return -EBADMSG;
        if (q.op == CREDSERVE_OP_DECRYPT) {
                if (q.not_after != 0 || q.key != 0 || data_len > CRED_BLOB_MAX)
                        return -EBADMSG;
                if ((q.flags & CREDSERVE_FLAG_NAME) ? name_len == 0 : name_len != 0)
                        return -EBADMSG;
        } else {
                if (q.key >= _CREDSERVE_KEY_MAX || data_len > CRED_PLAINTEXT_MAX)
                        return -EBADMSG;
                if (!(q.flags & CREDSERVE_FLAG_NAME) && name_len != 0)
                        return -EBADMSG;
        }
        if (size != CREDSERVE_REQUEST_HEADER + name_len + data_len)
                return -EBADMSG;
        memcpy(q.name, body + CREDSERVE_REQUEST_HEADER, name_len);
        q.name[name_len] = '\0';
        if (name_len > 0 && (memchr(q.name, 0, name_len) || !cred_name_valid(q.name)))
                return -EBADMSG;
        q.data = body + CREDSERVE_REQUEST_HEADER + name_len;
        q.data_size = data_len;
        *ret = q;
        return 0;
}

int credserve_request_build(const struct credserve_request *req, struct secret **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        size_t name_len = strlen(req->name), body;
        uint8_t *p;
        int r;

        if (name_len > CRED_NAME_MAX || req->data_size > CRED_BLOB_MAX)
                return -E2BIG;
        body = CREDSERVE_REQUEST_HEADER + name_len + req->data_size;
        r = secret_new(4 + body, &s);
        if (r < 0)
                return r;
        p = s->data;
        memset(p, 0, 4 + CREDSERVE_REQUEST_HEADER);
        put_le32(p, (uint32_t) body);
        p += 4;
        memcpy(p, request_magic, 4);
        p[4] = CREDSERVE_VERSION;
        p[5] = req->op;
        put_le16(p + 6, req->flags);
        put_le32(p + 8, req->uid);
        put_le64(p + 12, req->timestamp);
        put_le64(p + 20, req->not_after);
        p[28] = req->key;
        p[29] = (uint8_t) name_len;
        put_le32(p + 32, (uint32_t) req->data_size);
        memcpy(p + CREDSERVE_REQUEST_HEADER, req->name, name_len);
        if (req->data_size > 0)
                memcpy(p + CREDSERVE_REQUEST_HEADER + name_len, req->data, req->data_size);
        s->size = 4 + body;
        *ret = TAKE_PTR(s);
        return 0;
}

int credserve_response_parse(const uint8_t *body, size_t size, const uint8_t **ret_data, size_t *ret_size,
                             char msg[CREDSERVE_MESSAGE_MAX + 1]) {
        uint32_t err, len;

        msg[0] = '\0';
        if (size < CREDSERVE_RESPONSE_HEADER || memcmp(body, response_magic, 4) != 0 || body[4] != CREDSERVE_VERSION ||
            body[5] > 1 || get_le16(body + 6) != 0)
                return -EBADMSG;
        err = get_le32(body + 8);
        len = get_le32(body + 12);
        if (size - CREDSERVE_RESPONSE_HEADER != len)
                return -EBADMSG;
        if (body[5] == 0) {
                if (err != 0)
                        return -EBADMSG;
                *ret_data = body + CREDSERVE_RESPONSE_HEADER;
                *ret_size = len;
                return 0;
        }
        if (err == 0 || err > 4095 || len > CREDSERVE_MESSAGE_MAX)
                return -EBADMSG;
        /* Shown to the user: printable ASCII only. */
        for (size_t i = 0; i < len; i++) {
                uint8_t c = body[CREDSERVE_RESPONSE_HEADER + i];

                msg[i] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        msg[len] = '\0';
        return -(int) err;
}

/* Reads exactly size bytes; -EPIPE on a short read (EOF), -EAGAIN on a timeout. */
static int read_exact(int fd, uint8_t *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t n = read(fd, buf + done, size - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
                if (n == 0)
                        return -EPIPE;
                done += (size_t) n;
        }
        return 0;
}

static void set_timeouts(int fd, int seconds) {
        struct timeval tv = { .tv_sec = seconds };

        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- server ------------------------------------------------------------- */

static int send_response(int fd, int error, const char *msg, const uint8_t *data, size_t size) {
        _cleanup_secret_ struct secret *s = NULL;
        size_t len = error ? strlen(msg) : size;
        int r;

        if (error && len > CREDSERVE_MESSAGE_MAX)
                len = CREDSERVE_MESSAGE_MAX;
        r = secret_new(4 + CREDSERVE_RESPONSE_HEADER + len, &s);
        if (r < 0)
                return r;
        put_le32(s->data, (uint32_t) (CREDSERVE_RESPONSE_HEADER + len));
        memcpy(s->data + 4, response_magic, 4);
        s->data[8] = CREDSERVE_VERSION;
        s->data[9] = error ? 1 : 0;
        put_le16(s->data + 10, 0);
        put_le32(s->data + 12, (uint32_t) (error < 0 ? -error : error));
        put_le32(s->data + 16, (uint32_t) len);
        if (len > 0)
                memcpy(s->data + 4 + CREDSERVE_RESPONSE_HEADER, error ? (const uint8_t *) msg : data, len);
        s->size = 4 + CREDSERVE_RESPONSE_HEADER + len;
        r = write_all(fd, s->data, s->size);
        if (r < 0)
                return log_error_errno(r, "cannot send the response");
        return 0;
}

static const char *error_message(int r) {
        switch (-r) {
        case EMEDIUMTYPE:
                return "credential scope mismatch: the service opens only credentials scoped to the calling user";
        case EREMOTE:
                return "credential name mismatch";
        case ESTALE:
                return "credential expired";
        case EBADMSG:
                return "credential is corrupted, or made with another key, machine or user";
        case EOPNOTSUPP:
                return "unsupported credential or key type";
        case ESRCH:
                return "the calling UID has no user name on this machine";
        case E2BIG:
                return "too large";
        case EINVAL:
                return "invalid parameters";
        case ENOENT:
                return "the service has no host key";
        default:
                return "the service failed to process the request";
        }
}

static int handle(const struct credserve_request *q, uid_t peer, const struct cred_decrypt_params *server,
                  struct secret **ret, const char **ret_msg) {
        static const enum cred_key keys[_CREDSERVE_KEY_MAX] = {
                [CREDSERVE_KEY_AUTO] = CRED_KEY_AUTO,
                [CREDSERVE_KEY_HOST] = CRED_KEY_HOST,
                [CREDSERVE_KEY_HOST_TPM2] = CRED_KEY_HOST_TPM2,
                [CREDSERVE_KEY_HOST_TPM2_PK] = CRED_KEY_HOST_TPM2_PK,
        };
        uint64_t now = now_usec();
        int r;

        if ((q->flags & CREDSERVE_FLAG_UID) && q->uid != peer) {
                log_error("UID %u asked for a credential of UID %u, refused", (unsigned) peer, (unsigned) q->uid);
                *ret_msg = "requests for another UID are refused";
                return -EPERM;
        }
        if ((q->flags & CREDSERVE_FLAG_TIMESTAMP) &&
            (q->timestamp > now + CREDSERVE_TIMESTAMP_SLACK_USEC || q->timestamp + CREDSERVE_TIMESTAMP_SLACK_USEC < now)) {
                log_error("UID %u sent a timestamp more than 30 s away from now, refused", (unsigned) peer);
                *ret_msg = "timestamps more than 30 s away from the service's clock are refused";
                return -EPERM;
        }
        if (q->op == CREDSERVE_OP_ENCRYPT) {
                struct cred_encrypt_params p = {
                        .key = keys[q->key],
                        .host_key_path = server->host_key_path,
                        .name = q->name[0] ? q->name : NULL,
                        .timestamp = (q->flags & CREDSERVE_FLAG_TIMESTAMP) ? q->timestamp : now,
                        .not_after = q->not_after,
                        .tpm2_device = server->tpm2_device,
                        .scoped = true,
                        .uid = peer,
                };
                _cleanup_free_ uint8_t *blob = NULL;
                size_t size = 0;

                r = cred_encrypt(&p, q->data, q->data_size, &blob, &size);
                if (r < 0)
                        return r;
                r = secret_new(size, ret);
                if (r < 0)
                        return r;
                memcpy((*ret)->data, blob, size);
                (*ret)->size = size;
                return 0;
        } else {
                struct cred_decrypt_params p = *server;

                p.expected_name = q->name[0] ? q->name : NULL;
                p.now = (q->flags & CREDSERVE_FLAG_TIMESTAMP) ? q->timestamp : now;
                p.allow_expired = false;
                p.require_key = false;
                p.scoped = true;
                p.uid = peer;
                p.any_scope = false; /* never a system credential for a user */
                return cred_decrypt(&p, q->data, q->data_size, ret);
        }
}

int credserve_serve(int fd, const struct cred_decrypt_params *server) {
        _cleanup_secret_ struct secret *body = NULL, *out = NULL;
        struct credserve_request q;
        struct ucred peer;
        socklen_t len = sizeof(peer);
        const char *msg = NULL;
        uint8_t frame[4];
        uint32_t size;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || len != sizeof(peer))
                return log_error_errno(-errno, "standard input is not a connected AF_UNIX socket (SO_PEERCRED)");
        set_timeouts(fd, CREDSERVE_IO_TIMEOUT_SEC);
        r = read_exact(fd, frame, sizeof(frame));
        if (r < 0) {
                log_error("UID %u: truncated request", (unsigned) peer.uid);
                return send_response(fd, -EBADMSG, "truncated request", NULL, 0);
        }
        size = get_le32(frame);
        if (size > CREDSERVE_BODY_MAX) {
                log_error("UID %u: request of %u bytes, at most %u, refused", (unsigned) peer.uid, size,
                          (unsigned) CREDSERVE_BODY_MAX);
                (void) shutdown(fd, SHUT_RD);
                return send_response(fd, -E2BIG, "request too large", NULL, 0);
        }
        r = secret_new(size, &body);
        if (r < 0)
                return send_response(fd, -ENOMEM, "out of memory", NULL, 0);
        r = read_exact(fd, body->data, size);
        if (r < 0) {
                log_error("UID %u: truncated request", (unsigned) peer.uid);
                return send_response(fd, -EBADMSG, "truncated request", NULL, 0);
        }
        body->size = size;
        r = credserve_request_parse(body->data, body->size, &q);
        if (r < 0) {
                log_error("UID %u: malformed request", (unsigned) peer.uid);
                return send_response(fd, -EBADMSG, "malformed request", NULL, 0);
        }
        r = handle(&q, peer.uid, server, &out, &msg);
        if (r < 0)
                return send_response(fd, r, msg ? msg : error_message(r), NULL, 0);
        return send_response(fd, 0, NULL, out->data, out->size);
}

/* ---- client ------------------------------------------------------------- */

const char *credserve_socket_path(void) {
        const char *e = getenv("LATCHKEY_CREDS_SOCKET");

        return e && e[0] == '/' ? e : CREDSERVE_SOCKET_DEFAULT;
}

bool credserve_wanted(const char *host_key_override) {
        const char *path;
        int fd;

        if (geteuid() == 0 || host_key_override)
                return false;
        if (hostkey_path(NULL, &path) < 0)
                return false;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
                close(fd);
                return false;
        }
        return errno == EACCES || errno == EPERM || errno == ENOENT;
}

int credserve_call(const struct credserve_request *req, struct secret **ret) {
        _cleanup_secret_ struct secret *frame = NULL, *body = NULL;
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = credserve_socket_path();
        char msg[CREDSERVE_MESSAGE_MAX + 1];
        const uint8_t *data = NULL;
        size_t data_size = 0;
        uint8_t head[4];
        uint32_t size;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_fail(-ENAMETOOLONG, "credential service socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        r = credserve_request_build(req, &frame);
        if (r < 0)
                return log_error_errno(r, "cannot build the request to the credential service");
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "cannot create a socket");
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(-errno, "no host key access, and cannot reach the credential service at %s", path);
        set_timeouts(fd, CREDSERVE_CLIENT_TIMEOUT_SEC);
        r = write_all(fd, frame->data, frame->size);
        if (r < 0)
                return log_error_errno(r, "cannot send the request to the credential service");
        r = read_exact(fd, head, sizeof(head));
        if (r < 0)
                return log_error_errno(r == -EPIPE ? -ECONNRESET : r, "no answer from the credential service");
        size = get_le32(head);
        if (size > CREDSERVE_RESPONSE_HEADER + CRED_BLOB_MAX)
                return log_fail(-EBADMSG, "credential service sent an oversized answer");
        r = secret_new(size, &body);
        if (r < 0)
                return log_oom();
        r = read_exact(fd, body->data, size);
        if (r < 0)
                return log_error_errno(r == -EPIPE ? -ECONNRESET : r, "truncated answer from the credential service");
        body->size = size;
        r = credserve_response_parse(body->data, body->size, &data, &data_size, msg);
        if (r == -EBADMSG && !msg[0])
                return log_fail(r, "credential service sent a malformed answer");
        if (r < 0)
                return log_fail(r, "credential service: %s", msg);
        r = secret_new(data_size, ret);
        if (r < 0)
                return log_oom();
        memcpy((*ret)->data, data, data_size);
        (*ret)->size = data_size;
        return 0;
}

int credserve_decrypt_auto(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, struct secret **ret) {
        struct credserve_request q = {
                .op = CREDSERVE_OP_DECRYPT,
                .flags = CREDSERVE_FLAG_TIMESTAMP,
                .timestamp = p->now,
                .data = blob,
                .data_size = size,
        };

        if (!cred_needs_privileged_key(blob, size) || !credserve_wanted(p->host_key_path))
                return cred_decrypt(p, blob, size, ret);
        if (p->allow_expired || p->require_key)
                return log_fail(-EPERM, "--allow-expired and --with-key= are not available through the credential service");
        if (size > CRED_BLOB_MAX)
                return log_fail(-E2BIG, "credential too large (%zu bytes, at most %u)", size, CRED_BLOB_MAX);
        if (p->scoped) {
                q.flags |= CREDSERVE_FLAG_UID;
                q.uid = (uint32_t) p->uid;
        }
        if (p->expected_name) {
                if (strlen(p->expected_name) > CRED_NAME_MAX)
                        return log_fail(-EINVAL, "credential name too long");
                q.flags |= CREDSERVE_FLAG_NAME;
                strcpy(q.name, p->expected_name);
        }
        return credserve_call(&q, ret);
}
