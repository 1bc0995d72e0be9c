/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "secret.h"
#include "userrecord.h"

#define UID_INVALID ((uid_t) -1)
#define USER_NAME_MAX 31

/* The record plus owned storage for defaults computed from other fields, so that
 * the public string pointers can point either into json or in here. */
struct user_record_private {
        struct user_record pub;
        char *default_home;
        char *default_image;
};

static const char *const storage_names[_HOME_STORAGE_MAX] = {
        [HOME_STORAGE_DIRECTORY] = "directory",
        [HOME_STORAGE_FSCRYPT] = "fscrypt",
        [HOME_STORAGE_LUKS] = "luks",
};

/* homed knows these too; we recognise them only to say "unsupported" instead of "invalid". */
static const char *const storage_unsupported[] = { "classic", "subvolume", "cifs" };

const char *home_storage_to_string(enum home_storage s) {
        if (s < 0 || s >= _HOME_STORAGE_MAX)
                return NULL;
        return storage_names[s];
}

enum home_storage home_storage_from_string(const char *s) {
        if (!s)
                return HOME_STORAGE_INVALID;
        for (int i = 0; i < _HOME_STORAGE_MAX; i++)
                if (strcmp(s, storage_names[i]) == 0)
                        return (enum home_storage) i;
        return HOME_STORAGE_INVALID;
}

bool user_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > USER_NAME_MAX)
                return false;
        if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = name[i];

                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                        return false;
        }
        return strcmp(name, "root") != 0 && strcmp(name, "nobody") != 0;
}

/* --- machine identity ------------------------------------------------------------- */

static char machine_id[33]; /* lower-case hex, or "" when /etc/machine-id is unusable */
static pthread_once_t machine_id_once = PTHREAD_ONCE_INIT;

/* 32 hex digits (UUID dashes allowed) into lower case; false if it is not an ID. */
static bool id128_normalize(const char *s, char ret[static 33]) {
        size_t n = 0;

        for (; *s; s++) {
                if (*s == '-')
                        continue;
                if (!isxdigit((unsigned char) *s) || n >= 32)
                        return false;
                ret[n++] = (char) tolower((unsigned char) *s);
        }
        ret[n] = '\0';
        return n == 32;
}

static void machine_id_read(void) {
        _cleanup_close_ int fd = -1;
        char buf[40];
        ssize_t n;

        /* No machine-id just means binding and matchMachineId do not apply here. */
        fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 32)
                return;
        buf[n] = '\0';
        if (buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        if (strlen(buf) != 32 || !id128_normalize(buf, machine_id))
                machine_id[0] = '\0';
}

static const char *machine_id_get_cached(void) {
        (void) pthread_once(&machine_id_once, machine_id_read);
        return machine_id[0] ? machine_id : NULL;
}

/* --- field checks --------------------------------------------------------------- */

enum field_type {
        F_STRING,
        F_PATH,    /* absolute path */
        F_BOOL,
        F_UINT64,  /* µs, bytes, counts */
        F_ID,      /* uid / gid */
        F_MODE,    /* accessMode, umask */
        F_STORAGE,
        F_STRINGS, /* array of strings */
};

struct field {
        const char *name;
        enum field_type type;
        const char *error;
};

#define FIELD(n, t, why) { n, t, n ": " why }
#define STRING(n) FIELD(n, F_STRING, "not a string")
#define PATH(n) FIELD(n, F_PATH, "not an absolute path")
#define BOOL(n) FIELD(n, F_BOOL, "not a boolean")
#define UINT64(n) FIELD(n, F_UINT64, "not an unsigned 64-bit integer")
#define STRINGS(n) FIELD(n, F_STRINGS, "not an array of strings")

