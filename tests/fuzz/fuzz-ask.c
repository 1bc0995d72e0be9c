/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the agent-side parsers of untrusted bytes: ask files and reply datagrams.
 * A parsed ask file, formatted again, must parse to the same request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ask.h"

static int same(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ask_request r, again;
        struct secret *list = NULL;
        char *text = NULL;
        size_t len;

        if (ask_reply_parse(data, size, &list) == 0) {
                if (list->size == 0 || list->data[list->size - 1] != '\0')
                        abort(); /* every password is NUL-terminated */
                secret_free(list);
        }
        if (ask_file_parse((const char *) data, size, &r) < 0)
                return 0;
        if (!ask_socket_path_valid(r.socket))
                abort();
        /* Values that came from a file may hold bytes our writer escapes; the
         * socket and numbers must survive exactly. */
        if (ask_file_format(&r, &text, &len) == 0) {
                if (ask_file_parse(text, len, &again) != 0)
                        abort();
                if (!same(r.socket, again.socket) || r.pid != again.pid || r.not_after != again.not_after ||
                    r.echo != again.echo || r.silent != again.silent || r.accept_cached != again.accept_cached)
                        abort();
                ask_request_clear(&again);
                free(text);
        }
        ask_request_clear(&r);
        return 0;
}
