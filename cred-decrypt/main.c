/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cred-decrypt: decrypt a credential, or build a $CREDENTIALS_DIRECTORY and exec a command. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "cred.h"
#include "credserve.h"
#include "crypto.h"
#include "credstore.h"
#include "io.h"
#include "log.h"
#include "secret.h"
#include "timestamp.h"
#include "tpm2.h"
#include "version.h"

static void usage(FILE *f) {
        fprintf(f,
                "usage: cred-decrypt [-q] [--name=NAME] [--with-key=KEY] [--host-key=PATH] [--timestamp=TIME]\n"
                "                    [--allow-expired] [--allow-null|--refuse-null]\n"
                "                    [--tpm2-device=PATH|auto|DRIVER:CONF] [--tpm2-signature=JSON]\n"
                "                    [--user | --uid=UID|NAME] INPUT|- [OUTPUT|-]\n"
                "       cred-decrypt [options] [--load=ID[:PATH]]... [--import=GLOB]... [--set=ID:VALUE]...\n"
                "                    [--user=USER] -- COMMAND [ARGS]...\n"
                "       cred-decrypt --serve [--host-key=PATH] [--tpm2-device=...] [--tpm2-signature=JSON]\n"
                "       cred-decrypt --help | --version\n");
}

enum request_kind { REQ_LOAD, REQ_IMPORT, REQ_SET };

struct request {
        enum request_kind kind;
        char *arg;
};

/* Splits "ID:REST" in place; returns REST or NULL when there is no colon. */
static char *split_id(char *arg) {
        char *colon = strchr(arg, ':');

        if (!colon)
                return NULL;
        *colon = '\0';
        return colon + 1;
}

static int run_exec_mode(struct request *reqs, size_t n, const struct cred_decrypt_params *params,
                         const char *user, char **command) {
        struct credstore store = { .params = *params };
        uid_t uid = getuid();
        gid_t gid = getgid();
        int r = 0;

        if (user) {
                struct passwd *pw = getpwnam(user);

                if (!pw) {
                        log_error("unknown user \"%s\"", user);
                        return 2;
                }
                uid = pw->pw_uid;
                gid = pw->pw_gid;
        }
        /* As the service manager: root (PID1) opens system credentials and its own scoped ones
         * (ANY_SCOPE); a user opens credentials scoped to itself, through the credential service
         * when it cannot read the host key, which serves its user scope only. */
        if (!store.params.scoped) {
                store.params.scoped = true;
                store.params.uid = geteuid();
        }
        store.params.any_scope = true;
        if (crypto_init() < 0 || credstore_open(&store, uid, gid) < 0) {
                credstore_abandon(&store);
                return 1;
        }
        /* systemd's order: LoadCredential*=, then ImportCredential=, then SetCredential= as defaults. */
        for (enum request_kind kind = REQ_LOAD; kind <= REQ_SET && r >= 0; kind++)
                for (size_t i = 0; i < n && r >= 0; i++) {
                        char *id = reqs[i].arg, *rest;

                        if (reqs[i].kind != kind)
                                continue;
                        if (kind == REQ_IMPORT) {
                                r = credstore_import(&store, id);
                                continue;
                        }
                        rest = split_id(id);
                        if (kind == REQ_SET) {
                                r = credstore_set(&store, id, rest, strlen(rest));
                                continue;
                        }
                        r = credstore_load(&store, id, rest);
                        if (r == 0 && rest && rest[0] == '/' && !credstore_has(&store, id)) {
                                /* A missing absolute path is fatal unless --set supplies a default. */
                                bool has_default = false;

                                for (size_t j = 0; j < n; j++)
                                        if (reqs[j].kind == REQ_SET && strncmp(reqs[j].arg, id, strlen(id)) == 0 &&
                                            reqs[j].arg[strlen(id)] == ':')
                                                has_default = true;
                                if (!has_default) {
                                        log_error("credential %s: %s not found", id, rest);
                                        r = -ENOENT;
                                }
                        }
                        if (rest)
                                rest[-1] = ':';
                }
        if (r >= 0)
                r = credstore_seal(&store);
        if (r < 0) {
                credstore_abandon(&store);
                return 1;
        }
        if (setenv("CREDENTIALS_DIRECTORY", store.path, 1) < 0) {
                log_error_errno(-errno, "cannot set $CREDENTIALS_DIRECTORY");
                return 1;
        }
        execvp(command[0], command);
        log_error_errno(-errno, "cannot execute %s", command[0]);
        free(store.path); /* the directory itself goes with the namespace or the cleanup process */
        return 127;
}