/* Fields valid at top level, in perMachine entries and in binding entries. */
static const struct field fields[] = {
        STRING("realName"),
        PATH("homeDirectory"),
        PATH("imagePath"),
        STRING("shell"),
        FIELD("storage", F_STORAGE, "not a string"),
        FIELD("uid", F_ID, "not a valid UID"),
        FIELD("gid", F_ID, "not a valid GID"),
        FIELD("accessMode", F_MODE, "not a valid access mode"),
        FIELD("umask", F_MODE, "not a valid umask"),
        BOOL("locked"),
        BOOL("mountNoSuid"),
        BOOL("mountNoDevices"),
        BOOL("mountNoExecute"),
        BOOL("passwordChangeNow"),
        BOOL("enforcePasswordPolicy"),
        BOOL("luksDiscard"),
        BOOL("luksOfflineDiscard"),
        BOOL("dropCaches"),
        BOOL("killProcesses"),
        UINT64("lastChangeUSec"),
        UINT64("lastPasswordChangeUSec"),
        UINT64("notBeforeUSec"),
        UINT64("notAfterUSec"),
        UINT64("passwordChangeMinUSec"),
        UINT64("passwordChangeMaxUSec"),
        UINT64("passwordChangeWarnUSec"),
        UINT64("passwordChangeInactiveUSec"),
        UINT64("rateLimitIntervalUSec"),
        UINT64("rateLimitBurst"),
        UINT64("stopDelayUSec"),
        UINT64("diskSize"),
        UINT64("diskSizeRelative"),
        UINT64("luksVolumeKeySize"),
        UINT64("luksPbkdfTimeCostUSec"),
        UINT64("luksPbkdfMemoryCost"),
        UINT64("luksPbkdfParallelThreads"),
        UINT64("luksPbkdfForceIterations"),
        UINT64("luksSectorSize"),
        STRING("disposition"),
        STRING("service"),
        STRING("skeletonDirectory"),
        STRING("fileSystemType"),
        STRING("luksCipher"),
        STRING("luksCipherMode"),
        STRING("luksPbkdfType"),
        STRING("luksPbkdfHashAlgorithm"),
        STRING("luksExtraMountOptions"),
        STRING("partitionUuid"),
        STRING("luksUuid"),
        STRING("fileSystemUuid"),
        STRING("emailAddress"),
        STRING("location"),
        STRING("iconName"),
        STRING("timeZone"),
        STRING("preferredLanguage"),
        STRINGS("memberOf"),
        STRINGS("environment"),
};

static bool json_is_uint64(json_object *o, uint64_t *ret) {
        if (!json_object_is_type(o, json_type_int))
                return false;
        /* json-c keeps negative values as int64; get_int64 clamps large unsigned ones to INT64_MAX. */
        if (json_object_get_int64(o) < 0)
                return false;
        if (ret)
                *ret = json_object_get_uint64(o);
        return true;
}

/* A string without embedded NUL ("\u0000" decodes to one). */
static bool json_is_cstring(json_object *o) {
        const char *s;

        if (!json_object_is_type(o, json_type_string))
                return false;
        s = json_object_get_string(o);
        return strlen(s) == (size_t) json_object_get_string_len(o);
}

static bool json_is_strings(json_object *o) {
        size_t n;

        if (!json_object_is_type(o, json_type_array))
                return false;
        n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
                if (!json_is_cstring(json_object_array_get_idx(o, i)))
                        return false;
        return true;
}

static bool id_is_valid(uint64_t v) {
        /* 0 is root, 65534 nobody, 65535 and 2³²-1 are the 16- and 32-bit "invalid" IDs. */
        return v > 0 && v < UINT32_MAX && v != 65534 && v != 65535;
}

static bool storage_name_known(const char *s) {
        if (home_storage_from_string(s) != HOME_STORAGE_INVALID)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(storage_unsupported); i++)
                if (strcmp(s, storage_unsupported[i]) == 0)
                        return true;
        return false;
}

