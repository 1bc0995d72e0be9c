/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include "base64.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "tpm2-crypt.h"
#include "tpm2.h"

/* ---- tpm2-tss, loaded on first use ---------------------------------------------
 * Most runs of the credential tools never touch a TPM2, so the libraries are
 * dlopen()ed by the functions that need them (as systemd does); the calls below
 * go through these pointers. The SAPI layer, not ESYS: ESYS 3.x does its session
 * crypto with OpenSSL 3, whose start-up alone cost three quarters of the
 * instructions of a decrypt; the session crypto is in tpm2-crypt.c, on libgcrypt. */
#define TSS2_SYMBOLS(X) \
        X(Tss2_MU_TPM2B_PRIVATE_Marshal) \
        X(Tss2_MU_TPM2B_PRIVATE_Unmarshal) \
        X(Tss2_MU_TPM2B_PUBLIC_Marshal) \
        X(Tss2_MU_TPM2B_PUBLIC_Unmarshal) \
        X(Tss2_MU_TPMT_PUBLIC_Marshal) \
        X(Tss2_RC_Decode) \
        X(Tss2_Sys_CreatePrimary) \
        X(Tss2_Sys_Create_Complete) \
        X(Tss2_Sys_Create_Prepare) \
        X(Tss2_Sys_Execute) \
        X(Tss2_Sys_Finalize) \
        X(Tss2_Sys_FlushContext) \
        X(Tss2_Sys_GetCapability) \
        X(Tss2_Sys_GetContextSize) \
        X(Tss2_Sys_GetCpBuffer) \
        X(Tss2_Sys_GetDecryptParam) \
        X(Tss2_Sys_GetEncryptParam) \
        X(Tss2_Sys_GetRpBuffer) \
        X(Tss2_Sys_GetRspAuths) \
        X(Tss2_Sys_Initialize) \
        X(Tss2_Sys_Load) \
        X(Tss2_Sys_LoadExternal) \
        X(Tss2_Sys_PCR_Read) \
        X(Tss2_Sys_PolicyAuthorize) \
        X(Tss2_Sys_PolicyGetDigest) \
        X(Tss2_Sys_PolicyPCR) \
        X(Tss2_Sys_PolicyRestart) \
        X(Tss2_Sys_ReadPublic) \
        X(Tss2_Sys_SetCmdAuths) \
        X(Tss2_Sys_SetDecryptParam) \
        X(Tss2_Sys_SetEncryptParam) \
        X(Tss2_Sys_StartAuthSession) \
        X(Tss2_Sys_Startup) \
        X(Tss2_Sys_Unseal_Complete) \
        X(Tss2_Sys_Unseal_Prepare) \
        X(Tss2_Sys_VerifySignature) \
        X(Tss2_TctiLdr_Finalize) \
        X(Tss2_TctiLdr_Initialize) \

#define TSS2_DECLARE(f) static __typeof__(f) *sym_##f;
TSS2_SYMBOLS(TSS2_DECLARE)

