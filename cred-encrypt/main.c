/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cred-encrypt: encrypt a secret into systemd's encrypted credential format. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base64.h"
#include "cred.h"
#include "credserve.h"
#include "crypto.h"
#include "io.h"
#include "log.h"
#include "secret.h"
#include "timestamp.h"
#include "tpm2.h"
#include "version.h"

/* systemd's has-tpm2: a verdict, the four parts, and the missing ones as exit status. */
static int has_tpm2(bool quiet) {
        unsigned s = tpm2_support();

        if (!quiet) {
                puts(s == TPM2_SUPPORT_FULL ? "yes" : (s & TPM2_SUPPORT_FULL) == 0 ? "no" : "partial");
                printf("%sfirmware\n%sdriver\n%ssystem\n%ssubsystem\n", s & TPM2_SUPPORT_FIRMWARE ? "+" : "-",
                       s & TPM2_SUPPORT_DRIVER ? "+" : "-", s & TPM2_SUPPORT_SYSTEM ? "+" : "-",
                       s & TPM2_SUPPORT_SUBSYSTEM ? "+" : "-");
        }
        return (int) (~s & TPM2_SUPPORT_FULL);
}

static int parse_pcrs(const char *opt, const char *arg, bool literal_ok, struct tpm2_pcr_spec *spec) {
        int r = tpm2_pcrs_parse(arg, spec);

        if (r == -EXDEV)
                log_error("%s=%s: all PCRs must use one bank", opt, arg);
        else if (r == -EOPNOTSUPP)
                log_error("%s=%s: only the sha256 and sha1 banks are supported", opt, arg);
        else if (r < 0)
                log_error("%s=%s: invalid PCR list (want INDEX|NAME[:BANK[=HEX]] joined by + or ,)", opt, arg);
        else if (!literal_ok && (spec->bank || spec->values_mask)) {
                log_error("%s=%s: takes PCR indexes or names only", opt, arg);
                r = -EINVAL;
        }
        return r;
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: cred-encrypt [-HTpq] [--name=NAME] [--with-key=KEY] [--host-key=PATH]\n"
                "                    [--timestamp=TIME] [--not-after=TIME] [--raw]\n"
                "                    [--tpm2-device=PATH|auto|DRIVER:CONF] [--tpm2-pcrs=PCRS]\n"
                "                    [--tpm2-public-key=PEM] [--tpm2-public-key-pcrs=PCRS]\n"
                "                    [--user | --uid=UID|NAME] INPUT|- OUTPUT|-\n"
                "       cred-encrypt [-q] --has-tpm2\n"
                "       cred-encrypt --help | --version\n"
                "KEY: auto (default), auto-initrd, host, null, tpm2, host+tpm2,\n"
                "     tpm2-with-public-key, host+tpm2-with-public-key.\n"
                "PCRS: INDEX|NAME[:BANK[=HEX]] joined by + or , (e.g. 7+11, secure-boot-policy,\n"
                "      7:sha256=<64 hex digits>); empty for none.\n");
}

/* Encrypts through the credential service, for a caller that cannot read the host key. */
static int encrypt_via_service(const struct cred_encrypt_params *p, const struct secret *plaintext, uint8_t **ret,
                               size_t *ret_size) {
        _cleanup_secret_ struct secret *blob = NULL;
        struct credserve_request q = {
                .op = CREDSERVE_OP_ENCRYPT,
                .flags = CREDSERVE_FLAG_UID | CREDSERVE_FLAG_TIMESTAMP,
                .uid = (uint32_t) p->uid,
                .timestamp = p->timestamp,
                .not_after = p->not_after,
                .data = plaintext->data,
                .data_size = plaintext->size,
        };
        int r;

        if (!p->scoped)
                return log_fail(-EACCES, "cannot read the host key; as an unprivileged user, make a user-scoped credential (--user)");
        if (p->tpm2_device || p->tpm2_pcrs_set || p->tpm2_public_key || p->tpm2_public_key_pcrs_set)
                return log_fail(-EINVAL, "--tpm2-* options are not available through the credential service, which uses its own TPM2 settings");
        switch (p->key) {
        case CRED_KEY_AUTO: q.key = CREDSERVE_KEY_AUTO; break;
        case CRED_KEY_HOST: q.key = CREDSERVE_KEY_HOST; break;
        case CRED_KEY_HOST_TPM2: q.key = CREDSERVE_KEY_HOST_TPM2; break;
        case CRED_KEY_HOST_TPM2_PK: q.key = CREDSERVE_KEY_HOST_TPM2_PK; break;
        default:
                return log_fail(-EOPNOTSUPP, "key type %s is not available for user-scoped credentials", cred_key_to_string(p->key));
        }
        if (p->name && p->name[0]) {
                q.flags |= CREDSERVE_FLAG_NAME;
                strcpy(q.name, p->name); /* validated: ≤ 255 */
        }
        r = credserve_call(&q, &blob);
        if (r < 0)
                return r;
        *ret = malloc(blob->size ? blob->size : 1);
        if (!*ret)
                return log_oom();
        memcpy(*ret, blob->data, blob->size);
        *ret_size = blob->size;
        return 0;
}