static int check_field(const struct field *f, json_object *v, const char **ret_error) {
        uint64_t u;
        bool ok;

        switch (f->type) {
        case F_STRING:
                ok = json_is_cstring(v);
                break;
        case F_PATH:
                ok = json_is_cstring(v) && json_object_get_string(v)[0] == '/';
                break;
        case F_BOOL:
                ok = json_object_is_type(v, json_type_boolean);
                break;
        case F_UINT64:
                ok = json_is_uint64(v, NULL);
                break;
        case F_ID:
                ok = json_is_uint64(v, &u) && id_is_valid(u);
                break;
        case F_MODE:
                ok = json_is_uint64(v, &u) && u <= 07777;
                break;
        case F_STORAGE:
                if (!json_is_cstring(v))
                        ok = false;
                else if (!storage_name_known(json_object_get_string(v))) {
                        *ret_error = "storage: unknown storage type";
                        return -EBADMSG;
                } else
                        ok = true;
                break;
        case F_STRINGS:
                ok = json_is_strings(v);
                break;
        default:
                ok = false;
        }
        if (!ok) {
                *ret_error = f->error;
                return -EBADMSG;
        }
        return 0;
}

/* Checks the known fields of one section (top level, perMachine entry, binding entry). */
static int check_section(json_object *o, const char **ret_error) {
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                json_object *v;
                int r;

                if (!json_object_object_get_ex(o, fields[i].name, &v))
                        continue;
                r = check_field(&fields[i], v, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool json_is_string_or_strings(json_object *o) {
        return json_is_cstring(o) || json_is_strings(o);
}

static int check_record(json_object *root, const char **ret_error) {
        json_object *v, *pm, *b;

        if (!json_object_is_type(root, json_type_object)) {
                *ret_error = "record is not a JSON object";
                return -EBADMSG;
        }
        if (!json_object_object_get_ex(root, "userName", &v)) {
                *ret_error = "userName: missing";
                return -EBADMSG;
        }
        if (!json_is_cstring(v) || !user_name_is_valid(json_object_get_string(v))) {
                *ret_error = "userName: not a valid user name";
                return -EBADMSG;
        }
        if (json_object_object_get_ex(root, "realm", &v) && !json_is_cstring(v)) {
                *ret_error = "realm: not a string";
                return -EBADMSG;
        }
        if (check_section(root, ret_error) < 0)
                return -EBADMSG;

        if (json_object_object_get_ex(root, "privileged", &v)) {
                json_object *h;

                if (!json_object_is_type(v, json_type_object)) {
                        *ret_error = "privileged: not an object";
                        return -EBADMSG;
                }
                if (json_object_object_get_ex(v, "hashedPassword", &h) && !json_is_strings(h)) {
                        *ret_error = "privileged.hashedPassword: not an array of strings";
                        return -EBADMSG;
                }
        }
        if (json_object_object_get_ex(root, "secret", &v)) {
                json_object *p;

                if (!json_object_is_type(v, json_type_object)) {
                        *ret_error = "secret: not an object";
                        return -EBADMSG;
                }
                if (json_object_object_get_ex(v, "password", &p) && !json_is_strings(p)) {
                        *ret_error = "secret.password: not an array of strings";
                        return -EBADMSG;
                }
        }
        if (json_object_object_get_ex(root, "status", &v) && !json_object_is_type(v, json_type_object)) {
                *ret_error = "status: not an object";
                return -EBADMSG;
        }
        if (json_object_object_get_ex(root, "signature", &v)) {
                size_t n;

                if (!json_object_is_type(v, json_type_array)) {
                        *ret_error = "signature: not an array";
                        return -EBADMSG;
                }
                n = json_object_array_length(v);
                for (size_t i = 0; i < n; i++)
                        if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_object)) {
                                *ret_error = "signature: entry is not an object";
                                return -EBADMSG;
                        }
        }

        if (json_object_object_get_ex(root, "perMachine", &pm)) {
                size_t n;

                if (!json_object_is_type(pm, json_type_array)) {
                        *ret_error = "perMachine: not an array";
                        return -EBADMSG;
                }
                n = json_object_array_length(pm);
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(pm, i), *m;

                        if (!json_object_is_type(e, json_type_object)) {
                                *ret_error = "perMachine: entry is not an object";
                                return -EBADMSG;
                        }
                        if (json_object_object_get_ex(e, "matchMachineId", &m) && !json_is_string_or_strings(m)) {
                                *ret_error = "perMachine.matchMachineId: not a string or array of strings";
                                return -EBADMSG;
                        }
                        if (json_object_object_get_ex(e, "matchHostname", &m) && !json_is_string_or_strings(m)) {
                                *ret_error = "perMachine.matchHostname: not a string or array of strings";
                                return -EBADMSG;
                        }
                        if (check_section(e, ret_error) < 0)
                                return -EBADMSG;
                }
        }

        if (json_object_object_get_ex(root, "binding", &b)) {
                if (!json_object_is_type(b, json_type_object)) {
                        *ret_error = "binding: not an object";
                        return -EBADMSG;
                }
                json_object_object_foreach(b, key, e) {
                        (void) key;
                        if (!json_object_is_type(e, json_type_object)) {
                                *ret_error = "binding: entry is not an object";
                                return -EBADMSG;
                        }
                        if (check_section(e, ret_error) < 0)
                                return -EBADMSG;
                }
        }
        return 0;
}