static int tpm2_dlopen(void) {
        static const char *const libs[] = {
                "libtss2-sys.so.1", "libtss2-mu.so.0", "libtss2-rc.so.0", "libtss2-tctildr.so.0",
        };
        static void *handles[ELEMENTSOF(libs)];
        static int state = 1; /* 1: not tried yet; then 0 or the error */

        if (state <= 0)
                return state;
        for (size_t i = 0; i < ELEMENTSOF(libs); i++) {
                handles[i] = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
                if (!handles[i])
                        return state = log_fail(-EOPNOTSUPP, "TPM2 support needs tpm2-tss: %s", dlerror());
        }
#define TSS2_RESOLVE(f)                                                                               \
        for (size_t i = 0; !sym_##f && i < ELEMENTSOF(libs); i++)                                    \
                sym_##f = (__typeof__(f) *) dlsym(handles[i], #f);                                     \
        if (!sym_##f)                                                                                 \
                return state = log_fail(-EOPNOTSUPP, "TPM2 support needs tpm2-tss: %s not found", #f);
        TSS2_SYMBOLS(TSS2_RESOLVE)
#undef TSS2_RESOLVE
        return state = 0;
}

#define Tss2_MU_TPM2B_PRIVATE_Marshal sym_Tss2_MU_TPM2B_PRIVATE_Marshal
#define Tss2_MU_TPM2B_PRIVATE_Unmarshal sym_Tss2_MU_TPM2B_PRIVATE_Unmarshal
#define Tss2_MU_TPM2B_PUBLIC_Marshal sym_Tss2_MU_TPM2B_PUBLIC_Marshal
#define Tss2_MU_TPM2B_PUBLIC_Unmarshal sym_Tss2_MU_TPM2B_PUBLIC_Unmarshal
#define Tss2_MU_TPMT_PUBLIC_Marshal sym_Tss2_MU_TPMT_PUBLIC_Marshal
#define Tss2_RC_Decode sym_Tss2_RC_Decode
#define Tss2_Sys_CreatePrimary sym_Tss2_Sys_CreatePrimary
#define Tss2_Sys_Create_Complete sym_Tss2_Sys_Create_Complete
#define Tss2_Sys_Create_Prepare sym_Tss2_Sys_Create_Prepare
#define Tss2_Sys_Execute sym_Tss2_Sys_Execute
#define Tss2_Sys_Finalize sym_Tss2_Sys_Finalize
#define Tss2_Sys_FlushContext sym_Tss2_Sys_FlushContext
#define Tss2_Sys_GetCapability sym_Tss2_Sys_GetCapability
#define Tss2_Sys_GetContextSize sym_Tss2_Sys_GetContextSize
#define Tss2_Sys_GetCpBuffer sym_Tss2_Sys_GetCpBuffer
#define Tss2_Sys_GetDecryptParam sym_Tss2_Sys_GetDecryptParam
#define Tss2_Sys_GetEncryptParam sym_Tss2_Sys_GetEncryptParam
#define Tss2_Sys_GetRpBuffer sym_Tss2_Sys_GetRpBuffer
#define Tss2_Sys_GetRspAuths sym_Tss2_Sys_GetRspAuths
#define Tss2_Sys_Initialize sym_Tss2_Sys_Initialize
#define Tss2_Sys_Load sym_Tss2_Sys_Load
#define Tss2_Sys_LoadExternal sym_Tss2_Sys_LoadExternal
#define Tss2_Sys_PCR_Read sym_Tss2_Sys_PCR_Read
#define Tss2_Sys_PolicyAuthorize sym_Tss2_Sys_PolicyAuthorize
#define Tss2_Sys_PolicyGetDigest sym_Tss2_Sys_PolicyGetDigest
#define Tss2_Sys_PolicyPCR sym_Tss2_Sys_PolicyPCR
#define Tss2_Sys_PolicyRestart sym_Tss2_Sys_PolicyRestart
#define Tss2_Sys_ReadPublic sym_Tss2_Sys_ReadPublic
#define Tss2_Sys_SetCmdAuths sym_Tss2_Sys_SetCmdAuths
#define Tss2_Sys_SetDecryptParam sym_Tss2_Sys_SetDecryptParam
#define Tss2_Sys_SetEncryptParam sym_Tss2_Sys_SetEncryptParam
#define Tss2_Sys_StartAuthSession sym_Tss2_Sys_StartAuthSession
#define Tss2_Sys_Startup sym_Tss2_Sys_Startup
#define Tss2_Sys_Unseal_Complete sym_Tss2_Sys_Unseal_Complete
#define Tss2_Sys_Unseal_Prepare sym_Tss2_Sys_Unseal_Prepare
#define Tss2_Sys_VerifySignature sym_Tss2_Sys_VerifySignature
#define Tss2_TctiLdr_Finalize sym_Tss2_TctiLdr_Finalize
#define Tss2_TctiLdr_Initialize sym_Tss2_TctiLdr_Initialize

/* ---- PCR names and --tpm2-pcrs= ------------------------------------------ */

static const char *const pcr_names[TPM2_PCRS_MAX] = {
        [0] = "platform-code",       [1] = "platform-config",     [2] = "external-code",
        [3] = "external-config",     [4] = "boot-loader-code",    [5] = "boot-loader-config",
        [6] = "host-platform",       [7] = "secure-boot-policy",  [9] = "kernel-initrd",
        [10] = "ima",                [11] = "kernel-boot",        [12] = "kernel-config",
        [13] = "sysexts",            [14] = "shim-policy",        [15] = "system-identity",
        [16] = "debug",              [23] = "application-support",
};

const char *tpm2_pcr_name(unsigned index) {
        return index < TPM2_PCRS_MAX ? pcr_names[index] : NULL;
}

static const struct {
        uint16_t id;
        const char *name;
        size_t size;
        int gcry;
} banks[] = {
        { TPM2_BANK_SHA1, "sha1", 20, GCRY_MD_SHA1 },
        { TPM2_BANK_SHA256, "sha256", 32, GCRY_MD_SHA256 },
        { TPM2_BANK_SHA384, "sha384", 48, GCRY_MD_SHA384 },
        { TPM2_BANK_SHA512, "sha512", 64, GCRY_MD_SHA512 },
};

const char *tpm2_bank_name(uint16_t bank) {
        for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                if (banks[i].id == bank)
                        return banks[i].name;
        return NULL;
}

static size_t bank_size(uint16_t bank) {
        for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                if (banks[i].id == bank)
                        return banks[i].size;
        return 0;
}

static int unhex(const char *s, size_t len, uint8_t *out, size_t out_size) {
        if (len != out_size * 2)
                return -EINVAL;
        for (size_t i = 0; i < out_size; i++) {
                char b[3] = { s[2 * i], s[2 * i + 1], 0 };
                char *end;

                if (!isxdigit((unsigned char) b[0]) || !isxdigit((unsigned char) b[1]))
                        return -EINVAL;
                out[i] = (uint8_t) strtoul(b, &end, 16);
        }
        return 0;
}

/* One entry: INDEX|NAME [":" BANK ["=" HEX]]. */
static int pcr_entry_parse(const char *e, size_t len, struct tpm2_pcr_spec *spec) {
        char word[64];
        const char *colon = memchr(e, ':', len), *eq;
        size_t wlen = colon ? (size_t) (colon - e) : len;
        unsigned idx = TPM2_PCRS_MAX;
        uint16_t bank = 0;

        if (wlen == 0 || wlen >= sizeof(word))
                return -EINVAL;
        memcpy(word, e, wlen);
        word[wlen] = '\0';
        if (strspn(word, "0123456789") == wlen) {
                if (wlen > 2)
                        return -EINVAL;
                idx = (unsigned) atoi(word);
        } else
                for (unsigned i = 0; i < TPM2_PCRS_MAX; i++)
                        if (pcr_names[i] && strcmp(pcr_names[i], word) == 0)
                                idx = i;
        if (idx >= TPM2_PCRS_MAX)
                return -EINVAL;
        if (colon) {
                const char *b = colon + 1, *end = e + len;

                eq = memchr(b, '=', (size_t) (end - b));
                wlen = (size_t) ((eq ? eq : end) - b);
                if (wlen == 0 || wlen >= sizeof(word))
                        return -EINVAL;
                memcpy(word, b, wlen);
                word[wlen] = '\0';
                for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                        if (strcasecmp(banks[i].name, word) == 0)
                                bank = banks[i].id;
                /* systemd seals against sha256 or sha1 only. */
                if (bank != TPM2_BANK_SHA256 && bank != TPM2_BANK_SHA1)
                        return -EOPNOTSUPP;
                if (spec->bank && spec->bank != bank)
                        return -EXDEV;
                spec->bank = bank;
                if (eq) {
                        const char *hex = eq + 1;
                        size_t hlen = (size_t) (end - hex);

                        if (hlen > 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
                                hex += 2;
                                hlen -= 2;
                        }
                        if (unhex(hex, hlen, spec->values[idx], bank_size(bank)) < 0)
                                return -EINVAL;
                        spec->values_mask |= UINT32_C(1) << idx;
                }
        }
        spec->mask |= UINT32_C(1) << idx;
        return 0;
}

int tpm2_pcrs_parse(const char *s, struct tpm2_pcr_spec *spec) {
        struct tpm2_pcr_spec n = *spec;
        const char *p = s;
        int r;

        while (*p) {
                size_t len = strcspn(p, "+,");

                r = pcr_entry_parse(p, len, &n);
                if (r < 0)
                        return r;
                p += len;
                if (*p) {
                        p++;
                        if (!*p)
                                return -EINVAL;
                }
        }
        /* Values in one bank only: sha1 values with a sha256 policy make no sense. */
        *spec = n;
        return 0;
}

/* ---- has-tpm2 ------------------------------------------------------------- */

static bool dir_populated(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;
        bool found = false;

        if (!d)
                return false;
        while (!found && (de = readdir(d)))
                found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        return found;
}

static bool in_container(void) {
        _cleanup_close_ int fd = -1;
        char buf[8192];
        ssize_t n;

        if (access("/run/systemd/container", F_OK) >= 0 || access("/run/.containerenv", F_OK) >= 0 ||
            access("/.dockerenv", F_OK) >= 0)
                return true;
        fd = open("/proc/1/environ", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        for (ssize_t i = 0; i < n; i += (ssize_t) strlen(buf + i) + 1)
                if (strncmp(buf + i, "container=", 10) == 0)
                        return true;
        return false;
}

static bool firmware_has_tpm2(void) {
        if (access("/sys/firmware/efi", F_OK) < 0)
                return false;
        return access("/sys/firmware/acpi/tables/TPM2", F_OK) >= 0 ||
               access("/sys/kernel/security/tpm0/binary_bios_measurements", F_OK) >= 0;
}

unsigned tpm2_support(void) {
        unsigned s = TPM2_SUPPORT_SYSTEM; /* built with tpm2-tss */

        if (!in_container() && dir_populated("/sys/class/tpmrm"))
                s |= TPM2_SUPPORT_DRIVER;
        if (firmware_has_tpm2())
                s |= TPM2_SUPPORT_FIRMWARE;
        if (access("/sys/class/tpm", F_OK) >= 0)
                s |= TPM2_SUPPORT_SUBSYSTEM;
        return s;
}

int tpm2_device_arg_check(const char *arg) {
        if (strcmp(arg, "list") == 0)
                return log_fail(-EINVAL, "--tpm2-device=list is not supported; give a path, auto, or DRIVER:CONF");
        return 0;
}

bool tpm2_present(void) {
        unsigned need = TPM2_SUPPORT_DRIVER | TPM2_SUPPORT_SYSTEM | TPM2_SUPPORT_SUBSYSTEM;

        return (tpm2_support() & need) == need;
}

/* ---- hashing helpers ------------------------------------------------------ */

static void put_be16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

/* TPML_PCR_SELECTION with one bank, sizeofSelect 3, as systemd marshals it. */
static void pcr_selection(TPML_PCR_SELECTION *sel, uint16_t bank, uint32_t mask) {
        memset(sel, 0, sizeof(*sel));
        sel->count = 1;
        sel->pcrSelections[0].hash = bank;
        sel->pcrSelections[0].sizeofSelect = 3;
        for (unsigned i = 0; i < 3; i++)
                sel->pcrSelections[0].pcrSelect[i] = (uint8_t) (mask >> (8 * i));
}

/* d = H(d ‖ TPM_CC_PolicyPCR ‖ TPML_PCR_SELECTION ‖ H(values in index order)). */
int tpm2_policy_pcr(uint8_t digest[32], uint16_t bank, uint32_t mask, const uint8_t *values, size_t value_size) {
        uint8_t cc[4], sel[10], pcr_digest[32];
        int r;

        put_be32(cc, TPM2_CC_PolicyPCR);
        put_be32(sel, 1);
        put_be16(sel + 4, bank);
        sel[6] = 3;
        sel[7] = (uint8_t) mask;
        sel[8] = (uint8_t) (mask >> 8);
        sel[9] = (uint8_t) (mask >> 16);
        r = tpm2_sha256(pcr_digest, (const struct iovec[]) { { (void *) values, value_size } }, 1);
        if (r < 0)
                return r;
        return tpm2_sha256(digest, (const struct iovec[]) { { digest, 32 }, { cc, 4 }, { sel, sizeof(sel) }, { pcr_digest, 32 } }, 4);
}

/* PolicyAuthorize resets the digest: d = H(H(0^32 ‖ CC ‖ keyName) ‖ policyRef=""). */
int tpm2_policy_authorize(uint8_t digest[32], const uint8_t *name, size_t name_size) {
        static const uint8_t zero[32];
        uint8_t cc[4];
        int r;

        put_be32(cc, TPM2_CC_PolicyAuthorize);
        r = tpm2_sha256(digest, (const struct iovec[]) { { (void *) zero, 32 }, { cc, 4 }, { (void *) name, name_size } }, 3);
        if (r < 0)
                return r;
        return tpm2_sha256(digest, (const struct iovec[]) { { digest, 32 } }, 1);
}

/* ---- RSA public key from PEM ---------------------------------------------- */

/* Reads one DER TLV with the given tag; definite lengths only. */
static int der_take(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **ret, size_t *ret_len) {
        const uint8_t *q = *p;
        size_t len;

        if (end - q < 2 || q[0] != tag)
                return -EBADMSG;
        len = q[1];
        q += 2;
        if (len & 0x80) {
                size_t n = len & 0x7f;

                if (n == 0 || n > 3 || (size_t) (end - q) < n)
                        return -EBADMSG;
                len = 0;
                while (n--)
                        len = len << 8 | *q++;
        }
        if ((size_t) (end - q) < len)
                return -EBADMSG;
        *ret = q;
        *ret_len = len;
        *p = q + len;
        return 0;
}

static int rsa_pkcs1_parse(const uint8_t *der, size_t size, struct tpm2_rsa_pub *k) {
        const uint8_t *p = der, *end = der + size, *seq, *n, *e;
        size_t seq_len, n_len, e_len;
        int r;

        r = der_take(&p, end, 0x30, &seq, &seq_len);
        if (r < 0 || p != end)
                return -EBADMSG;
        p = seq;
        end = seq + seq_len;
        if (der_take(&p, end, 0x02, &n, &n_len) < 0 || der_take(&p, end, 0x02, &e, &e_len) < 0 || p != end)
                return -EBADMSG;
        while (n_len > 0 && n[0] == 0) {
                n++;
                n_len--;
        }
        while (e_len > 0 && e[0] == 0) {
                e++;
                e_len--;
        }
        if (n_len < 128 || n_len > sizeof(k->n) || e_len == 0 || e_len > 4)
                return -EBADMSG;
        memcpy(k->n, n, n_len);
        k->n_size = n_len;
        /* systemd 252 copies the big-endian exponent bytes into the little-endian
         * u32 field; identical for the usual 65537 and 3, and what its names use. */
        k->e = 0;
        for (size_t i = 0; i < e_len; i++)
                k->e |= (uint32_t) e[i] << (8 * i);
        return tpm2_sha256(k->fingerprint, (const struct iovec[]) { { (void *) der, size } }, 1);
}

static void rsa_tpm_public(const struct tpm2_rsa_pub *k, TPM2B_PUBLIC *pub) {
        unsigned bits = (unsigned) k->n_size * 8;

        for (uint8_t top = k->n[0]; !(top & 0x80); top <<= 1)
                bits--;
        memset(pub, 0, sizeof(*pub));
        pub->publicArea.type = TPM2_ALG_RSA;
        pub->publicArea.nameAlg = TPM2_ALG_SHA256;
        pub->publicArea.objectAttributes = TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
        pub->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        pub->publicArea.parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS) bits;
        pub->publicArea.parameters.rsaDetail.exponent = k->e;
        pub->publicArea.unique.rsa.size = (uint16_t) k->n_size;
        memcpy(pub->publicArea.unique.rsa.buffer, k->n, k->n_size);
}

int tpm2_rsa_pub_from_pem(const char *pem, size_t size, struct tpm2_rsa_pub *ret) {
        static const uint8_t rsa_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
        static const struct {
                const char *begin, *end;
                bool spki;
        } kinds[] = {
                { "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----", true },
                { "-----BEGIN RSA PUBLIC KEY-----", "-----END RSA PUBLIC KEY-----", false },
        };
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        struct tpm2_rsa_pub k = {};
        TPM2B_PUBLIC pub;
        uint8_t buf[sizeof(TPMT_PUBLIC)];
        size_t der_size = 0, off = 0;
        int r;

        r = tpm2_dlopen();
        if (r < 0)
                return r;

        text = strndup(pem, size);
        if (!text)
                return log_oom();
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                const char *b = strstr(text, kinds[i].begin), *e;
                const uint8_t *p, *end, *seq, *alg, *oid, *bits;
                size_t seq_len, alg_len, oid_len, bits_len;

                if (!b)
                        continue;
                b += strlen(kinds[i].begin);
                e = strstr(b, kinds[i].end);
                if (!e)
                        return log_fail(-EBADMSG, "public key PEM has no end line");
                r = base64_decode(b, (size_t) (e - b), &der, &der_size);
                if (r < 0)
                        return log_fail(-EBADMSG, "public key PEM is not valid Base64");
                if (!kinds[i].spki) {
                        r = rsa_pkcs1_parse(der, der_size, &k);
                        break;
                }
                p = der;
                end = der + der_size;
                r = der_take(&p, end, 0x30, &seq, &seq_len);
                if (r >= 0) {
                        p = seq;
                        end = seq + seq_len;
                        r = der_take(&p, end, 0x30, &alg, &alg_len);
                }
                if (r >= 0)
                        r = der_take(&p, end, 0x03, &bits, &bits_len);
                if (r >= 0) {
                        const uint8_t *q = alg;

                        r = der_take(&q, alg + alg_len, 0x06, &oid, &oid_len);
                        if (r >= 0 && (oid_len != sizeof(rsa_oid) || memcmp(oid, rsa_oid, oid_len) != 0))
                                return log_fail(-EOPNOTSUPP, "public key is not an RSA key (only RSA is supported for signed PCR policies)");
                }
                if (r >= 0 && (bits_len < 1 || bits[0] != 0))
                        r = -EBADMSG;
                if (r >= 0)
                        r = rsa_pkcs1_parse(bits + 1, bits_len - 1, &k);
                break;
        }
        if (der_size == 0 && !der)
                return log_fail(-EBADMSG, "public key is not a PEM RSA public key");
        if (r < 0)
                return log_fail(-EBADMSG, "cannot parse the RSA public key");

        rsa_tpm_public(&k, &pub);
        if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub.publicArea, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return log_fail(-EIO, "cannot marshal the public key");
        put_be16(k.name, TPM2_ALG_SHA256);
        r = tpm2_sha256(k.name + 2, (const struct iovec[]) { { buf, off } }, 1);
        if (r < 0)
                return r;
        *ret = k;
        return 0;
}

/* ---- TPM context and handle tracking -------------------------------------- */

#define HANDLE_NONE TPM2_RH_NULL

struct tpm2 {
        TSS2_TCTI_CONTEXT *tcti;
        TSS2_SYS_CONTEXT *sys;  /* its buffers hold unsealed secrets: wiped at the end */
        size_t sys_size;
        TPM2_HANDLE flush[6];   /* transient objects and sessions this process created */
        size_t n_flush;
        bool set_log_env;
};

/* The owner hierarchy and the loaded objects have empty authValues. */
static const TSS2L_SYS_AUTH_COMMAND password_auth = { .count = 1, .auths = { { .sessionHandle = TPM2_RS_PW } } };

/* A TPM may decline to start a command for now; ESYS resubmitted up to 5 times, as
 * we do. SAPI keeps a refused command ready to be sent again as it is. */
#define TPM2_SUBMISSIONS 5
#define SYS_RETRY(call)                                                    \
        ({                                                                 \
                TSS2_RC _rc;                                               \
                unsigned _n = 0;                                           \
                do                                                         \
                        _rc = (call);                                      \
                while (_rc == TPM2_RC_RETRY && ++_n < TPM2_SUBMISSIONS);   \
                _rc;                                                       \
        })

static const char *rc_str(TSS2_RC rc) {
        return Tss2_RC_Decode(rc);
}

/* Format-1 codes carry a handle/session/parameter number: mask it off. */
static TSS2_RC rc_base(TSS2_RC rc) {
        if (rc & TPM2_RC_FMT1)
                return rc & (0xFFFF0000U | TPM2_RC_FMT1 | 0x3FU);
        return rc & (0xFFFF0000U | 0xFFFU);
}

static void tpm2_track(struct tpm2 *t, TPM2_HANDLE h) {
        if (t->n_flush < ELEMENTSOF(t->flush))
                t->flush[t->n_flush++] = h;
}

/* Flushes h if this process created it (never the persistent SRK). */
static void tpm2_flush(struct tpm2 *t, TPM2_HANDLE *h) {
        if (*h == HANDLE_NONE)
                return;
        for (size_t i = 0; i < t->n_flush; i++)
                if (t->flush[i] == *h) {
                        TSS2_RC rc = SYS_RETRY(Tss2_Sys_FlushContext(t->sys, *h));

                        if (rc != TSS2_RC_SUCCESS)
                                log_debug("flushing TPM handle 0x%x failed: %s", *h, rc_str(rc));
                        t->flush[i] = t->flush[--t->n_flush];
                        break;
                }
        *h = HANDLE_NONE;
}

static void tpm2_done(struct tpm2 *t) {
        if (t->sys) {
                while (t->n_flush > 0) {
                        TSS2_RC rc = SYS_RETRY(Tss2_Sys_FlushContext(t->sys, t->flush[--t->n_flush]));

                        if (rc != TSS2_RC_SUCCESS)
                                log_debug("flushing TPM handle failed: %s", rc_str(rc));
                }
                Tss2_Sys_Finalize(t->sys);
                explicit_bzero(t->sys, t->sys_size);
                free(t->sys);
        }
        if (t->tcti)
                Tss2_TctiLdr_Finalize(&t->tcti);
        if (t->set_log_env)
                unsetenv("TSS2_LOG");
}

static int tpm2_open(const char *device, struct tpm2 *t) {
        _cleanup_free_ char *conf = NULL;
        const char *where;
        TSS2_RC rc;

        *t = (struct tpm2) {};
        if (tpm2_dlopen() < 0)
                return -EOPNOTSUPP; /* logged */
        /* tpm2-tss logs its own errors to stderr; ours are the ones that count. */
        if (!getenv("TSS2_LOG")) {
                if (setenv("TSS2_LOG", "all+NONE", 0) < 0)
                        return log_oom();
                t->set_log_env = true;
        }
        if (!device || strcmp(device, "auto") == 0) {
                device = getenv("SYSTEMD_TPM2_DEVICE");
                if (!device)
                        device = "device:/dev/tpmrm0";
                else if (!device[0])
                        device = NULL; /* tpm2-tss picks */
        }
        if (device) {
                if (strchr(device, ':')) {
                        if (device[0] == ':')
                                return log_fail(-EINVAL, "TPM2 driver name is empty in \"%s\"", device);
                        conf = strdup(device);
                } else if (device[0] == '/') {
                        if (asprintf(&conf, "device:%s", device) < 0)
                                conf = NULL;
                } else
                        return log_fail(-EINVAL, "invalid TPM2 device \"%s\": want a path, auto, or DRIVER:CONF", device);
                if (!conf)
                        return log_oom();
        }
        where = conf ? conf : "the default device";
        rc = Tss2_TctiLdr_Initialize(conf, &t->tcti);
        if (rc != TSS2_RC_SUCCESS)
                return log_fail(-ENODEV, "no TPM2 available at %s: %s", where, rc_str(rc));
        t->sys_size = Tss2_Sys_GetContextSize(0);
        t->sys = calloc(1, t->sys_size);
        if (!t->sys)
                return log_oom();
        rc = Tss2_Sys_Initialize(t->sys, t->sys_size, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                free(t->sys);
                t->sys = NULL;
                return log_fail(-ENODEV, "cannot talk to the TPM2 at %s: %s", where, rc_str(rc));
        }
        rc = SYS_RETRY(Tss2_Sys_Startup(t->sys, TPM2_SU_CLEAR));
        if (rc != TSS2_RC_SUCCESS && rc_base(rc) != TPM2_RC_INITIALIZE)
                return log_fail(-ENODEV, "TPM2 at %s does not start up: %s", where, rc_str(rc));
        return 0;
}

/* ---- primary key ----------------------------------------------------------- */

#define PRIMARY_ATTRS                                                                                     \
        (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
         TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH)

/* systemd's "legacy" template: no noDA, AES-128-CFB, ECC P-256 or RSA 2048. */
static void primary_template(uint16_t alg, TPM2B_PUBLIC *t) {
        memset(t, 0, sizeof(*t));
        t->publicArea.type = alg;
        t->publicArea.nameAlg = TPM2_ALG_SHA256;
        t->publicArea.objectAttributes = PRIMARY_ATTRS;
        if (alg == TPM2_ALG_ECC) {
                t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
                t->publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
                t->publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
                t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
                t->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
                t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        } else {
                t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
                t->publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
                t->publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
                t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
                t->publicArea.parameters.rsaDetail.keyBits = 2048;
        }
}

/* The SRK is the same key as the transient primary only if it was made from
 * the very same template (the template goes into the key derivation). */
static bool public_matches_template(const TPMT_PUBLIC *p, uint16_t alg) {
        TPM2B_PUBLIC t;

        primary_template(alg, &t);
        if (p->type != alg || p->nameAlg != TPM2_ALG_SHA256 || p->objectAttributes != PRIMARY_ATTRS ||
            p->authPolicy.size != 0)
                return false;
        if (alg == TPM2_ALG_ECC) {
                const TPMS_ECC_PARMS *a = &p->parameters.eccDetail, *b = &t.publicArea.parameters.eccDetail;

                return a->symmetric.algorithm == b->symmetric.algorithm && a->symmetric.keyBits.aes == b->symmetric.keyBits.aes &&
                       a->symmetric.mode.aes == b->symmetric.mode.aes && a->scheme.scheme == b->scheme.scheme &&
                       a->curveID == b->curveID && a->kdf.scheme == b->kdf.scheme;
        }
        const TPMS_RSA_PARMS *a = &p->parameters.rsaDetail, *b = &t.publicArea.parameters.rsaDetail;

        return a->symmetric.algorithm == b->symmetric.algorithm && a->symmetric.keyBits.aes == b->symmetric.keyBits.aes &&
               a->symmetric.mode.aes == b->symmetric.mode.aes && a->scheme.scheme == b->scheme.scheme &&
               a->keyBits == b->keyBits && a->exponent == b->exponent;
}

/* A primary (or the SRK standing in for it): its public key salts sessions,
 * its name goes into the HMAC of commands that use it. */
struct primary {
        TPM2_HANDLE handle;
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        bool srk;
};

/* Uses the persistent SRK at 0x81000001 if it is this very key; returns 1 then. */
static int primary_from_srk(struct tpm2 *t, uint16_t alg, struct primary *ret) {
        TPM2B_NAME qualified = {};
        TSS2_RC rc;

        if (getenv("LATCHKEY_TPM2_NO_SRK"))
                return 0;
        /* A missing handle is one failed round trip, as cheap as asking GetCapability first. */
        *ret = (struct primary) { .handle = TPM2_SRK_HANDLE, .srk = true };
        rc = SYS_RETRY(Tss2_Sys_ReadPublic(t->sys, TPM2_SRK_HANDLE, NULL, &ret->pub, &ret->name, &qualified, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return 0;
        if (!public_matches_template(&ret->pub.publicArea, alg)) {
                log_debug("persistent key at 0x%x is not the credential primary, deriving it", TPM2_SRK_HANDLE);
                return 0;
        }
        return 1;
}

static int primary_create(struct tpm2 *t, uint16_t alg, struct primary *ret) {
        static const TPM2B_SENSITIVE_CREATE sensitive = {};
        static const TPM2B_DATA outside = {};
        static const TPML_PCR_SELECTION creation_pcr = {};
        TPM2B_PUBLIC tmpl;
        TPM2B_CREATION_DATA creation_data = {};
        TPM2B_DIGEST creation_hash = {};
        TPMT_TK_CREATION creation_ticket = {};
        TSS2_RC rc;

        primary_template(alg, &tmpl);
        *ret = (struct primary) { .handle = HANDLE_NONE };
        rc = SYS_RETRY(Tss2_Sys_CreatePrimary(t->sys, TPM2_RH_OWNER, &password_auth, &sensitive, &tmpl, &outside, &creation_pcr,
                                    &ret->handle, &ret->pub, &creation_data, &creation_hash, &creation_ticket, &ret->name,
                                    NULL));
        if (rc != TSS2_RC_SUCCESS) {
                ret->handle = HANDLE_NONE;
                if (rc_base(rc) == TPM2_RC_LOCKOUT)
                        return log_fail(-ENOLCK, "TPM2 is in dictionary-attack lockout mode");
                if (rc_base(rc) == TPM2_RC_BAD_AUTH || rc_base(rc) == TPM2_RC_AUTH_FAIL)
                        return log_fail(-EACCES, "TPM2 owner hierarchy has a password; cannot create the primary key");
                log_debug("CreatePrimary (%s) failed: %s", alg == TPM2_ALG_ECC ? "ECC" : "RSA", rc_str(rc));
                return -EPROTONOSUPPORT;
        }
        tpm2_track(t, ret->handle);
        return 0;
}

/* ---- sessions ---------------------------------------------------------------- */

/* A salted, unbound session and its rolling nonces (Part 1 §19.6). */
struct session {
        TPM2_HANDLE handle;
        TPMA_SESSION attrs;
        uint8_t key[TPM2_SESSION_DIGEST]; /* sessionKey; authValues are all empty */
        TPM2B_NONCE nonce_tpm, nonce_caller;
};

static void session_wipe(struct session *s) {
        explicit_bzero(s, sizeof(*s));
}

static int nonce_new(TPM2B_NONCE *n) {
        n->size = TPM2_SESSION_DIGEST;
        if (getrandom(n->buffer, n->size, 0) != (ssize_t) n->size)
                return log_fail(-EIO, "cannot get random bytes");
        return 0;
}

/* Salted by the primary (ECDH or RSA-OAEP), AES-128-CFB parameter encryption. */
static int session_start(struct tpm2 *t, const struct primary *salt_key, TPM2_SE type, TPMA_SESSION attrs,
                         struct session *s) {
        static const TPMT_SYM_DEF symmetric = {
                .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB,
        };
        TPM2B_ENCRYPTED_SECRET encrypted_salt = {};
        uint8_t salt[TPM2_SESSION_DIGEST];
        TSS2_RC rc;
        int r;

        *s = (struct session) { .handle = HANDLE_NONE, .attrs = attrs };
        r = nonce_new(&s->nonce_caller);
        if (r < 0)
                return r;
        r = tpm2_salt_make(&salt_key->pub.publicArea, salt, &encrypted_salt);
        if (r < 0)
                return r;
        rc = SYS_RETRY(Tss2_Sys_StartAuthSession(t->sys, salt_key->handle, TPM2_RH_NULL, NULL, &s->nonce_caller, &encrypted_salt,
                                       type, &symmetric, TPM2_ALG_SHA256, &s->handle, &s->nonce_tpm, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                explicit_bzero(salt, sizeof(salt));
                s->handle = HANDLE_NONE;
                return log_fail(-EIO, "cannot start a TPM2 session: %s", rc_str(rc));
        }
        tpm2_track(t, s->handle);
        r = tpm2_kdfa(salt, sizeof(salt), "ATH", s->nonce_tpm.buffer, s->nonce_tpm.size, s->nonce_caller.buffer,
                      s->nonce_caller.size, s->key, sizeof(s->key));
        explicit_bzero(salt, sizeof(salt));
        return r;
}

/* CFB of the first parameter in SAPI's buffer: the command's (DECRYPT) before
 * it is sent, or the response's (ENCRYPT) after it came. */
static int session_cfb(struct tpm2 *t, struct session *s, bool command) {
        uint8_t key_iv[32], param[1024];
        const uint8_t *p;
        size_t size;
        TSS2_RC rc;
        int r;

        rc = command ? Tss2_Sys_GetDecryptParam(t->sys, &size, &p) : Tss2_Sys_GetEncryptParam(t->sys, &size, &p);
        if (rc != TSS2_RC_SUCCESS || size > sizeof(param))
                return log_fail(-EIO, "cannot find the TPM2 parameter to encrypt: %s", rc_str(rc));
        memcpy(param, p, size);
        /* The newer nonce first: the caller's on commands, the TPM's on responses. */
        if (command)
                r = tpm2_kdfa(s->key, sizeof(s->key), "CFB", s->nonce_caller.buffer, s->nonce_caller.size,
                              s->nonce_tpm.buffer, s->nonce_tpm.size, key_iv, sizeof(key_iv));
        else
                r = tpm2_kdfa(s->key, sizeof(s->key), "CFB", s->nonce_tpm.buffer, s->nonce_tpm.size,
                              s->nonce_caller.buffer, s->nonce_caller.size, key_iv, sizeof(key_iv));
        if (r >= 0)
                r = tpm2_cfb(command, key_iv, param, size);
        if (r >= 0) {
                rc = command ? Tss2_Sys_SetDecryptParam(t->sys, size, param) : Tss2_Sys_SetEncryptParam(t->sys, size, param);
                if (rc != TSS2_RC_SUCCESS)
                        r = log_fail(-EIO, "cannot put back the TPM2 parameter: %s", rc_str(rc));
        }
        explicit_bzero(param, size);
        explicit_bzero(key_iv, sizeof(key_iv));
        return r;
}

/* HMAC(sessionKey, pHash ‖ nonceNewer ‖ nonceOlder ‖ attributes), Part 1 §19.6.5;
 * newer is the caller's nonce on commands, the TPM's on responses. */
static int session_hmac(const struct session *s, const uint8_t p_hash[TPM2_SESSION_DIGEST], const TPM2B_NONCE *newer,
                        const TPM2B_NONCE *older, uint8_t attrs, uint8_t mac[TPM2_SESSION_DIGEST]) {
        const struct iovec parts[] = {
                { (void *) p_hash, TPM2_SESSION_DIGEST }, { (void *) newer->buffer, newer->size },
                { (void *) older->buffer, older->size }, { &attrs, 1 },
        };

        return tpm2_hmac(s->key, sizeof(s->key), parts, ELEMENTSOF(parts), mac);
}

/* Runs the prepared command with s as its one authorisation, for the object
 * called name: HMAC over cpHash, response HMAC checked, parameters en- and
 * decrypted as s->attrs say. < 0 for a local failure (logged), else 0 and the
 * TPM's answer in *ret_rc. */
static int session_execute(struct tpm2 *t, struct session *s, TPM2_CC cc, const TPM2B_NAME *name, TSS2_RC *ret_rc) {
        TSS2L_SYS_AUTH_COMMAND cmd = { .count = 1 };
        TSS2L_SYS_AUTH_RESPONSE rsp = {};
        uint8_t cc_be[4], rc_be[4] = {}, attrs = s->attrs, digest[TPM2_SESSION_DIGEST], mac[TPM2_SESSION_DIGEST];
        const uint8_t *p;
        size_t size;
        TSS2_RC rc;
        int r;

        put_be32(cc_be, cc);
        r = nonce_new(&s->nonce_caller);
        if (r < 0)
                return r;
        if (s->attrs & TPMA_SESSION_DECRYPT) {
                r = session_cfb(t, s, true);
                if (r < 0)
                        return r;
        }
        rc = Tss2_Sys_GetCpBuffer(t->sys, &size, &p);
        if (rc != TSS2_RC_SUCCESS)
                return log_fail(-EIO, "cannot read the TPM2 command parameters: %s", rc_str(rc));
        const struct iovec cp[] = { { cc_be, 4 }, { (void *) name->name, name->size }, { (void *) p, size } };
        r = tpm2_sha256(digest, cp, ELEMENTSOF(cp));
        if (r >= 0)
                r = session_hmac(s, digest, &s->nonce_caller, &s->nonce_tpm, attrs, mac);
        if (r < 0)
                return r;
        cmd.auths[0] = (TPMS_AUTH_COMMAND) {
                .sessionHandle = s->handle, .nonce = s->nonce_caller, .sessionAttributes = attrs,
                .hmac.size = sizeof(mac),
        };
        memcpy(cmd.auths[0].hmac.buffer, mac, sizeof(mac));
        rc = Tss2_Sys_SetCmdAuths(t->sys, &cmd);
        if (rc != TSS2_RC_SUCCESS)
                return log_fail(-EIO, "cannot set the TPM2 session: %s", rc_str(rc));
        *ret_rc = rc = SYS_RETRY(Tss2_Sys_Execute(t->sys));
        if (rc != TSS2_RC_SUCCESS)
                return 0; /* no response session: the nonces stay as they were */

        if (Tss2_Sys_GetRspAuths(t->sys, &rsp) != TSS2_RC_SUCCESS || rsp.count != 1 ||
            Tss2_Sys_GetRpBuffer(t->sys, &size, &p) != TSS2_RC_SUCCESS)
                return log_fail(-EBADMSG, "TPM2 response has no session");
        s->nonce_tpm = rsp.auths[0].nonce;
        const struct iovec rp[] = { { rc_be, 4 }, { cc_be, 4 }, { (void *) p, size } };
        r = tpm2_sha256(digest, rp, ELEMENTSOF(rp));
        if (r >= 0)
                r = session_hmac(s, digest, &s->nonce_tpm, &s->nonce_caller, rsp.auths[0].sessionAttributes, mac);
        if (r < 0)
                return r;
        if (rsp.auths[0].hmac.size != sizeof(mac) || memcmp(rsp.auths[0].hmac.buffer, mac, sizeof(mac)) != 0)
                return log_fail(-EBADMSG, "TPM2 response fails its session HMAC check");
        if (s->attrs & TPMA_SESSION_ENCRYPT)
                return session_cfb(t, s, false);
        return 0;
}

/* ---- PCRs ---------------------------------------------------------------------- */

/* Reads the mask's PCRs from one bank, in index order; 8 per command at most. */
static int pcr_read(struct tpm2 *t, uint16_t bank, uint32_t mask, uint8_t values[TPM2_PCRS_MAX][64]) {
        uint32_t left = mask;

        while (left) {
                TPML_PCR_SELECTION in, out = {};
                TPML_DIGEST digests = {};
                uint32_t got = 0, update_counter;
                size_t k = 0;
                TSS2_RC rc;

                pcr_selection(&in, bank, left);
                rc = SYS_RETRY(Tss2_Sys_PCR_Read(t->sys, NULL, &in, &update_counter, &out, &digests, NULL));
                if (rc != TSS2_RC_SUCCESS)
                        return log_fail(-EIO, "cannot read TPM2 PCRs: %s", rc_str(rc));
                for (uint32_t i = 0; i < out.count; i++)
                        if (out.pcrSelections[i].hash == bank)
                                for (unsigned b = 0; b < TPM2_PCRS_MAX && b / 8 < out.pcrSelections[i].sizeofSelect; b++)
                                        if (out.pcrSelections[i].pcrSelect[b / 8] & (1U << (b % 8)))
                                                got |= UINT32_C(1) << b;
                got &= left;
                if (got == 0)
                        return log_fail(-EOPNOTSUPP, "TPM2 has no %s PCR bank for the selected PCRs", tpm2_bank_name(bank));
                for (unsigned b = 0; b < TPM2_PCRS_MAX; b++)
                        if (got & (UINT32_C(1) << b)) {
                                if (k >= digests.count || digests.digests[k].size != bank_size(bank))
                                        return log_fail(-EIO, "TPM2 returned malformed PCR values");
                                memcpy(values[b], digests.digests[k].buffer, bank_size(bank));
                                k++;
                        }
                left &= ~got;
        }
        return 0;
}

static bool pcrs_initialized(uint16_t bank, uint32_t mask, uint8_t values[TPM2_PCRS_MAX][64]) {
        size_t n = bank_size(bank);

        for (unsigned b = 0; b < TPM2_PCRS_MAX; b++) {
                if (!(mask & (UINT32_C(1) << b)))
                        continue;
                bool zero = true, ones = true;

                for (size_t i = 0; i < n; i++) {
                        zero = zero && values[b][i] == 0x00;
                        ones = ones && values[b][i] == 0xff;
                }
                if (!zero && !ones)
                        return true;
        }
        return false;
}

/* Which of sha256/sha1 have all 24 PCRs allocated. */
static int pcr_banks(struct tpm2 *t, bool *has256, bool *has1) {
        TPMS_CAPABILITY_DATA cap = {};
        TPMI_YES_NO more;
        TSS2_RC rc;

        *has256 = *has1 = false;
        rc = SYS_RETRY(Tss2_Sys_GetCapability(t->sys, NULL, TPM2_CAP_PCRS, 0, 1, &more, &cap, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return log_fail(-EIO, "cannot list TPM2 PCR banks: %s", rc_str(rc));
        for (uint32_t i = 0; i < cap.data.assignedPCR.count; i++) {
                const TPMS_PCR_SELECTION *s = &cap.data.assignedPCR.pcrSelections[i];
                bool all = s->sizeofSelect >= 3 && s->pcrSelect[0] == 0xff && s->pcrSelect[1] == 0xff && s->pcrSelect[2] == 0xff;

                if (s->hash == TPM2_ALG_SHA256)
                        *has256 = all;
                else if (s->hash == TPM2_ALG_SHA1)
                        *has1 = all;
        }
        return 0;
}

/* Picks the bank as systemd does and fills in the values of the literal PCRs. */
static int pcr_values_for_seal(struct tpm2 *t, const struct tpm2_pcr_spec *spec, uint32_t union_mask, uint16_t *ret_bank,
                               uint8_t values[TPM2_PCRS_MAX][64]) {
        uint32_t need;
        bool has256, has1;
        int r;

        if (union_mask == 0) {
                *ret_bank = TPM2_BANK_SHA256; /* what v255+ write; 252's 0xffff is unreadable */
                return 0;
        }
        if (spec->bank) {
                *ret_bank = spec->bank;
                for (unsigned b = 0; b < TPM2_PCRS_MAX; b++)
                        if (spec->values_mask & (UINT32_C(1) << b))
                                memcpy(values[b], spec->values[b], bank_size(spec->bank));
                need = spec->mask & ~spec->values_mask;
                return need ? pcr_read(t, spec->bank, need, values) : 0;
        }
        r = pcr_banks(t, &has256, &has1);
        if (r < 0)
                return r;
        if (has256) {
                r = pcr_read(t, TPM2_BANK_SHA256, union_mask, values);
                if (r < 0)
                        return r;
                if (pcrs_initialized(TPM2_BANK_SHA256, union_mask, values)) {
                        *ret_bank = TPM2_BANK_SHA256;
                        return 0;
                }
        }
        if (has1) {
                uint8_t v1[TPM2_PCRS_MAX][64];

                r = pcr_read(t, TPM2_BANK_SHA1, union_mask, v1);
                if (r < 0)
                        return r;
                if (pcrs_initialized(TPM2_BANK_SHA1, union_mask, v1) || !has256) {
                        if (has256)
                                log_info("TPM2 sha256 PCRs are not initialized, using the sha1 bank");
                        memcpy(values, v1, sizeof(v1));
                        *ret_bank = TPM2_BANK_SHA1;
                        return 0;
                }
        }
        if (!has256)
                return log_fail(-EOPNOTSUPP, "TPM2 has neither a complete sha256 nor a sha1 PCR bank");
        log_info("selected TPM2 PCRs are not initialized on this system, PCR policy is effectively unenforced");
        *ret_bank = TPM2_BANK_SHA256;
        return 0;
}

static void values_concat(uint16_t bank, uint32_t mask, uint8_t values[TPM2_PCRS_MAX][64], uint8_t *out, size_t *ret_size) {
        size_t n = bank_size(bank), off = 0;

        for (unsigned b = 0; b < TPM2_PCRS_MAX; b++)
                if (mask & (UINT32_C(1) << b)) {
                        memcpy(out + off, values[b], n);
                        off += n;
                }
        *ret_size = off;
}

/* ---- seal ---------------------------------------------------------------------- */

void tpm2_sealed_done(struct tpm2_sealed *s) {
        free(s->blob);
        s->blob = NULL;
}

static int seal_with(struct tpm2 *t, uint16_t alg, const TPM2B_PUBLIC *tmpl, uint8_t *data, struct tpm2_sealed *ret) {
        static const TPM2B_DATA outside = {};
        static const TPML_PCR_SELECTION creation_pcr = {};
        TPM2B_SENSITIVE_CREATE sensitive = {};
        TPM2B_PRIVATE priv = {};
        TPM2B_PUBLIC pub = {};
        TPM2B_CREATION_DATA creation_data = {};
        TPM2B_DIGEST creation_hash = {};
        TPMT_TK_CREATION creation_ticket = {};
        _cleanup_(session_wipe) struct session session = { .handle = HANDLE_NONE };
        struct primary primary;
        uint8_t blob[sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_PUBLIC)];
        size_t off = 0;
        TSS2_RC rc;
        int r;

        if (primary_from_srk(t, alg, &primary) <= 0) {
                r = primary_create(t, alg, &primary);
                if (r < 0)
                        return r;
        }
        /* Authorises the parent; the sensitive data, the first parameter, is encrypted on the wire. */
        r = session_start(t, &primary, TPM2_SE_HMAC, TPMA_SESSION_DECRYPT | TPMA_SESSION_CONTINUESESSION, &session);
        if (r < 0)
                goto out;
        sensitive.sensitive.data.size = 32;
        memcpy(sensitive.sensitive.data.buffer, data, 32);
        rc = Tss2_Sys_Create_Prepare(t->sys, primary.handle, &sensitive, tmpl, &outside, &creation_pcr);
        explicit_bzero(&sensitive, sizeof(sensitive));
        if (rc != TSS2_RC_SUCCESS) {
                r = log_fail(-EIO, "cannot prepare the TPM2 Create command: %s", rc_str(rc));
                goto out;
        }
        r = session_execute(t, &session, TPM2_CC_Create, &primary.name, &rc);
        if (r < 0)
                goto out;
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_Sys_Create_Complete(t->sys, &priv, &pub, &creation_data, &creation_hash, &creation_ticket);
        if (rc != TSS2_RC_SUCCESS) {
                r = log_fail(-EIO, "cannot seal the key in the TPM2: %s", rc_str(rc));
                goto out;
        }
        if (Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, blob, sizeof(blob), &off) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, blob, sizeof(blob), &off) != TSS2_RC_SUCCESS) {
                r = log_fail(-EIO, "cannot marshal the sealed TPM2 object");
                goto out;
        }
        ret->blob = malloc(off);
        if (!ret->blob) {
                r = log_oom();
                goto out;
        }
        memcpy(ret->blob, blob, off);
        ret->blob_size = off;
        ret->primary_alg = alg;
        log_debug("sealed under %s primary%s", alg == TPM2_ALG_ECC ? "ECC" : "RSA", primary.srk ? " (persistent SRK)" : "");
        r = 0;
out:
        tpm2_flush(t, &session.handle);
        tpm2_flush(t, &primary.handle);
        return r;
}

int tpm2_seal(const char *device, const struct tpm2_pcr_spec *pcrs, const struct tpm2_pubkey *pk,
              struct tpm2_sealed *ret, uint8_t secret[TPM2_SECRET_MAX], size_t *ret_secret_size) {
        _cleanup_(tpm2_done) struct tpm2 t = {};
        uint8_t values[TPM2_PCRS_MAX][64] = {}, concat[TPM2_PCRS_MAX * 64];
        struct tpm2_sealed s = {};
        struct tpm2_rsa_pub key;
        TPM2B_PUBLIC tmpl = {};
        uint32_t union_mask = pcrs->mask | (pk ? pk->pcr_mask : 0);
        const char *primary_env = getenv("LATCHKEY_TPM2_PRIMARY");
        bool rsa_only;
        size_t concat_size;
        uint16_t bank = 0;
        int r;

        /* What systemd does on a TPM without ECC, on demand. */
        if (primary_env && strcmp(primary_env, "rsa") != 0 && strcmp(primary_env, "ecc") != 0)
                return log_fail(-EINVAL, "invalid $LATCHKEY_TPM2_PRIMARY \"%s\": want ecc or rsa", primary_env);
        rsa_only = primary_env && strcmp(primary_env, "rsa") == 0;
        if (pk) {
                r = tpm2_rsa_pub_from_pem(pk->pem, pk->pem_size, &key);
                if (r < 0)
                        return r;
        }
        r = tpm2_open(device, &t);
        if (r < 0)
                return r;
        r = pcr_values_for_seal(&t, pcrs, union_mask, &bank, values);
        if (r < 0)
                return r;

        /* The policy digest, computed in software as systemd ≥ 254 does. */
        memset(s.policy_hash, 0, 32);
        if (pk) {
                r = tpm2_policy_authorize(s.policy_hash, key.name, sizeof(key.name));
                if (r < 0)
                        return r;
        }
        if (pcrs->mask) {
                values_concat(bank, pcrs->mask, values, concat, &concat_size);
                r = tpm2_policy_pcr(s.policy_hash, bank, pcrs->mask, concat, concat_size);
                if (r < 0)
                        return r;
        }
        s.policy_hash_size = 32;
        s.pcr_mask = pcrs->mask;
        s.pcr_bank = bank;

        tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
        tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
        /* Policy only (no userWithAuth), and noDA as systemd ≥ 256 for PIN-less objects. */
        tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA;
        tmpl.publicArea.authPolicy.size = 32;
        memcpy(tmpl.publicArea.authPolicy.buffer, s.policy_hash, 32);
        tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
        tmpl.publicArea.unique.keyedHash.size = 32;

        if (getrandom(secret, 32, 0) != 32)
                return log_fail(-EIO, "cannot get random bytes");
        r = -EPROTONOSUPPORT;
        if (!rsa_only)
                r = seal_with(&t, TPM2_ALG_ECC, &tmpl, secret, &s);
        if (r == -EPROTONOSUPPORT) {
                /* As systemd: no ECC primary on this TPM, so RSA 2048. */
                if (!rsa_only)
                        log_debug("ECC primary failed, falling back to RSA 2048");
                r = seal_with(&t, TPM2_ALG_RSA, &tmpl, secret, &s);
                if (r == -EPROTONOSUPPORT)
                        r = log_fail(-EIO, "cannot create a TPM2 primary key (neither ECC P-256 nor RSA 2048)");
        }
        if (r < 0) {
                explicit_bzero(secret, 32);
                return r;
        }
        *ret_secret_size = 32;
        *ret = s;
        return 0;
}

/* ---- signed policy: signature file ------------------------------------------------ */

static int signature_find(const char *path, uint16_t bank, uint32_t mask, const struct tpm2_rsa_pub *key,
                          const uint8_t approved[32], uint8_t **ret_sig, size_t *ret_sig_size) {
        static const char *const search[] = {
                "/etc/systemd/tpm2-pcr-signature.json", "/run/systemd/tpm2-pcr-signature.json",
                "/usr/local/lib/systemd/tpm2-pcr-signature.json", "/usr/lib/systemd/tpm2-pcr-signature.json",
        };
        _cleanup_secret_ struct secret *text = NULL;
        json_object *root = NULL, *arr;
        char *fp_hex = NULL, *pol_hex = NULL;
        int r = -ENOENT;

        if (!path) {
                for (size_t i = 0; i < ELEMENTSOF(search) && r == -ENOENT; i++)
                        if (access(search[i], F_OK) >= 0)
                                path = search[i];
                if (!path)
                        return log_fail(-ENOENT, "no TPM2 PCR signature file found (give one with --tpm2-signature=)");
        }
        r = read_file_capped(path, 1024 * 1024, &text);
        if (r < 0)
                return log_error_errno(r, "cannot read TPM2 PCR signature file %s", path);
        {
                char *s = strndup((const char *) text->data, text->size);

                if (!s)
                        return log_oom();
                root = json_tokener_parse(s);
                free(s);
        }
        if (!root || !json_object_is_type(root, json_type_object)) {
                if (root)
                        json_object_put(root);
                return log_fail(-EBADMSG, "TPM2 PCR signature file %s is not a JSON object", path);
        }
        fp_hex = malloc(65);
        pol_hex = malloc(65);
        if (!fp_hex || !pol_hex) {
                r = log_oom();
                goto out;
        }
        for (int i = 0; i < 32; i++) {
                sprintf(fp_hex + 2 * i, "%02x", key->fingerprint[i]);
                sprintf(pol_hex + 2 * i, "%02x", approved[i]);
        }
        log_debug("looking for a %s signature with pkfp %s and pol %s", tpm2_bank_name(bank), fp_hex, pol_hex);
        r = -ENXIO;
        if (!json_object_object_get_ex(root, tpm2_bank_name(bank), &arr) || !json_object_is_type(arr, json_type_array))
                arr = NULL;
        for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
                json_object *e = json_object_array_get_idx(arr, i), *pcrs, *fp, *pol, *sig;
                uint32_t m = 0;

                if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "pcrs", &pcrs) ||
                    !json_object_object_get_ex(e, "pkfp", &fp) || !json_object_object_get_ex(e, "pol", &pol) ||
                    !json_object_object_get_ex(e, "sig", &sig) || !json_object_is_type(pcrs, json_type_array))
                        continue;
                for (size_t j = 0; j < json_object_array_length(pcrs); j++) {
                        int v = json_object_get_int(json_object_array_get_idx(pcrs, j));

                        if (v >= 0 && v < (int) TPM2_PCRS_MAX)
                                m |= UINT32_C(1) << v;
                }
                if (m != mask || strcasecmp(json_object_get_string(fp) ?: "", fp_hex) != 0 ||
                    strcasecmp(json_object_get_string(pol) ?: "", pol_hex) != 0)
                        continue;
                const char *b64 = json_object_get_string(sig);

                if (!b64 || base64_decode(b64, strlen(b64), ret_sig, ret_sig_size) < 0) {
                        r = log_fail(-EBADMSG, "signature in %s is not valid Base64", path);
                        goto out;
                }
                r = 0;
                break;
        }
        if (r == -ENXIO)
                log_fail(r, "no signature in %s matches this public key, PCR selection and the current %s PCR values "
                         "(PCR policy mismatch)", path, tpm2_bank_name(bank));
out:
        free(fp_hex);
        free(pol_hex);
        json_object_put(root);
        return r;
}

/* PolicyPCR over the signed PCRs, check the signature in the TPM, PolicyAuthorize. */
static int policy_signed(struct tpm2 *t, TPM2_HANDLE session, uint16_t bank, const struct tpm2_pubkey *pk) {
        _cleanup_free_ uint8_t *sig = NULL;
        struct tpm2_rsa_pub key;
        TPM2B_PUBLIC pub;
        TPML_PCR_SELECTION sel;
        TPM2B_DIGEST approved = {}, digest = { .size = 32 };
        TPMT_SIGNATURE signature = {};
        TPMT_TK_VERIFIED ticket = {};
        TPM2B_NAME name = { .size = sizeof(key.name) }, loaded_name = {};
        static const TPM2B_DIGEST empty = {};
        static const TPM2B_NONCE empty_ref = {};
        TPM2_HANDLE h = HANDLE_NONE;
        size_t sig_size = 0;
        TSS2_RC rc;
        int r;

        r = tpm2_rsa_pub_from_pem(pk->pem, pk->pem_size, &key);
        if (r < 0)
                return r;
        pcr_selection(&sel, bank, pk->pcr_mask);
        rc = SYS_RETRY(Tss2_Sys_PolicyPCR(t->sys, session, NULL, &empty, &sel, NULL));
        if (rc == TSS2_RC_SUCCESS)
                rc = SYS_RETRY(Tss2_Sys_PolicyGetDigest(t->sys, session, NULL, &approved, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return log_fail(-EIO, "TPM2 signed PCR policy failed: %s", rc_str(rc));
        r = signature_find(pk->signature_path, bank, pk->pcr_mask, &key, approved.buffer, &sig, &sig_size);
        if (r < 0)
                return r;
        if (sig_size > sizeof(signature.signature.rsassa.sig.buffer))
                return log_fail(-EBADMSG, "PCR policy signature too long");

        rsa_tpm_public(&key, &pub);
        rc = SYS_RETRY(Tss2_Sys_LoadExternal(t->sys, NULL, NULL, &pub, TPM2_RH_OWNER, &h, &loaded_name, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return log_fail(-EIO, "cannot load the PCR signing key into the TPM2: %s", rc_str(rc));
        tpm2_track(t, h);
        r = tpm2_sha256(digest.buffer, (const struct iovec[]) { { approved.buffer, approved.size } }, 1);
        if (r < 0)
                goto out;
        signature.sigAlg = TPM2_ALG_RSASSA;
        signature.signature.rsassa.hash = TPM2_ALG_SHA256;
        signature.signature.rsassa.sig.size = (uint16_t) sig_size;
        memcpy(signature.signature.rsassa.sig.buffer, sig, sig_size);
        rc = SYS_RETRY(Tss2_Sys_VerifySignature(t->sys, h, NULL, &digest, &signature, &ticket, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                r = log_fail(-EPERM, "PCR policy signature does not verify: %s", rc_str(rc));
                goto out;
        }
        memcpy(name.name, key.name, sizeof(key.name));
        rc = SYS_RETRY(Tss2_Sys_PolicyAuthorize(t->sys, session, NULL, &approved, &empty_ref, &name, &ticket, NULL));
        if (rc != TSS2_RC_SUCCESS) {
                r = log_fail(-EIO, "TPM2 PolicyAuthorize failed: %s", rc_str(rc));
                goto out;
        }
        r = 0;
out:
        tpm2_flush(t, &h);
        return r;
}

/* ---- unseal ---------------------------------------------------------------------- */

/* Loads the sealed object under the SRK if that is the primary, else under a fresh
 * primary; *primary stays loaded to salt the session. */
static int unseal_load(struct tpm2 *t, uint16_t alg, const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub,
                       struct primary *primary, TPM2_HANDLE *ret_key, TPM2B_NAME *ret_name) {
        TSS2_RC rc;
        int r;

        for (int attempt = 0; attempt < 2; attempt++) {
                if (attempt > 0 || primary_from_srk(t, alg, primary) <= 0) {
                        r = primary_create(t, alg, primary);
                        if (r == -EPROTONOSUPPORT)
                                return log_fail(-EIO, "cannot create the TPM2 primary key (%s)", alg == TPM2_ALG_ECC ? "ECC P-256" : "RSA 2048");
                        if (r < 0)
                                return r;
                }
                rc = SYS_RETRY(Tss2_Sys_Load(t->sys, primary->handle, &password_auth, priv, pub, ret_key, ret_name, NULL));
                if (rc == TSS2_RC_SUCCESS) {
                        log_debug("loaded the sealed object under the %s primary%s", alg == TPM2_ALG_ECC ? "ECC" : "RSA",
                                  primary->srk ? " (persistent SRK)" : "");
                        tpm2_track(t, *ret_key);
                        return 0;
                }
                *ret_key = HANDLE_NONE;
                if (primary->srk) {
                        log_debug("sealed object does not load under the persistent SRK, deriving the primary");
                        continue;
                }
                tpm2_flush(t, &primary->handle);
                if (rc_base(rc) == TPM2_RC_INTEGRITY || rc_base(rc) == TPM2_RC_BINDING || rc_base(rc) == TPM2_RC_SIZE)
                        return log_fail(-EREMOTE, "credential was sealed by another TPM2 (or this TPM2 was cleared): %s", rc_str(rc));
                if (rc_base(rc) == TPM2_RC_LOCKOUT)
                        return log_fail(-ENOLCK, "TPM2 is in dictionary-attack lockout mode");
                return log_fail(-EIO, "cannot load the sealed TPM2 object: %s", rc_str(rc));
        }
        return log_fail(-EIO, "cannot load the sealed TPM2 object");
}

/* PCR values differ: say which PCRs the credential is bound to. */
static int pcr_mismatch(uint16_t bank, uint32_t mask) {
        char list[TPM2_PCRS_MAX * 3 + 1] = "";

        for (unsigned b = 0; b < TPM2_PCRS_MAX; b++)
                if (mask & (UINT32_C(1) << b))
                        sprintf(list + strlen(list), "%s%u", list[0] ? "+" : "", b);
        return log_fail(-EPERM, "PCR policy mismatch: %s PCRs %s differ from the state the credential was sealed for",
                        tpm2_bank_name(bank), list[0] ? list : "(none)");
}

int tpm2_unseal(const char *device, const struct tpm2_sealed *sealed, const struct tpm2_pubkey *pk,
                uint8_t secret[TPM2_SECRET_MAX], size_t *ret_secret_size) {
        _cleanup_(tpm2_done) struct tpm2 t = {};
        _cleanup_(session_wipe) struct session session = { .handle = HANDLE_NONE };
        TPM2B_PRIVATE priv = {};
        TPM2B_PUBLIC pub = {};
        TPM2B_NAME key_name = {};
        struct primary primary;
        TPM2_HANDLE key = HANDLE_NONE;
        static const TPM2B_DIGEST empty = {};
        uint16_t bank = sealed->pcr_bank;
        size_t off = 0;
        TSS2_RC rc;
        int r;

        r = tpm2_dlopen();
        if (r < 0)
                return r;

        if (sealed->primary_alg != TPM2_PRIMARY_ECC && sealed->primary_alg != TPM2_PRIMARY_RSA)
                return log_fail(-EOPNOTSUPP, "credential uses unsupported TPM2 primary key algorithm 0x%04x", sealed->primary_alg);
        if (sealed->pcr_mask == 0 && !pk)
                bank = TPM2_BANK_SHA256; /* 252 wrote 0xffff, 254 wrote 0 for "no PCRs" */
        else if (!bank_size(bank))
                return log_fail(-EOPNOTSUPP, "credential uses unsupported TPM2 PCR bank 0x%04x", bank);
        if (sealed->policy_hash_size != 32)
                return log_fail(-EOPNOTSUPP, "credential has a TPM2 policy hash of %zu bytes, expected 32", sealed->policy_hash_size);
        if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(sealed->blob, sealed->blob_size, &off, &priv) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_PUBLIC_Unmarshal(sealed->blob, sealed->blob_size, &off, &pub) != TSS2_RC_SUCCESS)
                return log_fail(-EBADMSG, "credential's sealed TPM2 object is malformed");
        if (off != sealed->blob_size)
                return log_fail(-EOPNOTSUPP, "credential's sealed TPM2 object has %zu unexpected trailing bytes", sealed->blob_size - off);

        r = tpm2_open(device, &t);
        if (r < 0)
                return r;
        r = unseal_load(&t, sealed->primary_alg, &priv, &pub, &primary, &key, &key_name);
        if (r < 0)
                return r;
        /* One policy session, salted by the primary: it authorises Unseal and
         * encrypts the response, so the secret never crosses the bus in clear. */
        r = session_start(&t, &primary, TPM2_SE_POLICY, TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, &session);
        tpm2_flush(&t, &primary.handle); /* frees a slot; the session keeps its salt */
        if (r < 0)
                return r;

        for (int attempt = 0;; attempt++) {
                TPM2B_DIGEST digest = {};
                TPM2B_SENSITIVE_DATA out = {};

                if (pk) {
                        r = policy_signed(&t, session.handle, bank, pk);
                        if (r < 0)
                                return r;
                }
                if (sealed->pcr_mask) {
                        TPML_PCR_SELECTION sel;

                        pcr_selection(&sel, bank, sealed->pcr_mask);
                        rc = SYS_RETRY(Tss2_Sys_PolicyPCR(t.sys, session.handle, NULL, &empty, &sel, NULL));
                        if (rc != TSS2_RC_SUCCESS)
                                return log_fail(-EIO, "TPM2 PolicyPCR failed: %s", rc_str(rc));
                }
                rc = SYS_RETRY(Tss2_Sys_PolicyGetDigest(t.sys, session.handle, NULL, &digest, NULL));
                if (rc != TSS2_RC_SUCCESS)
                        return log_fail(-EIO, "cannot read the TPM2 policy digest: %s", rc_str(rc));
                if (digest.size != 32 || memcmp(digest.buffer, sealed->policy_hash, 32) != 0)
                        return pcr_mismatch(bank, sealed->pcr_mask | (pk ? pk->pcr_mask : 0));
                rc = Tss2_Sys_Unseal_Prepare(t.sys, key);
                if (rc != TSS2_RC_SUCCESS)
                        return log_fail(-EIO, "cannot prepare the TPM2 Unseal command: %s", rc_str(rc));
                r = session_execute(&t, &session, TPM2_CC_Unseal, &key_name, &rc);
                if (r < 0)
                        return r;
                if (rc == TSS2_RC_SUCCESS) {
                        rc = Tss2_Sys_Unseal_Complete(t.sys, &out);
                        if (rc != TSS2_RC_SUCCESS || out.size == 0 || out.size > TPM2_SECRET_MAX) {
                                explicit_bzero(&out, sizeof(out));
                                return log_fail(-EBADMSG, "TPM2 unsealed a secret of unexpected size");
                        }
                        memcpy(secret, out.buffer, out.size);
                        *ret_secret_size = out.size;
                        explicit_bzero(&out, sizeof(out));
                        return 0;
                }
                if (rc_base(rc) == TPM2_RC_PCR_CHANGED && attempt < 30) {
                        rc = SYS_RETRY(Tss2_Sys_PolicyRestart(t.sys, session.handle, NULL, NULL));
                        if (rc != TSS2_RC_SUCCESS)
                                return log_fail(-EIO, "cannot restart the TPM2 policy session: %s", rc_str(rc));
                        continue;
                }
                if (rc_base(rc) == TPM2_RC_POLICY_FAIL)
                        return log_fail(-EPERM, "PCR policy mismatch: TPM2 refused to unseal (%s)", rc_str(rc));
                if (rc_base(rc) == TPM2_RC_LOCKOUT)
                        return log_fail(-ENOLCK, "TPM2 is in dictionary-attack lockout mode");
                return log_fail(-EIO, "cannot unseal the credential key: %s", rc_str(rc));
        }
}