/* Escapes a credential name for a unit file: C escapes, and % for specifiers. */
static int unit_escape(const char *s, char **ret) {
        char *out = malloc(strlen(s) * 4 + 1), *p = out;

        if (!out)
                return -ENOMEM;
        for (; *s; s++) {
                if (*s == '\\' || *s == '"' || *s == '\'') {
                        *p++ = '\\';
                        *p++ = *s;
                } else if (*s == '%') {
                        *p++ = '%';
                        *p++ = '%';
                } else
                        *p++ = *s;
        }
        *p = '\0';
        *ret = out;
        return 0;
}

/* "SetCredentialEncrypted=NAME: \" then Base64 at 69 columns, continued lines indented 8. */
static int format_pretty(const char *name, const uint8_t *blob, size_t size, char **ret, size_t *ret_len) {
        _cleanup_free_ char *b64 = NULL, *escaped = NULL;
        size_t len, lines = 1;
        char *out, *p;
        int r;

        r = base64_encode(blob, size, 69, &b64, &len);
        if (r < 0)
                return r;
        r = unit_escape(name, &escaped);
        if (r < 0)
                return r;
        for (size_t i = 0; i < len; i++)
                lines += b64[i] == '\n';
        out = p = malloc(strlen("SetCredentialEncrypted=") + strlen(escaped) + 12 + len + lines * 11 + 2);
        if (!out)
                return -ENOMEM;
        p += sprintf(p, "SetCredentialEncrypted=%s: \\\n        ", escaped);
        for (size_t i = 0; i < len; i++) {
                if (b64[i] == '\n')
                        p += sprintf(p, " \\\n        ");
                else
                        *p++ = b64[i];
        }
        *p++ = '\n';
        *ret = out;
        *ret_len = (size_t) (p - out);
        return 0;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100, ARG_NAME, ARG_WITH_KEY, ARG_HOST_KEY, ARG_TIMESTAMP, ARG_NOT_AFTER, ARG_RAW,
                ARG_TPM2_DEVICE, ARG_TPM2_PCRS, ARG_TPM2_PUBLIC_KEY, ARG_TPM2_PUBLIC_KEY_PCRS, ARG_HAS_TPM2,
                ARG_USER, ARG_UID,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "name", required_argument, NULL, ARG_NAME },
                { "with-key", required_argument, NULL, ARG_WITH_KEY },
                { "host-key", required_argument, NULL, ARG_HOST_KEY },
                { "timestamp", required_argument, NULL, ARG_TIMESTAMP },
                { "not-after", required_argument, NULL, ARG_NOT_AFTER },
                { "pretty", no_argument, NULL, 'p' },
                { "raw", no_argument, NULL, ARG_RAW },
                { "quiet", no_argument, NULL, 'q' },
                { "tpm2-device", required_argument, NULL, ARG_TPM2_DEVICE },
                { "tpm2-pcrs", required_argument, NULL, ARG_TPM2_PCRS },
                { "tpm2-public-key", required_argument, NULL, ARG_TPM2_PUBLIC_KEY },
                { "tpm2-public-key-pcrs", required_argument, NULL, ARG_TPM2_PUBLIC_KEY_PCRS },
                { "has-tpm2", no_argument, NULL, ARG_HAS_TPM2 },
                { "user", no_argument, NULL, ARG_USER },
                { "uid", required_argument, NULL, ARG_UID },
                {}
        };
        struct cred_encrypt_params params = {
                .key = CRED_KEY_AUTO, .timestamp = USEC_INFINITY, .not_after = USEC_INFINITY,
        };
        _cleanup_secret_ struct secret *plaintext = NULL;
        _cleanup_free_ uint8_t *blob = NULL;
        _cleanup_free_ char *text = NULL;
        const char *name = NULL, *timestamp = NULL, *not_after = NULL, *input, *output;
        bool pretty = false, raw = false, quiet = false, has_tpm2_mode = false;
        uint64_t now = now_usec();
        size_t blob_size, text_len;
        mode_t mask;
        int c, r;

        log_setup("cred-encrypt");
        while ((c = getopt_long(argc, argv, "hHTpq", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("cred-encrypt (latchkey) %s\n", LATCHKEY_VERSION);
                        return 0;
                case ARG_NAME:
                        name = optarg;
                        break;
                case 'H':
                        params.key = CRED_KEY_HOST;
                        break;
                case 'T':
                        params.key = CRED_KEY_TPM2;
                        break;
                case ARG_WITH_KEY:
                        params.key = cred_key_from_string(optarg);
                        if (params.key == CRED_KEY_INVALID) {
                                log_error("unknown key type \"%s\" (try auto, host, null, tpm2, host+tpm2, tpm2-with-public-key)", optarg);
                                return 2;
                        }
                        break;
                case ARG_HOST_KEY:
                        params.host_key_path = optarg;
                        break;
                case ARG_TIMESTAMP:
                        timestamp = optarg;
                        break;
                case ARG_NOT_AFTER:
                        not_after = optarg;
                        break;
                case 'p':
                        pretty = true;
                        break;
                case ARG_RAW:
                        raw = true;
                        break;
                case 'q':
                        log_set_max_level(LOG_LEVEL_ERROR);
                        quiet = true;
                        break;
                case ARG_TPM2_DEVICE:
                        if (tpm2_device_arg_check(optarg) < 0)
                                return 2;
                        params.tpm2_device = optarg;
                        break;
                case ARG_TPM2_PCRS:
                        /* Repeats are ORed; an empty value clears, as systemd. */
                        if (!optarg[0])
                                params.tpm2_pcrs = (struct tpm2_pcr_spec) {};
                        else if (parse_pcrs("--tpm2-pcrs", optarg, true, &params.tpm2_pcrs) < 0)
                                return 2;
                        params.tpm2_pcrs_set = true;
                        break;
                case ARG_TPM2_PUBLIC_KEY:
                        params.tpm2_public_key = optarg;
                        break;
                case ARG_TPM2_PUBLIC_KEY_PCRS: {
                        struct tpm2_pcr_spec spec = { .mask = params.tpm2_public_key_pcrs };

                        if (!optarg[0])
                                spec.mask = 0;
                        else if (parse_pcrs("--tpm2-public-key-pcrs", optarg, false, &spec) < 0)
                                return 2;
                        params.tpm2_public_key_pcrs = spec.mask;
                        params.tpm2_public_key_pcrs_set = true;
                        break;
                }
                case ARG_HAS_TPM2:
                        has_tpm2_mode = true;
                        break;
                case ARG_USER:
                        params.scoped = true;
                        params.uid = getuid();
                        break;
                case ARG_UID:
                        if (cred_uid_parse(optarg, &params.uid) < 0) {
                                log_error("unknown user or invalid UID \"%s\"", optarg);
                                return 2;
                        }
                        params.scoped = true;
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (has_tpm2_mode) {
                if (argc - optind != 0) {
                        usage(stderr);
                        return 2;
                }
                return has_tpm2(quiet);
        }
        if (argc - optind != 2) {
                usage(stderr);
                return 2;
        }
        input = argv[optind];
        output = argv[optind + 1];
        if (pretty && raw) {
                log_error("--pretty and --raw exclude each other");
                return 2;
        }
        if (timestamp && timestamp_parse(timestamp, now, &params.timestamp) < 0) {
                log_error("invalid --timestamp=%s", timestamp);
                return 2;
        }
        if (!timestamp)
                params.timestamp = now;
        if (not_after && timestamp_parse(not_after, now, &params.not_after) < 0) {
                log_error("invalid --not-after=%s", not_after);
                return 2;
        }
        if (params.timestamp != USEC_INFINITY && params.not_after != USEC_INFINITY &&
            params.not_after <= params.timestamp) {
                log_error("--not-after must be later than the timestamp");
                return 2;
        }
        if (name)
                params.name = name;
        else if (strcmp(output, "-") != 0) {
                const char *slash = strrchr(output, '/');

                params.name = slash ? slash + 1 : output;
        } else if (!pretty)
                log_warning("no credential name given, not embedding one");
        if (params.name && params.name[0] && !cred_name_valid(params.name)) {
                log_error("invalid credential name \"%s\"%s", params.name, name ? "" : " (from OUTPUT; set one with --name=)");
                return 2;
        }
        if (pretty && (!params.name || !params.name[0])) {
                log_error("--pretty writes a SetCredentialEncrypted=NAME: line and needs a credential name");
                return 2;
        }

        if (crypto_init() < 0)
                return 1;
        r = read_file_capped(input, CRED_PLAINTEXT_MAX, &plaintext);
        if (r == -E2BIG) {
                log_error("plaintext too long for a credential (at most %u bytes): %s", CRED_PLAINTEXT_MAX, input);
                return 1;
        }
        if (r < 0) {
                log_error_errno(r, "cannot read %s", input);
                return 1;
        }
        if (credserve_wanted(params.host_key_path))
                r = encrypt_via_service(&params, plaintext, &blob, &blob_size);
        else
                r = cred_encrypt(&params, plaintext->data, plaintext->size, &blob, &blob_size);
        if (r < 0)
                return 1;

        if (raw) {
                text_len = blob_size;
                text = (char *) TAKE_PTR(blob);
        } else if (pretty)
                r = format_pretty(params.name, blob, blob_size, &text, &text_len);
        else {
                r = base64_encode(blob, blob_size, CRED_BASE64_WIDTH, &text, &text_len);
                if (r >= 0)
                        text[text_len++] = '\n'; /* replaces the NUL: length-counted from here */
        }
        if (r < 0) {
                log_error_errno(r, "cannot format output");
                return 1;
        }
        mask = umask(0);
        umask(mask);
        return write_output(output, text, text_len, 0666 & ~mask) < 0 ? 1 : 0;
}