/* --- effective fields ------------------------------------------------------------ */

static bool match_one(json_object *m, const char *want, bool is_id) {
        char norm[33];
        const char *s = json_object_get_string(m);

        if (!want || !json_is_cstring(m))
                return false;
        if (is_id)
                return id128_normalize(s, norm) && strcmp(norm, want) == 0;
        return strcmp(s, want) == 0;
}

static bool match_any(json_object *m, const char *want, bool is_id) {
        if (json_object_is_type(m, json_type_array)) {
                size_t n = json_object_array_length(m);

                for (size_t i = 0; i < n; i++)
                        if (match_one(json_object_array_get_idx(m, i), want, is_id))
                                return true;
                return false;
        }
        return match_one(m, want, is_id);
}

static bool per_machine_matches(json_object *e, const char *mid, const char *hostname) {
        json_object *m;

        if (json_object_object_get_ex(e, "matchMachineId", &m) && match_any(m, mid, true))
                return true;
        if (json_object_object_get_ex(e, "matchHostname", &m) && match_any(m, hostname, false))
                return true;
        return false;
}

struct lookup {
        json_object *root;
        json_object *per_machine[64]; /* matching entries, array order */
        size_t n_per_machine;
        json_object *binding;
};

static void lookup_init(struct lookup *l, json_object *root) {
        const char *mid = machine_id_get_cached();
        char hostname[HOST_NAME_MAX + 1] = "";
        json_object *pm, *b;

        *l = (struct lookup) { .root = root };
        if (gethostname(hostname, sizeof(hostname)) < 0)
                hostname[0] = '\0';
        hostname[sizeof(hostname) - 1] = '\0';

        if (json_object_object_get_ex(root, "perMachine", &pm)) {
                size_t n = json_object_array_length(pm);

                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(pm, i);

                        if (!per_machine_matches(e, mid, hostname[0] ? hostname : NULL))
                                continue;
                        /* Keep the last 64 matches: later entries win anyway. */
                        if (l->n_per_machine == ELEMENTSOF(l->per_machine)) {
                                memmove(l->per_machine, l->per_machine + 1,
                                        sizeof(l->per_machine) - sizeof(l->per_machine[0]));
                                l->n_per_machine--;
                        }
                        l->per_machine[l->n_per_machine++] = e;
                }
        }
        if (mid && json_object_object_get_ex(root, "binding", &b))
                (void) json_object_object_get_ex(b, mid, &l->binding);
}

/* binding over the last matching perMachine entry over the top level. */
static json_object *lookup_get(const struct lookup *l, const char *key) {
        json_object *v = NULL;

        if (l->binding && json_object_object_get_ex(l->binding, key, &v))
                return v;
        for (size_t i = l->n_per_machine; i > 0; i--)
                if (json_object_object_get_ex(l->per_machine[i - 1], key, &v))
                        return v;
        if (json_object_object_get_ex(l->root, key, &v))
                return v;
        return NULL;
}

static const char *get_string(const struct lookup *l, const char *key, const char *def) {
        json_object *v = lookup_get(l, key);

        return v ? json_object_get_string(v) : def;
}