static int run_decrypt(const char *input, const char *output, const char *name, bool name_given,
                       struct cred_decrypt_params *params) {
        _cleanup_secret_ struct secret *text = NULL, *plain = NULL;
        _cleanup_free_ uint8_t *blob = NULL;
        size_t blob_size;
        int r;

        if (name_given)
                params->expected_name = name[0] ? name : NULL;
        else if (strcmp(input, "-") != 0) {
                const char *slash = strrchr(input, '/');

                params->expected_name = slash ? slash + 1 : input;
        } else
                log_warning("reading from standard input, not checking the credential name");

        if (crypto_init() < 0)
                return 1;
        r = read_file_capped(input, CRED_TEXT_MAX, &text);
        if (r == -E2BIG) {
                log_error("credential too large (more than %u bytes): %s", CRED_TEXT_MAX, input);
                return 1;
        }
        if (r < 0) {
                log_error_errno(r, "cannot read %s", input);
                return 1;
        }
        if (cred_blob_from_text(text->data, text->size, &blob, &blob_size) < 0)
                return 1;
        if (credserve_decrypt_auto(params, blob, blob_size, &plain) < 0)
                return 1;
        return write_output(output, plain->data, plain->size, 0600) < 0 ? 1 : 0;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100, ARG_NAME, ARG_WITH_KEY, ARG_HOST_KEY, ARG_TIMESTAMP, ARG_ALLOW_EXPIRED,
                ARG_ALLOW_NULL, ARG_REFUSE_NULL, ARG_LOAD, ARG_SET, ARG_IMPORT, ARG_USER, ARG_TPM2_DEVICE,
                ARG_TPM2_SIGNATURE, ARG_UID, ARG_SERVE,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "name", required_argument, NULL, ARG_NAME },
                { "with-key", required_argument, NULL, ARG_WITH_KEY },
                { "host-key", required_argument, NULL, ARG_HOST_KEY },
                { "timestamp", required_argument, NULL, ARG_TIMESTAMP },
                { "allow-expired", no_argument, NULL, ARG_ALLOW_EXPIRED },
                { "allow-null", no_argument, NULL, ARG_ALLOW_NULL },
                { "refuse-null", no_argument, NULL, ARG_REFUSE_NULL },
                { "load", required_argument, NULL, ARG_LOAD },
                { "set", required_argument, NULL, ARG_SET },
                { "import", required_argument, NULL, ARG_IMPORT },
                { "user", optional_argument, NULL, ARG_USER },
                { "uid", required_argument, NULL, ARG_UID },
                { "serve", no_argument, NULL, ARG_SERVE },
                { "quiet", no_argument, NULL, 'q' },
                { "tpm2-device", required_argument, NULL, ARG_TPM2_DEVICE },
                { "tpm2-signature", required_argument, NULL, ARG_TPM2_SIGNATURE },
                {}
        };
        struct cred_decrypt_params params = { .now = now_usec() };
        _cleanup_free_ struct request *reqs = NULL;
        const char *name = NULL, *user = NULL;
        bool name_given = false, serve = false;
        size_t n_reqs = 0;
        int c;

        log_setup("cred-decrypt");
        reqs = calloc((size_t) argc, sizeof(*reqs));
        if (!reqs)
                return 1;
        /* In exec mode "--" ends our options, so COMMAND keeps its own. */
        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("cred-decrypt (latchkey) %s\n", LATCHKEY_VERSION);
                        return 0;
                case ARG_NAME:
                        name = optarg;
                        name_given = true;
                        break;
                case ARG_WITH_KEY:
                        params.required_key = cred_key_from_string(optarg);
                        if (params.required_key == CRED_KEY_INVALID) {
                                log_error("unknown key type \"%s\"", optarg);
                                return 2;
                        }
                        params.require_key = params.required_key != CRED_KEY_AUTO &&
                                             params.required_key != CRED_KEY_AUTO_INITRD;
                        break;
                case ARG_HOST_KEY:
                        params.host_key_path = optarg;
                        break;
                case ARG_TIMESTAMP:
                        if (timestamp_parse(optarg, now_usec(), &params.now) < 0) {
                                log_error("invalid --timestamp=%s", optarg);
                                return 2;
                        }
                        break;
                case ARG_ALLOW_EXPIRED:
                        params.allow_expired = true;
                        break;
                case ARG_ALLOW_NULL:
                        params.null_policy = CRED_NULL_ALLOW;
                        break;
                case ARG_REFUSE_NULL:
                        params.null_policy = CRED_NULL_REFUSE;
                        break;
                case ARG_LOAD:
                case ARG_SET:
                case ARG_IMPORT: {
                        enum request_kind kind = c == ARG_LOAD ? REQ_LOAD : c == ARG_SET ? REQ_SET : REQ_IMPORT;
                        const char *colon = strchr(optarg, ':');
                        size_t id_len = colon ? (size_t) (colon - optarg) : strlen(optarg);

                        if (kind == REQ_SET && !colon) {
                                log_error("--set needs ID:VALUE, got \"%s\"", optarg);
                                return 2;
                        }
                        if (kind != REQ_IMPORT) {
                                char id[CRED_NAME_MAX + 1];

                                if (id_len > CRED_NAME_MAX || (memcpy(id, optarg, id_len), id[id_len] = '\0', !cred_name_valid(id))) {
                                        log_error("invalid credential ID in \"%s\"", optarg);
                                        return 2;
                                }
                        } else if (strchr(optarg, '/') || !optarg[0]) {
                                log_error("invalid --import glob \"%s\"", optarg);
                                return 2;
                        }
                        reqs[n_reqs++] = (struct request) { kind, optarg };
                        break;
                }
                case ARG_USER:
                        if (optarg) { /* --user=USER: exec mode, the owner of the directory */
                                user = optarg;
                                break;
                        }
                        /* --user: scope to the caller, as systemd-creds --user */
                        params.scoped = true;
                        params.uid = getuid();
                        params.any_scope = geteuid() == 0;
                        break;
                case ARG_UID:
                        if (cred_uid_parse(optarg, &params.uid) < 0) {
                                log_error("unknown user or invalid UID \"%s\"", optarg);
                                return 2;
                        }
                        params.scoped = true;
                        params.any_scope = geteuid() == 0; /* as root's systemd-creds decrypt --uid= */
                        break;
                case ARG_SERVE:
                        serve = true;
                        break;
                case ARG_TPM2_DEVICE:
                        if (tpm2_device_arg_check(optarg) < 0)
                                return 2;
                        params.tpm2_device = optarg;
                        break;
                case ARG_TPM2_SIGNATURE:
                        params.tpm2_signature = optarg;
                        break;
                case 'q':
                        log_set_max_level(LOG_LEVEL_ERROR);
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
        }

        if (serve) {
                if (optind != argc || n_reqs > 0 || user || params.scoped || name_given) {
                        log_error("--serve takes no arguments and only --host-key=, --tpm2-device=, --tpm2-signature=, --allow-null/--refuse-null");
                        return 2;
                }
                if (crypto_init() < 0)
                        return 1;
                return credserve_serve(STDIN_FILENO, &params) < 0 ? 1 : 0;
        }
        if (n_reqs > 0 || user) {
                if (optind >= argc) {
                        log_error("--load/--set/--import need a COMMAND to run after \"--\"");
                        return 2;
                }
                return run_exec_mode(reqs, n_reqs, &params, user, argv + optind);
        }
        if (argc - optind < 1 || argc - optind > 2) {
                usage(stderr);
                return 2;
        }
        return run_decrypt(argv[optind], argc - optind == 2 ? argv[optind + 1] : "-", name, name_given, &params);
}