static bool get_bool(const struct lookup *l, const char *key, bool def) {
        json_object *v = lookup_get(l, key);

        return v ? json_object_get_boolean(v) : def;
}

static uint64_t get_uint64(const struct lookup *l, const char *key, uint64_t def) {
        json_object *v = lookup_get(l, key);
        uint64_t u;

        return v && json_is_uint64(v, &u) ? u : def;
}

static int load_fields(struct user_record_private *p, const char **ret_error) {
        struct user_record *ur = &p->pub;
        const char *error = NULL, *s;
        struct lookup l;
        int r;

        r = check_record(ur->json, &error);
        if (r < 0)
                goto fail;
        lookup_init(&l, ur->json);

        s = get_string(&l, "storage", "directory");
        ur->storage = home_storage_from_string(s);
        if (ur->storage == HOME_STORAGE_INVALID) {
                error = "storage: unsupported storage";
                r = -EBADMSG;
                goto fail;
        }

        ur->user_name = json_object_get_string(json_object_object_get(ur->json, "userName"));
        ur->realm = json_object_object_get(ur->json, "realm")
                ? json_object_get_string(json_object_object_get(ur->json, "realm")) : NULL;
        ur->real_name = get_string(&l, "realName", ur->user_name);
        ur->shell = get_string(&l, "shell", "/bin/bash");

        free(p->default_home);
        free(p->default_image);
        p->default_home = p->default_image = NULL;
        if (asprintf(&p->default_home, "/home/%s", ur->user_name) < 0 ||
            asprintf(&p->default_image, "/home/%s.%s", ur->user_name,
                     ur->storage == HOME_STORAGE_LUKS ? "home" : "homedir") < 0) {
                p->default_home = p->default_image = NULL;
                error = "out of memory";
                r = -ENOMEM;
                goto fail;
        }
        ur->home_directory = get_string(&l, "homeDirectory", p->default_home);
        ur->image_path = get_string(&l, "imagePath", p->default_image);

        ur->uid = (uid_t) get_uint64(&l, "uid", UID_INVALID);
        ur->gid = (gid_t) get_uint64(&l, "gid", ur->uid);
        ur->locked = get_bool(&l, "locked", false);
        ur->mount_nosuid = get_bool(&l, "mountNoSuid", true);
        ur->mount_nodev = get_bool(&l, "mountNoDevices", true);
        ur->mount_noexec = get_bool(&l, "mountNoExecute", false);
        ur->access_mode = (unsigned) get_uint64(&l, "accessMode", 0700);
        ur->last_change_usec = get_uint64(&l, "lastChangeUSec", 0);
        ur->last_password_change_usec = get_uint64(&l, "lastPasswordChangeUSec", 0);
        ur->not_before_usec = get_uint64(&l, "notBeforeUSec", 0);
        ur->not_after_usec = get_uint64(&l, "notAfterUSec", UINT64_MAX);
        ur->password_change_min_usec = get_uint64(&l, "passwordChangeMinUSec", UINT64_MAX);
        ur->password_change_max_usec = get_uint64(&l, "passwordChangeMaxUSec", UINT64_MAX);
        ur->password_change_warn_usec = get_uint64(&l, "passwordChangeWarnUSec", UINT64_MAX);
        ur->password_change_inactive_usec = get_uint64(&l, "passwordChangeInactiveUSec", UINT64_MAX);
        ur->password_change_now = get_bool(&l, "passwordChangeNow", false);
        return 0;

fail:
        if (ret_error)
                *ret_error = error;
        return r;
}

int user_record_load_fields(struct user_record *ur) {
        return load_fields((struct user_record_private *) ur, NULL);
}

void user_record_free(struct user_record *ur) {
        struct user_record_private *p = (struct user_record_private *) ur;

        if (!p)
                return;
        json_object_put(p->pub.json);
        free(p->default_home);
        free(p->default_image);
        free(p);
}

static int record_from_json(json_object *root /* consumed */, struct user_record **ret, const char **ret_error) {
        struct user_record_private *p = calloc(1, sizeof(*p));
        int r;

        if (!p) {
                json_object_put(root);
                if (ret_error)
                        *ret_error = "out of memory";
                return -ENOMEM;
        }
        p->pub.json = root;
        r = load_fields(p, ret_error);
        if (r < 0) {
                user_record_free(&p->pub);
                return r;
        }
        *ret = &p->pub;
        return 0;
}

int user_record_parse(const char *text, size_t size, struct user_record **ret, const char **ret_error) {
        struct json_tokener *tok;
        json_object *root;
        const char *dummy;
        size_t end;

        if (!ret_error)
                ret_error = &dummy;
        if (size > USER_RECORD_MAX) {
                *ret_error = "record too large";
                return -EBADMSG;
        }
        /* json-c would stop at a NUL byte and ignore what follows. */
        if (memchr(text, '\0', size)) {
                *ret_error = "record contains a NUL byte";
                return -EBADMSG;
        }
        tok = json_tokener_new();
        if (!tok) {
                *ret_error = "out of memory";
                return -ENOMEM;
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                            JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, text, (int) size);
        if (!root || json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(root);
                json_tokener_free(tok);
                *ret_error = "not valid JSON";
                return -EBADMSG;
        }
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        for (; end < size; end++)
                if (!strchr(" \t\r\n", text[end])) {
                        json_object_put(root);
                        *ret_error = "trailing data after the JSON object";
                        return -EBADMSG;
                }
        return record_from_json(root, ret, ret_error);
}

int user_record_load(const char *path, struct user_record **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        const char *error = NULL;
        int r;

        r = read_file_capped(path, USER_RECORD_MAX, &s);
        if (r == -E2BIG)
                return log_fail(r, "%s: user record larger than %d bytes, refusing", path, USER_RECORD_MAX);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read user record", path);
        r = user_record_parse((const char *) s->data, s->size, ret, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_fail(r, "%s: %s", path, error ?: "bad user record");
        return 0;
}

static int add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

int user_record_new(const char *user_name, uid_t uid, enum home_storage storage, uint64_t now_usec,
                    struct user_record **ret) {
        _cleanup_free_ char *home = NULL, *image = NULL;
        json_object *o;
        int r = 0;

        if (!user_name_is_valid(user_name) || !id_is_valid(uid) || !home_storage_to_string(storage))
                return -EINVAL;
        if (asprintf(&home, "/home/%s", user_name) < 0) {
                home = NULL;
                return -ENOMEM;
        }
        if (asprintf(&image, "/home/%s.%s", user_name, storage == HOME_STORAGE_LUKS ? "home" : "homedir") < 0) {
                image = NULL;
                return -ENOMEM;
        }
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        if (r >= 0)
                r = add(o, "userName", json_object_new_string(user_name));
        if (r >= 0)
                r = add(o, "uid", json_object_new_int64(uid));
        if (r >= 0)
                r = add(o, "gid", json_object_new_int64(uid));
        if (r >= 0)
                r = add(o, "realName", json_object_new_string(user_name));
        if (r >= 0)
                r = add(o, "homeDirectory", json_object_new_string(home));
        if (r >= 0)
                r = add(o, "imagePath", json_object_new_string(image));
        if (r >= 0)
                r = add(o, "storage", json_object_new_string(home_storage_to_string(storage)));
        if (r >= 0)
                r = add(o, "disposition", json_object_new_string("regular"));
        if (r >= 0)
                r = add(o, "lastChangeUSec", json_object_new_uint64(now_usec));
        if (r >= 0)
                r = add(o, "lastPasswordChangeUSec", json_object_new_uint64(now_usec));
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        return record_from_json(o, ret, NULL);
}

int user_record_set(struct user_record *ur, const char *key, json_object *value) {
        json_object *old = NULL;
        int r;

        if (!value)
                return -EINVAL;
        /* Keep the old value so that a rejected one leaves the record as it was. */
        if (json_object_object_get_ex(ur->json, key, &old))
                json_object_get(old);
        if (json_object_object_add(ur->json, key, value) < 0) {
                json_object_put(value);
                json_object_put(old);
                return -ENOMEM;
        }
        r = user_record_load_fields(ur);
        if (r < 0) {
                if (old)
                        (void) json_object_object_add(ur->json, key, old);
                else
                        json_object_object_del(ur->json, key);
                (void) user_record_load_fields(ur);
                return r;
        }
        json_object_put(old);
        return 0;
}

json_object *user_record_hashed_passwords(const struct user_record *ur) {
        json_object *p, *h;

        if (!json_object_object_get_ex(ur->json, "privileged", &p) ||
            !json_object_object_get_ex(p, "hashedPassword", &h) || !json_object_is_type(h, json_type_array))
                return NULL;
        return h;
}

/* --- text forms ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A copy with the keys of every object in byte order (json-c keeps insertion order);
 * scalars are shared, not copied. Keys in skip (NULL-terminated) are left out at this level. */
static json_object *sorted_copy(json_object *o, const char *const *skip) {
        switch (json_object_get_type(o)) {
        case json_type_object: {
                size_t n = (size_t) json_object_object_length(o), k = 0;
                _cleanup_free_ const char **keys = NULL;
                json_object *copy;

                keys = malloc((n ?: 1) * sizeof(*keys));
                copy = json_object_new_object();
                if (!keys || !copy) {
                        json_object_put(copy);
                        return NULL;
                }
                json_object_object_foreach(o, key, v) {
                        bool skipped = false;

                        (void) v;
                        for (const char *const *s = skip; s && *s; s++)
                                if (strcmp(key, *s) == 0)
                                        skipped = true;
                        if (!skipped)
                                keys[k++] = key;
                }
                qsort(keys, k, sizeof(*keys), cmp_str);
                for (size_t i = 0; i < k; i++) {
                        json_object *c = sorted_copy(json_object_object_get(o, keys[i]), NULL);

                        if (!c && json_object_object_get(o, keys[i])) {
                                json_object_put(copy);
                                return NULL;
                        }
                        if (json_object_object_add_ex(copy, keys[i], c, JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0) {
                                json_object_put(c);
                                json_object_put(copy);
                                return NULL;
                        }
                }
                return copy;
        }
        case json_type_array: {
                size_t n = json_object_array_length(o);
                json_object *copy = json_object_new_array_ext((int) (n ?: 1));

                if (!copy)
                        return NULL;
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(o, i), *c = sorted_copy(e, NULL);

                        if ((!c && e) || json_object_array_add(copy, c) < 0) {
                                json_object_put(c);
                                json_object_put(copy);
                                return NULL;
                        }
                }
                return copy;
        }
        case json_type_null:
                return NULL;
        default:
                return json_object_get(o);
        }
}

static int to_text(const struct user_record *ur, const char *const *skip, int flags, bool newline, char **ret,
                   size_t *ret_size) {
        json_object *copy;
        const char *s;
        size_t len;
        char *buf;

        copy = sorted_copy(ur->json, skip);
        if (!copy)
                return -ENOMEM;
        s = json_object_to_json_string_length(copy, flags, &len);
        if (!s) {
                json_object_put(copy);
                return -ENOMEM;
        }
        buf = malloc(len + 2);
        if (!buf) {
                json_object_put(copy);
                return -ENOMEM;
        }
        memcpy(buf, s, len);
        if (newline)
                buf[len++] = '\n';
        buf[len] = '\0';
        json_object_put(copy);
        *ret = buf;
        if (ret_size)
                *ret_size = len;
        return 0;
}

int user_record_canonical(const struct user_record *ur, char **ret, size_t *ret_size) {
        static const char *const skip[] = { "secret", "binding", "status", "signature", NULL };

        return to_text(ur, skip, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, false, ret, ret_size);
}

int user_record_format(const struct user_record *ur, char **ret, size_t *ret_size) {
        return to_text(ur, NULL, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB | JSON_C_TO_STRING_NOSLASHESCAPE,
                       true, ret, ret_size);
}

int user_record_format_public(const struct user_record *ur, char **ret, size_t *ret_size) {
        static const char *const skip[] = { "privileged", "secret", "signature", NULL };

        return to_text(ur, skip, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB | JSON_C_TO_STRING_NOSLASHESCAPE,
                       true, ret, ret_size);
}

/* --- decisions --------------------------------------------------------------------- */

static bool str_eq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int user_record_pick_newer(const struct user_record *a, const struct user_record *b) {
        if (!str_eq_null(a->user_name, b->user_name) || !str_eq_null(a->realm, b->realm))
                return -EINVAL;
        if (a->last_change_usec == 0)
                return b->last_change_usec == 0 ? 0 : 1;
        if (b->last_change_usec == 0)
                return 0;
        return b->last_change_usec > a->last_change_usec ? 1 : 0;
}

enum user_record_blocked user_record_check_blocked(const struct user_record *ur, uint64_t now_usec) {
        if (ur->locked)
                return USER_RECORD_LOCKED;
        if (ur->not_before_usec != 0 && now_usec < ur->not_before_usec)
                return USER_RECORD_NOT_YET_VALID;
        if (ur->not_after_usec != UINT64_MAX && now_usec > ur->not_after_usec)
                return USER_RECORD_NO_LONGER_VALID;
        /* A lastChangeUSec in the future means a wrong clock here: allowed, as newer homed does. */
        return USER_RECORD_OK;
}

const char *user_record_blocked_message(enum user_record_blocked b) {
        switch (b) {
        case USER_RECORD_LOCKED:
                return "User record is blocked, prohibiting access.";
        case USER_RECORD_NOT_YET_VALID:
                return "User record is not valid yet, prohibiting access.";
        case USER_RECORD_NO_LONGER_VALID:
                return "User record is not valid anymore, prohibiting access.";
        default:
                return NULL;
        }
}

/* a + b, or UINT64_MAX when that does not fit. */
static uint64_t usec_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

enum user_record_aging user_record_check_password_aging(const struct user_record *ur, uint64_t now_usec) {
        uint64_t last = ur->last_password_change_usec, min = ur->password_change_min_usec,
                 max = ur->password_change_max_usec, warn = ur->password_change_warn_usec,
                 inactive = ur->password_change_inactive_usec, change_before;
        bool may_change;

        if (ur->password_change_now)
                return PASSWORD_CHANGE_REQUIRED;
        if ((min != UINT64_MAX || max != UINT64_MAX) && last == 0)
                return PASSWORD_RECORD_INVALID;
        /* A last change in the future means a wrong clock: warn (caller's business), never block. */
        if (last > now_usec && (min != UINT64_MAX || max != UINT64_MAX || inactive != UINT64_MAX))
                return PASSWORD_OK;

        may_change = min == UINT64_MAX || now_usec >= usec_add(last, min);
        /* A saturated sum lies beyond any clock: unreachable, so "not expired". */
        if (max == UINT64_MAX || usec_add(last, max) == UINT64_MAX)
                return PASSWORD_OK;
        change_before = last + max;

        if (inactive != UINT64_MAX) {
                uint64_t dead = usec_add(change_before, inactive);

                if (dead != UINT64_MAX && now_usec >= dead)
                        return PASSWORD_EXPIRED_LOCKED;
        }
        if (now_usec >= change_before)
                return may_change ? PASSWORD_EXPIRED_CHANGE : PASSWORD_EXPIRED_LOCKED;
        if (warn != UINT64_MAX && (warn >= change_before || now_usec >= change_before - warn))
                return may_change ? PASSWORD_WARN_SOON : PASSWORD_OK;
        return PASSWORD_OK;
}

const char *user_record_aging_message(enum user_record_aging a) {
        switch (a) {
        case PASSWORD_WARN_SOON:
                return "Password will expire soon, please change.";
        case PASSWORD_CHANGE_REQUIRED:
                return "Password change required.";
        case PASSWORD_EXPIRED_CHANGE:
                return "Password expired, change required.";
        case PASSWORD_EXPIRED_LOCKED:
                return "Password is expired, but can't change, refusing login.";
        case PASSWORD_RECORD_INVALID:
                return "User record not valid, prohibiting access.";
        default:
                return NULL;
        }
}
