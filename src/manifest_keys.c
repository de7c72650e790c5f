/* manifest_keys.c — every key of the manifest: its setter, its row in the one
 * table of keys, and applying a value to it (see manifest_keys.h, the
 * manifest module's internal interface; manifest.c drives the parsing).
 *
 * The table (`keys` below) is read by the parser, `keel check --keys` and the
 * documentation test, so they cannot drift apart.  A key is either typed (a
 * string, path, bool, duration, size or bounded number stored at an offset
 * of its section's struct) or custom (a setter of its own).
 */
#include "keel/manifest_keys.h"
#include "keel/caps.h"
#include "keel/proto.h"
#include "keel/parse.h"
#include "keel/idmap.h"
#include "keel/sntp.h"
#include "keel/image.h"
#include "keel/util.h"
#include "keel/fstab.h"

#include <limits.h>
#include <sys/mount.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>

/* LINE is the manifest line of the key, for fields that record where they were set. */
typedef int (*key_setter)(void *obj, int line, const char *value, char *why);

enum key_kind { K_STR, K_PATH, K_BOOL, K_DURATION, K_SIZE, K_U64, K_CUSTOM };

struct manifest_key {
    enum section_kind section;
    enum key_kind kind;
    const char *name;
    size_t offset;          /* of the field in the section's struct (not K_CUSTOM) */
    uint64_t min, max;      /* K_U64 range (stored into unsigned or uint64_t per size) */
    unsigned size;          /* sizeof the field for K_U64 */
    bool repeatable;
    key_setter set;         /* K_CUSTOM */
    const char *type;       /* for docs */
    const char *def;        /* default, for docs */
    const char *doc;
    bool applied;           /* `def` is a value, stored through the setter (line 0) when the key is absent */
};

#define why_set(why, ...) PARSE_FAIL(why, EINVAL, __VA_ARGS__)

static int replace_str(char **field, const char *value)
{
    char *s = strdup(value);
    if (!s)
        return -ENOMEM;
    free(*field);
    *field = s;
    return 0;
}

static int check_abs_path(const char *value, char *why)
{
    if (value[0] != '/')
        return why_set(why, "'%s' is not an absolute path", value);
    for (const char *p = value; *p; p++)
        if (p[0] == '/' && p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0'))
            return why_set(why, "'%s' contains '..'", value);
    return 0;
}

bool manifest_valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    return true;
}

static bool valid_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    /* Labels are not empty: no leading, trailing or doubled dot. */
    return s[0] != '-' && s[0] != '.' && s[n - 1] != '.' && !strstr(s, "..");
}

/* --- custom setters: [system] --------------------------------------------- */

/* hostname is a key of [system] and of [container]: one check, two fields. */
static int set_hostname_field(char **field, const char *v, char *why)
{
    if (!valid_hostname(v))
        return why_set(why, "'%s' is not a valid host name (letters, digits, '-', '.'; at most 63)", v);
    return replace_str(field, v);
}

static int set_system_hostname(void *obj, int line, const char *v, char *why)
{
    return set_hostname_field(&((struct system_spec *)obj)->hostname, v, why);
}

static int set_modules(void *obj, int line, const char *v, char *why)
{
    struct system_spec *sys = obj;
    _cleanup_strv_ char **words = NULL;
    int r = split_words(v, &words, why);
    if (r < 0)
        return r;
    if (!words[0])
        return why_set(why, "names no module");
    for (size_t i = 0; words[i]; i++) {
        if (!manifest_valid_name(words[i], 55))
            return why_set(why, "'%s' is not a module name", words[i]);
        if (!strv_contains(sys->modules, words[i]) && strv_push(&sys->modules, words[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int set_sysctl(void *obj, int line, const char *v, char *why)
{
    struct system_spec *sys = obj;
    const char *eq = strchr(v, '=');
    if (!eq || eq == v)
        return why_set(why, "'%s' is not KEY=VALUE", v);
    /* Trim blanks around '=' so "a.b = 1" and "a.b=1" mean the same. */
    size_t klen = (size_t)(eq - v);
    while (klen && (v[klen - 1] == ' ' || v[klen - 1] == '\t'))
        klen--;
    for (const char *p = v; p < v + klen; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-/", *p))
            return why_set(why, "'%.*s' is not a sysctl name", (int)klen, v);
    if (klen == 0 || v[0] == '/' || v[0] == '.' || memmem(v, klen, "..", 2))
        return why_set(why, "'%.*s' is not a sysctl name", (int)klen, v);
    const char *val = eq + 1;
    while (*val == ' ' || *val == '\t')
        val++;
    return strv_push_take(&sys->sysctl, xasprintf("%.*s=%s", (int)klen, v, val));
}

/* SOURCE TARGET FSTYPE [OPTIONS] (fstab.h owns the syntax); a target mounted
 * twice is an error, not a silent overlay. */
static int set_fstab(void *obj, int line, const char *v, char *why)
{
    struct system_spec *sys = obj;
    struct fstab_entry e;
    int r = fstab_parse(v, &e, why);
    if (r < 0)
        return r;
    for (size_t i = 0; i < sys->n_fstab; i++)
        if (strcmp(sys->fstab[i].target, e.target) == 0) {
            r = why_set(why, "%s is mounted twice (first on line %d)", e.target, sys->fstab[i].line);
            fstab_free(&e);
            return r;
        }
    struct fstab_entry *n = realloc(sys->fstab, (sys->n_fstab + 1) * sizeof *n);
    if (!n) {
        fstab_free(&e);
        return -ENOMEM;
    }
    e.line = line;
    sys->fstab = n;
    sys->fstab[sys->n_fstab++] = e;
    return 0;
}

static int set_dns(void *obj, int line, const char *v, char *why)
{
    struct in_addr a;
    int r = parse_ipv4(v, &a, why);
    if (r < 0)
        return r;
    return strv_push(&((struct system_spec *)obj)->dns, v);
}

static int set_ntp(void *obj, int line, const char *v, char *why)
{
    struct system_spec *sys = obj;
    _cleanup_strv_ char **words = NULL;
    int r = split_words(v, &words, why);
    if (r < 0)
        return r;
    if (!words[0])
        return why_set(why, "names no server");
    for (size_t i = 0; words[i]; i++) {
        struct sockaddr_in a;
        if (sntp_parse_server(words[i], &a, why) < 0)
            return -EINVAL;
        if (!strv_contains(sys->ntp, words[i]) && strv_push(&sys->ntp, words[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int parse_power(const char *v, const enum power_action *allowed, size_t n, enum power_action *out,
                       char *why)
{
    char list[128] = "";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, power_action_name(allowed[i])) == 0) {
            *out = allowed[i];
            return 0;
        }
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", power_action_name(allowed[i]));
    }
    return why_set(why, "'%s' is not one of: %s", v, list);
}

static int set_on_exit(void *obj, int line, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_POWEROFF, POWER_REBOOT, POWER_HALT, POWER_STAY };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct system_spec *)obj)->on_exit, why);
}

static int set_on_error(void *obj, int line, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_POWEROFF, POWER_REBOOT, POWER_SHELL };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct system_spec *)obj)->on_error, why);
}

static int set_control(void *obj, int line, const char *v, char *why)
{
    struct system_spec *sys = obj;
    if (!str_starts(v, "unix://") && !str_starts(v, "tcp://") && !str_starts(v, "vsock://") &&
        !str_starts(v, "fd://"))
        return why_set(why, "'%s' is not unix://PATH, tcp://HOST:PORT, vsock://PORT or fd://N", v);
    if (str_starts(v, "unix://")) {
        int r = check_abs_path(v + 7, why);
        if (r < 0)
            return r;
    }
    /* The control module owns the URL syntax: one parser for both. */
    struct proto_url u;
    struct kerr e = { 0 };
    if (proto_url_parse(v, true, &u, &e) < 0)
        return why_set(why, "%s", e.msg);
    if (strv_contains(sys->control, v))
        return why_set(why, "'%s' is given twice", v);
    return strv_push(&sys->control, v);
}

/* issue 16: the metrics endpoint and the syslog forwarder, in the control
 * URL syntax (proto.h owns it). */
static int set_metrics(void *obj, int line, const char *v, char *why)
{
    struct system_spec *sys = obj;
    struct proto_url u;
    struct kerr e = { 0 };
    if (proto_inet_url_parse(v, false, "metrics", &u, &e) < 0)
        return why_set(why, "%s", e.msg);
    return replace_str(&sys->metrics, v);
}

static int set_syslog(void *obj, int line, const char *v, char *why)
{
    struct system_spec *sys = obj;
    struct proto_url u;
    struct kerr e = { 0 };
    if (proto_inet_url_parse(v, true, "syslog", &u, &e) < 0)
        return why_set(why, "%s", e.msg);
    return replace_str(&sys->syslog, v);
}

/* --- custom setters: [container] ------------------------------------------ */

static int set_layers(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    _cleanup_strv_ char **layers = calloc(1, sizeof *layers);
    if (!layers)
        return -ENOMEM;
    const char *p = v;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        _cleanup_free_ char *one = strndup(p, n);
        if (!one)
            return -ENOMEM;
        int r = check_abs_path(one, why);
        if (r < 0)
            return r;
        /* overlayfs separates lower dirs with ':' and treats ',' as an option separator. */
        if (strchr(one, ','))
            return why_set(why, "layer '%s' contains ','", one);
        if (strv_push(&layers, one) < 0)
            return -ENOMEM;
        if (!colon)
            break;
        p = colon + 1;
    }
    if (strv_len(layers) > 128)
        return why_set(why, "has more than 128 layers");
    strv_free(c->layers);
    c->layers = TAKE_PTR(layers);
    return 0;
}

static int set_container_hostname(void *obj, int line, const char *v, char *why)
{
    return set_hostname_field(&((struct container_spec *)obj)->hostname, v, why);
}

/* volume:NAME/SUB into the path it names under MANIFEST_VOLUMES_DIR and the
 * two parts; 0 when V is no volume reference (*path untouched). */
static int volume_source(const char *v, char **path, char **name, char **sub, char *why)
{
    char n[KEEL_NAME_MAX + 1], sb[PATH_MAX];
    int r = manifest_volume_ref(v, n, sizeof n, sb, sizeof sb, why);
    if (r <= 0)
        return r;
    char *p = xasprintf("%s/%s%s%s", MANIFEST_VOLUMES_DIR, n, sb[0] ? "/" : "", sb);
    char *a = strdup(n), *b = strdup(sb);
    if (!p || !a || !b) {
        free(p), free(a), free(b);
        return -ENOMEM;
    }
    free(*path), free(*name), free(*sub);
    *path = p, *name = a, *sub = b;
    return 1;
}

static int set_upper(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    int r = volume_source(v, &c->upper, &c->upper_volume, &c->upper_volume_sub, why);
    if (r != 0)
        return r < 0 ? r : 0;
    free(c->upper_volume), free(c->upper_volume_sub);
    c->upper_volume = c->upper_volume_sub = NULL;
    if (strcmp(v, "tmpfs") != 0) {
        if ((r = check_abs_path(v, why)) < 0)
            return r;
        if (strchr(v, ',') || strchr(v, ':'))
            return why_set(why, "'%s' contains ',' or ':'", v);
    }
    return replace_str(&c->upper, v);
}

static int set_argv(char ***field, const char *v, char *why)
{
    char **argv = NULL;
    int r = split_words(v, &argv, why);
    if (r < 0)
        return r;
    if (!argv[0]) {
        strv_free(argv);
        return why_set(why, "is empty");
    }
    strv_free(*field);
    *field = argv;
    return 0;
}

static int set_command(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    /* argv[0] must be an absolute path, but with `image =` these words
     * replace the image's Cmd after its Entrypoint: checked in validation,
     * once the image is applied. */
    return set_argv(&c->argv, v, why);
}

static int set_env(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    const char *eq = strchr(v, '=');
    if (!eq || eq == v)
        return why_set(why, "'%s' is not NAME=VALUE", v);
    for (const char *p = v; p < eq; p++)
        if ((!isalnum((unsigned char)*p) && *p != '_') || (p == v && isdigit((unsigned char)*p)))
            return why_set(why, "'%.*s' is not a variable name", (int)(eq - v), v);
    /* A later value of the same name replaces the earlier one. */
    size_t klen = (size_t)(eq - v) + 1;
    for (size_t i = 0; c->env && c->env[i]; i++)
        if (strncmp(c->env[i], v, klen) == 0)
            return replace_str(&c->env[i], v);
    return strv_push(&c->env, v);
}

/* image = DEST/NAME: the file DEST/NAME.image that keel import wrote. */
static int set_image(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    int r = check_abs_path(v, why);
    if (r < 0)
        return r;
    size_t n = strlen(v), sn = strlen(IMAGE_SUFFIX);
    char *path = n > sn && strcmp(v + n - sn, IMAGE_SUFFIX) == 0 ? strdup(v) : xasprintf("%s%s", v, IMAGE_SUFFIX);
    if (!path)
        return -ENOMEM;
    free(c->image);
    c->image = path;
    return 0;
}

static int set_user(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    const char *colon = strchr(v, ':');
    uint32_t id;
    if (colon) {
        char uid[16];
        if ((size_t)(colon - v) >= sizeof uid || colon == v || !colon[1])
            return why_set(why, "'%s' is not a name, UID or UID:GID", v);
        memcpy(uid, v, (size_t)(colon - v));
        uid[colon - v] = '\0';
        if (parse_id(uid, &id, why) < 0 || parse_id(colon + 1, &id, why) < 0)
            return why_set(why, "'%s' is not UID:GID (two numbers 0 to %u)", v, UINT32_MAX - 1);
    } else if (isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '+') {
        if (parse_id(v, &id, why) < 0)
            return -EINVAL;
    } else if (!manifest_valid_name(v, 32)) {
        return why_set(why, "'%s' is not a user name", v);
    }
    return replace_str(&c->user, v);
}

static int set_mount(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    /* volume:NAME/SUB:TARGET[:ro|rw]: the first colon is the reference's. */
    bool on_volume = str_starts(v, "volume:");
    _cleanup_free_ char *copy = strdup(on_volume ? v + strlen("volume:") : v);
    if (!copy)
        return -ENOMEM;
    char *parts[4] = { 0 };
    size_t n = 0;
    for (char *p = copy, *save = NULL, *tok; (tok = strtok_r(p, ":", &save)); p = NULL) {
        if (n == 3)
            return why_set(why, "'%s' is not SOURCE:TARGET[:ro|rw]", v);
        parts[n++] = tok;
    }
    if (n < 2)
        return why_set(why, "'%s' is not SOURCE:TARGET[:ro|rw]", v);
    int r;
    _cleanup_free_ char *vpath = NULL, *vname = NULL, *vsub = NULL, *ref = NULL;
    if (on_volume) {
        if (!(ref = xasprintf("volume:%s", parts[0])))
            return -ENOMEM;
        if ((r = volume_source(ref, &vpath, &vname, &vsub, why)) <= 0)
            return r < 0 ? r : why_set(why, "'%s' is not volume:NAME[/PATH]", ref);
        parts[0] = vpath;
    }
    if ((r = check_abs_path(parts[0], why)) < 0 || (r = check_abs_path(parts[1], why)) < 0)
        return r;
    if (strcmp(parts[1], "/") == 0)
        return why_set(why, "cannot bind over the container's root");
    bool ro = false;
    if (n == 3) {
        if (strcmp(parts[2], "ro") == 0)
            ro = true;
        else if (strcmp(parts[2], "rw") != 0)
            return why_set(why, "'%s' is not ro or rw", parts[2]);
    }
    struct bind_mount *nm = realloc(c->mounts, (c->n_mounts + 1) * sizeof *nm);
    if (!nm)
        return -ENOMEM;
    c->mounts = nm;
    struct bind_mount *b = &c->mounts[c->n_mounts];
    *b = (struct bind_mount){ .source = strdup(parts[0]), .target = strdup(parts[1]), .readonly = ro,
                              .line = line, .volume = TAKE_PTR(vname), .volume_sub = TAKE_PTR(vsub) };
    if (!b->source || !b->target) {
        free(b->source);
        free(b->target);
        free(b->volume);
        free(b->volume_sub);
        return -ENOMEM;
    }
    c->n_mounts++;
    return 0;
}

/* env_file = PATH: recorded here, read by the validation (manifest.c),
 * which knows [system] fstab and whether the file system is to be looked at. */
static int set_env_file(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    int r = check_abs_path(v, why);
    if (r < 0)
        return r;
    struct env_file *nf = realloc(c->env_files, (c->n_env_files + 1) * sizeof *nf);
    if (!nf)
        return -ENOMEM;
    c->env_files = nf;
    if (!(nf[c->n_env_files].path = strdup(v)))
        return -ENOMEM;
    nf[c->n_env_files++].line = line;
    return 0;
}

/* secret = SRC:DST[:UID:GID:MODE]: what is copied and where it goes; the
 * content is read only by the setup child, at each start. */
static int set_secret(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    _cleanup_free_ char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    char *parts[6] = { 0 };
    size_t n = 0;
    for (char *p = copy, *save = NULL, *tok; (tok = strtok_r(p, ":", &save)); p = NULL) {
        if (n == 5)
            return why_set(why, "'%s' is not SRC:DST[:UID:GID:MODE]", v);
        parts[n++] = tok;
    }
    if (n != 2 && n != 5)
        return why_set(why, "'%s' is not SRC:DST[:UID:GID:MODE]", v);
    int r;
    if ((r = check_abs_path(parts[0], why)) < 0 || (r = check_abs_path(parts[1], why)) < 0)
        return r;
    if (strcmp(parts[1], "/") == 0 || parts[1][strlen(parts[1]) - 1] == '/')
        return why_set(why, "'%s' is not a file path in the container", parts[1]);
    struct secret_spec s = { .mode = 0400, .line = line };
    if (n == 5) {
        char *end;
        unsigned long mode = strtoul(parts[4], &end, 8);
        if (parse_id(parts[2], &s.uid, why) < 0 || parse_id(parts[3], &s.gid, why) < 0)
            return -EINVAL;
        if (!*parts[4] || *end || mode > 0777)
            return why_set(why, "'%s' is not an octal mode from 0 to 0777", parts[4]);
        s.mode = (unsigned)mode;
    }
    for (size_t i = 0; i < c->n_secrets; i++)
        if (strcmp(c->secrets[i].target, parts[1]) == 0)
            return why_set(why, "%s is given twice (first on line %d)", parts[1], c->secrets[i].line);
    struct secret_spec *ns = realloc(c->secrets, (c->n_secrets + 1) * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    c->secrets = ns;
    s.source = strdup(parts[0]);
    s.target = strdup(parts[1]);
    if (!s.source || !s.target) {
        free(s.source);
        free(s.target);
        return -ENOMEM;
    }
    c->secrets[c->n_secrets++] = s;
    return 0;
}

/* HOST[:CONTAINER]: a device node of the host, given as CONTAINER (default
 * the same path) in keel's /dev tmpfs, never a path of the image. */
static int set_device(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    _cleanup_free_ char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    char *target = strchr(copy, ':');
    if (target)
        *target++ = '\0';
    else
        target = copy;
    int r;
    if ((r = check_abs_path(copy, why)) < 0 || (r = check_abs_path(target, why)) < 0)
        return r;
    if (!str_starts(target, "/dev/") || !target[5] || target[strlen(target) - 1] == '/' || strstr(target, "//"))
        return why_set(why, "'%s' is not a path in /dev (/dev/NAME)", target);
    for (size_t i = 0; i < c->n_devices; i++)
        if (strcmp(c->devices[i].target, target) == 0)
            return why_set(why, "%s is given twice (first on line %d)", target, c->devices[i].line);
    struct bind_mount *nd = realloc(c->devices, (c->n_devices + 1) * sizeof *nd);
    if (!nd)
        return -ENOMEM;
    c->devices = nd;
    struct bind_mount *d = &c->devices[c->n_devices];
    *d = (struct bind_mount){ .source = strdup(copy), .target = strdup(target), .line = line };
    if (!d->source || !d->target) {
        free(d->source);
        free(d->target);
        return -ENOMEM;
    }
    c->n_devices++;
    return 0;
}

/* --- custom setters: [volume NAME] ------------------------------------------ */

static int set_volume_device(void *obj, int line, const char *v, char *why)
{
    int r = check_abs_path(v, why);
    if (r < 0)
        return r;
    if (!str_starts(v, "/dev/") || !v[5] || strchr(v, ' '))
        return why_set(why, "'%s' is not a device path in /dev", v);
    return replace_str(&((struct volume_spec *)obj)->device, v);
}

static int set_volume_label(void *obj, int line, const char *v, char *why)
{
    if (!*v || strlen(v) > 255)
        return why_set(why, "a label is 1 to 255 bytes");
    return replace_str(&((struct volume_spec *)obj)->label, v);
}

static int set_volume_uuid(void *obj, int line, const char *v, char *why)
{
    /* 8-4-4-4-12 hex digits (ext, xfs, btrfs) or XXXX-XXXX (vfat). */
    size_t n = strlen(v);
    bool ok = n == 36 || n == 9;
    for (size_t i = 0; ok && i < n; i++) {
        bool dash = n == 36 ? (i == 8 || i == 13 || i == 18 || i == 23) : i == 4;
        ok = dash ? v[i] == '-' : isxdigit((unsigned char)v[i]) != 0;
    }
    if (!ok)
        return why_set(why, "'%s' is not a UUID (8-4-4-4-12 hex digits, or XXXX-XXXX for vfat)", v);
    return replace_str(&((struct volume_spec *)obj)->uuid, v);
}

static int set_volume_fstype(void *obj, int line, const char *v, char *why)
{
    if (!*v || strlen(v) > 31 || v[strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_.")])
        return why_set(why, "'%s' is not a file system type", v);
    return replace_str(&((struct volume_spec *)obj)->fstype, v);
}

static int set_volume_options(void *obj, int line, const char *v, char *why)
{
    struct volume_spec *vol = obj;
    unsigned long flags = MS_NOSUID | MS_NODEV;
    char *data = NULL;
    bool nofail = false;
    int r = fstab_options(v, &flags, &data, &nofail, why);
    if (r < 0)
        return r;
    if (nofail || (flags & (MS_NOSUID | MS_NODEV)) != (MS_NOSUID | MS_NODEV)) {
        free(data);
        return why_set(why, "'%s': a volume is always nosuid,nodev and never nofail", v);
    }
    if ((r = replace_str(&vol->options, v)) < 0) {
        free(data);
        return r;
    }
    free(vol->data);
    vol->data = data;
    vol->flags = flags;
    return 0;
}

static int set_volume_mkfs(void *obj, int line, const char *v, char *why)
{
    if (strcmp(v, "ext4") != 0)
        return why_set(why, "'%s': keel formats only ext4 (mke2fs)", v);
    return replace_str(&((struct volume_spec *)obj)->mkfs, v);
}

static int set_network(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (strcmp(v, "none") == 0)
        c->net = NET_NONE;
    else if (strcmp(v, "host") == 0)
        c->net = NET_HOST;
    else if (strcmp(v, "bridge") == 0)
        c->net = NET_BRIDGE;
    else if (str_starts(v, "container:")) {
        if (!manifest_valid_name(v + 10, KEEL_NAME_MAX))
            return why_set(why, "'%s' does not name a container", v);
        c->net = NET_CONTAINER;
        return replace_str(&c->net_peer, v + 10);
    } else
        return why_set(why, "'%s' is not none, host, bridge or container:NAME", v);
    return 0;
}

static int set_bridge(void *obj, int line, const char *v, char *why)
{
    if (!manifest_valid_name(v, 15))
        return why_set(why, "'%s' is not a network name", v);
    return replace_str(&((struct container_spec *)obj)->bridge, v);
}

static int set_ip(void *obj, int line, const char *v, char *why)
{
    return parse_ipv4(v, &((struct container_spec *)obj)->ip, why);
}

/* [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp] */
static int set_ports(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    struct port_map pm = { .proto = IPPROTO_TCP, .line = line };
    char buf[64];
    if (str_copy(buf, sizeof buf, v) < 0)
        return why_set(why, "'%s' is too long", v);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        if (strcmp(slash + 1, "tcp") == 0)
            pm.proto = IPPROTO_TCP;
        else if (strcmp(slash + 1, "udp") == 0)
            pm.proto = IPPROTO_UDP;
        else
            return why_set(why, "'%s' is not tcp or udp", slash + 1);
    }
    char *parts[3];
    size_t n = 0;
    for (char *p = buf, *save = NULL, *tok; (tok = strtok_r(p, ":", &save)); p = NULL) {
        if (n == 3)
            return why_set(why, "'%s' is not [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]", v);
        parts[n++] = tok;
    }
    if (n < 2)
        return why_set(why, "'%s' is not [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]", v);
    if (n == 3 && parse_ipv4(parts[0], &pm.host_ip, why) < 0)
        return -EINVAL;
    uint64_t hp, cp;
    if (parse_u64(parts[n - 2], 1, 65535, &hp, NULL) < 0 || parse_u64(parts[n - 1], 1, 65535, &cp, NULL) < 0)
        return why_set(why, "'%s': ports are numbers from 1 to 65535", v);
    pm.host_port = (uint16_t)hp;
    pm.container_port = (uint16_t)cp;
    struct port_map *np = realloc(c->ports, (c->n_ports + 1) * sizeof *np);
    if (!np)
        return -ENOMEM;
    c->ports = np;
    c->ports[c->n_ports++] = pm;
    return 0;
}

static int set_net_rate(void *obj, int line, const char *v, char *why)
{
    return parse_rate_bits(v, &((struct container_spec *)obj)->net_rate, why);
}

static int set_restart(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    c->restart_max = 0;
    if (strcmp(v, "no") == 0)
        c->restart = RESTART_NO;
    else if (strcmp(v, "always") == 0)
        c->restart = RESTART_ALWAYS;
    else if (strcmp(v, "on-failure") == 0)
        c->restart = RESTART_ON_FAILURE;
    else if (str_starts(v, "on-failure:")) {
        uint64_t max;
        if (parse_u64(v + 11, 1, 1000000, &max, why) < 0)
            return -EINVAL;
        c->restart = RESTART_ON_FAILURE;
        c->restart_max = (unsigned)max;
    } else
        return why_set(why, "'%s' is not no, on-failure[:MAX] or always", v);
    return 0;
}

static int set_on_crashloop(void *obj, int line, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_NONE, POWER_REBOOT, POWER_POWEROFF };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct container_spec *)obj)->on_crashloop, why);
}

static int set_on_unhealthy(void *obj, int line, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_RESTART, POWER_NONE, POWER_REBOOT, POWER_POWEROFF };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct container_spec *)obj)->on_unhealthy, why);
}

static int set_update(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (strcmp(v, "stop-first") == 0)
        c->update = UPDATE_STOP_FIRST;
    else if (strcmp(v, "start-first") == 0)
        c->update = UPDATE_START_FIRST;
    else
        return why_set(why, "'%s' is not stop-first or start-first", v);
    return 0;
}

static const char *const condition_names[] = { "network-online", "clock" };

unsigned manifest_condition_of(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(condition_names); i++)
        if (strcmp(name, condition_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *manifest_condition_name(unsigned bit)
{
    for (size_t i = 0; i < ARRAY_SIZE(condition_names); i++)
        if (bit == 1u << i)
            return condition_names[i];
    return "?";
}

static int set_depends(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    _cleanup_strv_ char **words = NULL;
    int r = split_words(v, &words, why);
    if (r < 0)
        return r;
    if (!words[0])
        return why_set(why, "names no container");
    for (size_t i = 0; words[i]; i++) {
        char *name = words[i];
        enum dep_condition cond = DEP_STARTED;
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = '\0';
            if (strcmp(colon + 1, "started") == 0)
                cond = DEP_STARTED;
            else if (strcmp(colon + 1, "healthy") == 0)
                cond = DEP_HEALTHY;
            else if (strcmp(colon + 1, "ready") == 0)
                cond = DEP_READY;
            else
                return why_set(why, "'%s' is not started, healthy or ready", colon + 1);
        }
        unsigned cond_bit = manifest_condition_of(name);
        if (cond_bit) {
            if (colon)
                return why_set(why, "'%s' is a condition: it takes no ':%s'", name, colon + 1);
            c->wait_conditions |= cond_bit;
            continue;
        }
        if (!manifest_valid_name(name, KEEL_NAME_MAX))
            return why_set(why, "'%s' is not a container name", name);
        if (c->n_deps >= MANIFEST_MAX_CONTAINERS)
            return why_set(why, "more than %d dependencies", MANIFEST_MAX_CONTAINERS);
        struct dependency *nd = realloc(c->deps, (c->n_deps + 1) * sizeof *nd);
        if (!nd)
            return -ENOMEM;
        c->deps = nd;
        c->deps[c->n_deps] = (struct dependency){ .name = strdup(name), .condition = cond, .index = -1,
                                                  .line = line };
        if (!c->deps[c->n_deps].name)
            return -ENOMEM;
        c->n_deps++;
    }
    return 0;
}

static int set_stop_signal(void *obj, int line, const char *v, char *why)
{
    return parse_signal(v, &((struct container_spec *)obj)->stop_signal, why);
}

static int set_capabilities(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    c->caps = caps_default();
    return caps_parse(v, &c->caps, why);
}

static int set_ambient(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    c->caps_ambient = 0;
    return caps_parse(v, &c->caps_ambient, why);
}

static int set_seccomp(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (strcmp(v, "default") == 0)
        c->seccomp = SECCOMP_DEFAULT;
    else if (strcmp(v, "unconfined") == 0)
        c->seccomp = SECCOMP_UNCONFINED;
    else {
        int r = check_abs_path(v, why);
        if (r < 0)
            return why_set(why, "'%s' is not default, unconfined or an absolute path", v);
        c->seccomp = SECCOMP_FILE;
        return replace_str(&c->seccomp_file, v);
    }
    return 0;
}

static int set_sizefield(int64_t *field, const char *v, char *why)
{
    return parse_size(v, field, why);
}

static int set_memory(void *obj, int line, const char *v, char *why)
{
    return set_sizefield(&((struct container_spec *)obj)->memory_max, v, why);
}
static int set_memory_high(void *obj, int line, const char *v, char *why)
{
    return set_sizefield(&((struct container_spec *)obj)->memory_high, v, why);
}
static int set_memory_swap(void *obj, int line, const char *v, char *why)
{
    return set_sizefield(&((struct container_spec *)obj)->memory_swap, v, why);
}

static int set_cpus(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    return parse_cpus(v, &c->cpu_quota_us, &c->cpu_period_us, why);
}

static int set_i64_range(int64_t *field, const char *v, int64_t min, int64_t max, char *why)
{
    return parse_i64(v, min, max, field, why);
}

static int set_cpu_weight(void *obj, int line, const char *v, char *why)
{
    return set_i64_range(&((struct container_spec *)obj)->cpu_weight, v, 1, 10000, why);
}

static int set_io_weight(void *obj, int line, const char *v, char *why)
{
    return set_i64_range(&((struct container_spec *)obj)->io_weight, v, 1, 10000, why);
}

static int set_pids(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    c->pids_line = line;   /* 0: the table's default */
    if (strcmp(v, "max") == 0) {
        c->pids_max = KEEL_LIMIT_MAX;
        return 0;
    }
    return set_i64_range(&c->pids_max, v, 1, 4194304, why);
}

static int set_cpuset(void *obj, int line, const char *v, char *why)
{
    /* A cpu list: "0-1,3".  Ranges must be ascending. */
    const char *p = v;
    for (;;) {
        uint64_t a, b;
        char num[12];
        size_t n = strspn(p, "0123456789");
        if (n == 0 || n >= sizeof num)
            return why_set(why, "'%s' is not a CPU list (e.g. 0-1,3)", v);
        memcpy(num, p, n), num[n] = '\0';
        if (parse_u64(num, 0, 4095, &a, NULL) < 0)
            return why_set(why, "'%s' names a CPU above 4095", v);
        p += n;
        b = a;
        if (*p == '-') {
            p++;
            n = strspn(p, "0123456789");
            if (n == 0 || n >= sizeof num)
                return why_set(why, "'%s' is not a CPU list (e.g. 0-1,3)", v);
            memcpy(num, p, n), num[n] = '\0';
            if (parse_u64(num, 0, 4095, &b, NULL) < 0)
                return why_set(why, "'%s' names a CPU above 4095", v);
            p += n;
        }
        if (a > 4095 || b > 4095 || b < a)
            return why_set(why, "'%s' is not a CPU list (e.g. 0-1,3)", v);
        if (*p == '\0')
            break;
        if (*p != ',')
            return why_set(why, "'%s' is not a CPU list (e.g. 0-1,3)", v);
        p++;
    }
    return replace_str(&((struct container_spec *)obj)->cpuset, v);
}

static int add_io_limit(struct io_limit **arr, size_t *n, const char *v, bool bytes, int line, char *why)
{
    const char *sp = strpbrk(v, " \t");
    if (!sp)
        return why_set(why, "'%s' is not DEVICE RATE", v);
    _cleanup_free_ char *dev = strndup(v, (size_t)(sp - v));
    if (!dev)
        return -ENOMEM;
    int r = check_abs_path(dev, why);
    if (r < 0)
        return r;
    while (*sp == ' ' || *sp == '\t')
        sp++;
    uint64_t value;
    if (bytes) {
        int64_t sz;
        if (parse_size(sp, &sz, why) < 0)
            return -EINVAL;
        if (sz <= 0)
            return why_set(why, "'%s' must be more than zero", sp);
        value = (uint64_t)sz;
    } else if (parse_u64(sp, 1, UINT64_MAX / 2, &value, why) < 0) {
        return -EINVAL;
    }
    struct io_limit *na = realloc(*arr, (*n + 1) * sizeof *na);
    if (!na)
        return -ENOMEM;
    *arr = na;
    na[*n] = (struct io_limit){ .device = TAKE_PTR(dev), .value = value, .line = line };
    (*n)++;
    return 0;
}

static int set_io_read_bps(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_read_bps, &c->n_io_read_bps, v, true, line, why);
}
static int set_io_write_bps(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_write_bps, &c->n_io_write_bps, v, true, line, why);
}
static int set_io_read_iops(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_read_iops, &c->n_io_read_iops, v, false, line, why);
}
static int set_io_write_iops(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_write_iops, &c->n_io_write_iops, v, false, line, why);
}

static int set_oom_score_adj(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    int64_t x;
    if (parse_i64(v, -1000, 1000, &x, why) < 0)
        return -EINVAL;
    c->oom_score_adj = (int)x;
    c->oom_score_adj_set = true;
    return 0;
}

static int set_health(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (str_starts(v, "tcp:")) {
        uint64_t port;
        if (parse_u64(v + 4, 1, 65535, &port, why) < 0)
            return -EINVAL;
        c->health = HEALTH_TCP;
        c->health_port = (uint16_t)port;
        return 0;
    }
    int r = set_argv(&c->health_argv, v, why);
    if (r < 0)
        return r;
    if (c->health_argv[0][0] != '/')
        return why_set(why, "'%s' is not an absolute path or tcp:PORT", c->health_argv[0]);
    c->health = HEALTH_CMD;
    return 0;
}

static int set_ready(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (strcmp(v, "notify") == 0) {
        c->ready = READY_NOTIFY;
    } else if (str_starts(v, "fd:")) {
        uint64_t fd;
        if (parse_u64(v + 3, 3, 255, &fd, why) < 0)
            return -EINVAL;
        c->ready = READY_FD;
        c->ready_fd = (int)fd;
    } else if (strcmp(v, "none") == 0) {
        c->ready = READY_NONE;
    } else {
        return why_set(why, "'%s' is not none, notify or fd:N", v);
    }
    return 0;
}

/* no | auto | INSIDE:HOST:COUNT[,...] (idmap.h owns the syntax and its checks). */
static int set_userns(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    return idmap_parse(v, &c->userns, &c->userns_map, &c->n_userns_map, why);
}

/* NAME=SOFT[:HARD] (parse.h owns the syntax); a later value for the same
 * resource is an error, not a silent override. */
static int set_rlimit(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    struct rlimit_spec r;
    int e = parse_rlimit(v, &r, why);
    if (e < 0)
        return e;
    for (size_t i = 0; i < c->n_rlimits; i++)
        if (c->rlimits[i].resource == r.resource)
            return why_set(why, "%s is limited twice (first on line %d)", parse_rlimit_name(r.resource), c->rlimits[i].line);
    r.line = line;
    struct rlimit_spec *nr = realloc(c->rlimits, (c->n_rlimits + 1) * sizeof *nr);
    if (!nr)
        return -ENOMEM;
    c->rlimits = nr;
    c->rlimits[c->n_rlimits++] = r;
    return 0;
}

/* --- custom setters: [network] and [interface] ------------------------------ */

static int set_subnet(void *obj, int line, const char *v, char *why)
{
    struct network_spec *n = obj;
    struct in_addr a;
    unsigned prefix;
    if (parse_cidr(v, &a, &prefix, why) < 0)
        return -EINVAL;
    if (prefix < 8 || prefix > 30)
        return why_set(why, "prefix /%u must be between /8 and /30", prefix);
    uint32_t mask = htonl(~0u << (32 - prefix));
    if (a.s_addr & ~mask)
        return why_set(why, "'%s' has host bits set (did you mean %s/%u?)", v,
                       inet_ntoa((struct in_addr){ a.s_addr & mask }), prefix);
    n->subnet = a;
    n->prefix = prefix;
    return 0;
}

static int set_net_gateway(void *obj, int line, const char *v, char *why)
{
    return parse_ipv4(v, &((struct network_spec *)obj)->gateway, why);
}

/* host_ports = PORT[/tcp|/udp] ...: words separated by blanks or commas. */
static int set_host_ports(void *obj, int line, const char *v, char *why)
{
    struct network_spec *n = obj;
    char buf[512];
    if (str_copy(buf, sizeof buf, v) < 0)
        return why_set(why, "'%s' is too long", v);
    size_t words = 0;
    for (char *p = buf, *save = NULL, *tok; (tok = strtok_r(p, " \t,", &save)); p = NULL) {
        words++;
        struct host_port hp = { .proto = IPPROTO_TCP };
        char *slash = strchr(tok, '/');
        if (slash) {
            *slash = '\0';
            if (strcmp(slash + 1, "tcp") == 0)
                hp.proto = IPPROTO_TCP;
            else if (strcmp(slash + 1, "udp") == 0)
                hp.proto = IPPROTO_UDP;
            else
                return why_set(why, "'%s' is not tcp or udp", slash + 1);
        }
        uint64_t port;
        if (parse_u64(tok, 1, 65535, &port, NULL) < 0)
            return why_set(why, "'%s' is not a port from 1 to 65535", tok);
        hp.port = (uint16_t)port;
        bool dup = false;
        for (size_t i = 0; i < n->n_host_ports && !dup; i++)
            dup = n->host_ports[i].port == hp.port && n->host_ports[i].proto == hp.proto;
        if (dup)
            continue;
        if (n->n_host_ports >= NET_HOST_PORTS_MAX)
            return why_set(why, "more than %d host ports", NET_HOST_PORTS_MAX);
        n->host_ports[n->n_host_ports++] = hp;
    }
    if (words == 0)
        return why_set(why, "names no port");
    return 0;
}

/* lan = yes|no (default yes), stored inverted so that a zeroed network is the default. */
static int set_lan(void *obj, int line, const char *v, char *why)
{
    bool yes;
    if (parse_bool(v, &yes, why) < 0)
        return -EINVAL;
    ((struct network_spec *)obj)->no_lan = !yes;
    return 0;
}

static int set_if_address(void *obj, int line, const char *v, char *why)
{
    struct interface_spec *i = obj;
    if (strcmp(v, "dhcp") == 0) {
        i->dhcp = true;
        i->has_address = false;
        return 0;
    }
    i->dhcp = false;
    if (parse_cidr(v, &i->address, &i->prefix, why) < 0)
        return -EINVAL;
    i->has_address = true;
    return 0;
}

static int set_if_gateway(void *obj, int line, const char *v, char *why)
{
    return parse_ipv4(v, &((struct interface_spec *)obj)->gateway, why);
}


/* --- custom setters: IPv6 ([network] subnet6/gateway6, [container] ip6,
 * [interface] address6/gateway6) --------------------------------------------- */

static bool v6_host_bits(const struct in6_addr *a, unsigned prefix)
{
    for (unsigned bit = prefix; bit < 128; bit++)
        if (a->s6_addr[bit / 8] & (0x80 >> (bit % 8)))
            return true;
    return false;
}

static int set_subnet6(void *obj, int line, const char *v, char *why)
{
    struct network_spec *n = obj;
    struct in6_addr a;
    unsigned prefix;
    if (parse_cidr6(v, &a, &prefix, why) < 0)
        return -EINVAL;
    /* /64 is what IPv6 expects of a link; up to /120 leaves room for
     * containers; shorter prefixes would only waste a routing prefix. */
    if (prefix < 64 || prefix > 120)
        return why_set(why, "prefix /%u must be between /64 and /120", prefix);
    if (v6_host_bits(&a, prefix))
        return why_set(why, "'%s' has host bits set", v);
    if (IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_MULTICAST(&a) || IN6_IS_ADDR_V4MAPPED(&a) ||
        IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a))
        return why_set(why, "'%s' is not a unicast prefix (use a ULA fd00::/8 or a global one)", v);
    n->subnet6 = a;
    n->prefix6 = prefix;
    n->has_v6 = true;
    return 0;
}

static int set_net_gateway6(void *obj, int line, const char *v, char *why)
{
    struct network_spec *n = obj;
    if (parse_ipv6(v, &n->gateway6, why) < 0)
        return -EINVAL;
    n->has_gateway6 = true;
    return 0;
}

static int set_ip6(void *obj, int line, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (parse_ipv6(v, &c->ip6, why) < 0)
        return -EINVAL;
    c->has_ip6 = true;
    return 0;
}

static int set_if_address6(void *obj, int line, const char *v, char *why)
{
    struct interface_spec *i = obj;
    if (strcmp(v, "auto") == 0) {
        i->address6_auto = true;
        return 0;
    }
    if (parse_cidr6(v, &i->address6, &i->prefix6, why) < 0)
        return why_set(why, "'%s' is neither auto nor an IPv6 ADDRESS/len", v);
    if (i->prefix6 < 1)
        return why_set(why, "'%s': prefix /0", v);
    i->has_address6 = true;
    return 0;
}

static int set_if_gateway6(void *obj, int line, const char *v, char *why)
{
    struct interface_spec *i = obj;
    if (parse_ipv6(v, &i->gateway6, why) < 0)
        return -EINVAL;
    i->has_gateway6 = true;
    return 0;
}

/* --- the key table ----------------------------------------------------------- */

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define SYS(f) offsetof(struct system_spec, f)
#define CON(f) offsetof(struct container_spec, f)
#define NET(f) offsetof(struct network_spec, f)
#define IFC(f) offsetof(struct interface_spec, f)
/* The _APPLIED forms: the default is a value, and the one place it is
 * written; the parser stores it through the key's own setter (line 0) when
 * the key is absent from its section.  In the others the default says what
 * an absent key means (the field's zero or "not given" state), for the docs. */
#define U(sec, name, off, field_size, lo, hi, def, doc) \
    { sec, K_U64, name, off, lo, hi, field_size, false, NULL, "number", def, doc, false }
#define U_APPLIED(sec, name, off, field_size, lo, hi, def, doc) \
    { sec, K_U64, name, off, lo, hi, field_size, false, NULL, "number", def, doc, true }
#define CUSTOM(sec, name, rep, fn, type, def, doc) \
    { sec, K_CUSTOM, name, 0, 0, 0, 0, rep, fn, type, def, doc, false }
#define CUSTOM_APPLIED(sec, name, rep, fn, type, def, doc) \
    { sec, K_CUSTOM, name, 0, 0, 0, 0, rep, fn, type, def, doc, true }
#define TYPED(sec, name, kind, off, type, def, doc) \
    { sec, kind, name, off, 0, 0, 0, false, NULL, type, def, doc, false }
#define TYPED_APPLIED(sec, name, kind, off, type, def, doc) \
    { sec, kind, name, off, 0, 0, 0, false, NULL, type, def, doc, true }

static const struct manifest_key keys[] = {
    /* [system] */
    CUSTOM(SEC_SYSTEM, "hostname", false, set_system_hostname, "host name", "(unchanged)",
           "host name keel sets in boot mode"),
    TYPED_APPLIED(SEC_SYSTEM, "stop_timeout", K_DURATION, SYS(stop_timeout_ms), "duration", "10s",
          "time between a container's stop signal and SIGKILL (default for every container)"),
    TYPED_APPLIED(SEC_SYSTEM, "log_dir", K_PATH, SYS(log_dir), "path", "/run/keel/log",
          "directory of the containers' log files NAME.log"),
    TYPED_APPLIED(SEC_SYSTEM, "log_max_size", K_SIZE, SYS(log_max_size), "size", "1M",
          "a container's log file is rotated when it reaches this size"),
    U_APPLIED(SEC_SYSTEM, "log_keep", SYS(log_keep), sizeof(unsigned), 0, 100, "2",
      "rotated log files kept per container (NAME.log.1 ...)"),
    CUSTOM(SEC_SYSTEM, "modules", true, set_modules, "names", "(none)",
           "kernel modules loaded at boot, with their dependencies"),
    TYPED_APPLIED(SEC_SYSTEM, "modules_split", K_BOOL, SYS(modules_split), "yes|no", "no",
          "boot mode: yes loads before the first container's start only the modules it needs, the rest after it in the background"),
    CUSTOM(SEC_SYSTEM, "fstab", true, set_fstab, "SOURCE TARGET FSTYPE [OPTIONS]", "(none)",
           "boot mode: a file system mounted after the modules (a data disk, say)"),
    CUSTOM(SEC_SYSTEM, "sysctl", true, set_sysctl, "KEY=VALUE", "(none)",
           "kernel parameter written under /proc/sys at boot"),
    CUSTOM(SEC_SYSTEM, "dns", true, set_dns, "IPv4 address", "(none)",
           "name server for /etc/resolv.conf (the system's and the containers')"),
    CUSTOM_APPLIED(SEC_SYSTEM, "on_exit", false, set_on_exit, "poweroff|reboot|halt|stay", "poweroff",
           "boot mode: what happens when the main container (or all) exited for good"),
    CUSTOM_APPLIED(SEC_SYSTEM, "on_error", false, set_on_error, "poweroff|reboot|shell", "poweroff",
           "boot mode: what a fatal boot error leads to (after a 5 s pause)"),
    TYPED(SEC_SYSTEM, "rescue_shell", K_PATH, SYS(rescue_shell), "path", "(none)",
          "shell run by on_error = shell"),
    CUSTOM_APPLIED(SEC_SYSTEM, "control", true, set_control, "URL", "unix:///run/keel.sock",
           "control listener: unix://PATH, tcp://HOST:PORT (mutual TLS), vsock://PORT[?local=yes], fd://N"),
    TYPED(SEC_SYSTEM, "control_tls_cert", K_PATH, SYS(control_tls_cert), "path", "(none)",
          "server certificate (PEM) for tcp:// listeners"),
    TYPED(SEC_SYSTEM, "control_tls_key", K_PATH, SYS(control_tls_key), "path", "(none)",
          "server private key (PEM) for tcp:// listeners"),
    TYPED(SEC_SYSTEM, "control_tls_ca", K_PATH, SYS(control_tls_ca), "path", "(none)",
          "CA certificate (PEM) that client certificates must chain to"),
    TYPED(SEC_SYSTEM, "control_group", K_STR, SYS(control_group), "group name", "(root only)",
          "members of this group (from /etc/group) may use the unix control socket"),
    TYPED(SEC_SYSTEM, "watchdog", K_PATH, SYS(watchdog), "path", "(none)",
          "hardware watchdog device petted while keel is healthy"),
    TYPED_APPLIED(SEC_SYSTEM, "watchdog_timeout", K_DURATION, SYS(watchdog_timeout_ms), "duration", "30s",
          "watchdog timeout set on the device"),
    CUSTOM(SEC_SYSTEM, "ntp", true, set_ntp, "IPv4[:PORT] ...", "(none)",
           "boot mode: SNTP servers (numeric) the clock is synchronized with; depends = clock waits for it"),
    TYPED(SEC_SYSTEM, "clock_file", K_PATH, SYS(clock_file), "path", "(none)",
          "boot mode: file on persistent storage where the time is saved at shutdown and restored at boot"),
    /* Payload updates (keel update; slot.h). */
    TYPED(SEC_SYSTEM, "update_volume", K_STR, SYS(update_volume), "volume name", "(none: no keel update)",
          "boot mode: the [volume] holding the payload slots A and B and their state"),
    TYPED(SEC_SYSTEM, "update_key", K_PATH, SYS(update_key), "path", "(none: unsigned bundles accepted)",
          "Ed25519 public key (hex) in the image; bundles must be signed with it"),
    TYPED_APPLIED(SEC_SYSTEM, "update_confirm", K_DURATION, SYS(update_confirm_ms), "duration", "60s",
          "how long a new slot's containers must stay healthy before it is committed"),
    CUSTOM(SEC_SYSTEM, "metrics", false, set_metrics, "tcp://IP:PORT", "(none)",
           "Prometheus metrics endpoint: plain HTTP, GET /metrics only (docs/operations.md)"),
    CUSTOM(SEC_SYSTEM, "syslog", false, set_syslog, "udp://IP:PORT|tcp://IP:PORT", "(none)",
           "syslog collector that receives containers' output and keel's messages (RFC 5424)"),

    /* [container NAME] */
    CUSTOM(SEC_CONTAINER, "layers", false, set_layers, "paths separated by ':'", "(required, or the image's)",
           "overlay lower directories or erofs/squashfs image files, leftmost on top; with image, on top of the image's"),
    CUSTOM(SEC_CONTAINER, "upper", false, set_upper, "path or tmpfs", "(none: read-only root)",
           "writable layer; keel makes upper/ and work/ below it; tmpfs for a throw-away one"),
    TYPED(SEC_CONTAINER, "upper_size", K_SIZE, CON(upper_size), "size", "(half of RAM)",
          "size of a tmpfs upper: writes beyond it fail with ENOSPC in this container only"),
    CUSTOM(SEC_CONTAINER, "command", false, set_command, "words", "(required, or the image's)",
           "program and arguments, split like a shell splits words (no shell runs)"),
    CUSTOM(SEC_CONTAINER, "image", false, set_image, "path DEST/NAME", "(none)",
           "an image made by keel import: layers, command, env, workdir, user, stop_signal from DEST/NAME.image; "
           "keys given here override it as docker run's flags do"),
    CUSTOM(SEC_CONTAINER, "env", true, set_env, "NAME=VALUE", "(none)", "environment variable"),
    TYPED(SEC_CONTAINER, "workdir", K_PATH, CON(workdir), "path", "/", "working directory (made when the image lacks it)"),
    CUSTOM(SEC_CONTAINER, "user", false, set_user, "name, UID or UID:GID", "root",
           "user to run as; names come from the container's own /etc/passwd"),
    CUSTOM(SEC_CONTAINER, "hostname", false, set_container_hostname, "host name", "(the container's name)",
           "host name in the container's UTS namespace"),
    CUSTOM(SEC_CONTAINER, "mount", true, set_mount, "SOURCE:TARGET[:ro|rw]", "(none)",
           "bind mount of a host path (nodev, nosuid)"),
    CUSTOM(SEC_CONTAINER, "device", true, set_device, "HOST[:CONTAINER]", "(none)",
           "a device node of the host given in the container's /dev"),
    CUSTOM(SEC_CONTAINER, "env_file", true, set_env_file, "path", "(none)",
           "KEY=VALUE lines (Docker's --env-file syntax), read when the manifest is; env lines win"),
    CUSTOM(SEC_CONTAINER, "secret", true, set_secret, "SRC:DST[:UID:GID:MODE]", "(none)",
           "a host file copied at each start into the container's own tmpfs, bound read-only at DST (0:0:0400)"),
    CUSTOM_APPLIED(SEC_CONTAINER, "network", false, set_network, "none|host|bridge|container:NAME", "none",
           "network mode"),
    CUSTOM(SEC_CONTAINER, "bridge", false, set_bridge, "network name", MANIFEST_DEFAULT_NETWORK,
           "the [network NAME] a bridge-mode container joins"),
    CUSTOM(SEC_CONTAINER, "ip", false, set_ip, "IPv4 address", "(allocated)",
           "the container's address on its bridge network"),
    CUSTOM(SEC_CONTAINER, "ports", true, set_ports, "[HOST_IP:]HOST_PORT:PORT[/tcp|/udp]", "(none)",
           "published port (bridge mode)"),
    CUSTOM(SEC_CONTAINER, "net_rate", false, set_net_rate, "rate", "(unlimited)",
           "egress rate limit, e.g. 10mbit"),
    CUSTOM_APPLIED(SEC_CONTAINER, "restart", false, set_restart, "no|on-failure[:MAX]|always", "no",
           "restart policy"),
    TYPED_APPLIED(SEC_CONTAINER, "restart_delay", K_DURATION, CON(restart_delay_ms), "duration", "100ms",
          "first restart delay; doubles on each quick failure"),
    TYPED_APPLIED(SEC_CONTAINER, "restart_delay_max", K_DURATION, CON(restart_delay_max_ms), "duration", "30s",
          "upper bound of the restart delay"),
    TYPED_APPLIED(SEC_CONTAINER, "restart_reset", K_DURATION, CON(restart_reset_ms), "duration", "10s",
          "a run at least this long resets the delay"),
    CUSTOM_APPLIED(SEC_CONTAINER, "on_crashloop", false, set_on_crashloop, "none|reboot|poweroff", "none",
           "what happens once on-failure:MAX is exhausted"),
    CUSTOM(SEC_CONTAINER, "depends", true, set_depends, "NAME[:started|healthy|ready] | network-online | clock ...",
           "(none)", "containers started before this one and stopped after it; conditions waited for"),
    CUSTOM_APPLIED(SEC_CONTAINER, "stop_signal", false, set_stop_signal, "signal", "SIGTERM",
           "signal that asks the container to stop"),
    TYPED(SEC_CONTAINER, "stop_timeout", K_DURATION, CON(stop_timeout_ms), "duration",
          "([system] stop_timeout)", "time between the stop signal and SIGKILL"),
    CUSTOM(SEC_CONTAINER, "capabilities", false, set_capabilities, "none|all|[+|-]CAP ...",
           "Docker's default minus NET_RAW and MKNOD", "capability bounding/permitted/effective set"),
    CUSTOM_APPLIED(SEC_CONTAINER, "ambient_capabilities", false, set_ambient, "CAP ...", "none",
           "inheritable and ambient capabilities (for a non-root user)"),
    TYPED_APPLIED(SEC_CONTAINER, "main", K_BOOL, CON(main), "yes|no", "no",
          "this container's exit decides keel's (on_exit, keel run's status)"),
    TYPED_APPLIED(SEC_CONTAINER, "no_new_privs", K_BOOL, CON(no_new_privs), "yes|no", "yes",
          "PR_SET_NO_NEW_PRIVS for the container"),
    CUSTOM_APPLIED(SEC_CONTAINER, "seccomp", false, set_seccomp, "default|unconfined|PATH", "default",
           "system call filter"),
    TYPED_APPLIED(SEC_CONTAINER, "nested_userns", K_BOOL, CON(nested_userns), "yes|no", "no",
          "the default filter lets the container create user namespaces (with CAP_SYS_ADMIN)"),
    CUSTOM(SEC_CONTAINER, "rlimit", true, set_rlimit, "NAME=SOFT[:HARD]",
           "nofile=" STRINGIFY(RLIMIT_DEFAULT_NOFILE_SOFT) ":" STRINGIFY(RLIMIT_DEFAULT_NOFILE_HARD),
           "resource limit (setrlimit)"),
    CUSTOM_APPLIED(SEC_CONTAINER, "userns", false, set_userns, "no|auto|INSIDE:HOST:COUNT[,...]", "no",
           "user namespace: container ids mapped to unprivileged host ids, layers idmapped"),
    TYPED_APPLIED(SEC_CONTAINER, "standby", K_BOOL, CON(standby), "yes|no", "no",
          "keep one instance prepared up to its exec, released by keel start and restarts"),
    CUSTOM(SEC_CONTAINER, "memory", false, set_memory, "size|max", "(no limit)", "memory.max"),
    CUSTOM(SEC_CONTAINER, "memory_high", false, set_memory_high, "size|max", "(no limit)", "memory.high"),
    CUSTOM(SEC_CONTAINER, "memory_swap", false, set_memory_swap, "size|max", "(no limit)",
           "memory.swap.max"),
    CUSTOM(SEC_CONTAINER, "cpus", false, set_cpus, "decimal", "(no limit)",
           "cpu.max: quota of CPUs per 100 ms period"),
    CUSTOM(SEC_CONTAINER, "cpu_weight", false, set_cpu_weight, "1..10000", "(100)", "cpu.weight"),
    CUSTOM(SEC_CONTAINER, "cpuset", false, set_cpuset, "CPU list", "(all)", "cpuset.cpus"),
    /* The one place the default lives: a fork bomb in a container that
     * says nothing stops there (Podman's default); `pids = max` lifts it. */
    CUSTOM_APPLIED(SEC_CONTAINER, "pids", false, set_pids, "number|max", "2048",
                   "pids.max: processes and threads of the container; max lifts the limit"),
    CUSTOM(SEC_CONTAINER, "io_weight", false, set_io_weight, "1..10000", "(100)", "io.weight"),
    CUSTOM(SEC_CONTAINER, "io_read_bps", true, set_io_read_bps, "DEVICE SIZE", "(no limit)", "io.max rbps"),
    CUSTOM(SEC_CONTAINER, "io_write_bps", true, set_io_write_bps, "DEVICE SIZE", "(no limit)", "io.max wbps"),
    CUSTOM(SEC_CONTAINER, "io_read_iops", true, set_io_read_iops, "DEVICE NUMBER", "(no limit)",
           "io.max riops"),
    CUSTOM(SEC_CONTAINER, "io_write_iops", true, set_io_write_iops, "DEVICE NUMBER", "(no limit)",
           "io.max wiops"),
    CUSTOM(SEC_CONTAINER, "oom_score_adj", false, set_oom_score_adj, "-1000..1000", "(inherited: 0)",
           "the container's /proc/PID/oom_score_adj"),
    CUSTOM(SEC_CONTAINER, "health", false, set_health, "command or tcp:PORT", "(none)", "health check"),
    TYPED_APPLIED(SEC_CONTAINER, "health_interval", K_DURATION, CON(health_interval_ms), "duration", "10s",
          "time between health checks"),
    TYPED_APPLIED(SEC_CONTAINER, "health_timeout", K_DURATION, CON(health_timeout_ms), "duration", "3s",
          "a check that takes longer fails (and is killed)"),
    U_APPLIED(SEC_CONTAINER, "health_retries", CON(health_retries), sizeof(unsigned), 1, 1000, "3",
      "consecutive failures that make the container unhealthy"),
    TYPED_APPLIED(SEC_CONTAINER, "health_start_period", K_DURATION, CON(health_start_period_ms), "duration",
          "0s", "failures during this time after a start do not count"),
    CUSTOM_APPLIED(SEC_CONTAINER, "on_unhealthy", false, set_on_unhealthy, "restart|none|reboot|poweroff",
           "restart", "what an unhealthy container leads to"),
    CUSTOM_APPLIED(SEC_CONTAINER, "ready", false, set_ready, "none|notify|fd:N", "none",
           "readiness protocol (sd_notify READY=1, or a newline on fd N)"),
    TYPED(SEC_CONTAINER, "start_timeout", K_DURATION, CON(start_timeout_ms), "duration", "0 (forever)",
          "how long a dependant waits for this container's dependencies"),
    CUSTOM_APPLIED(SEC_CONTAINER, "update", false, set_update, "stop-first|start-first", "stop-first",
           "keel apply's replacement: stop the old instance first, or start the new beside it and move the "
           "published ports to it once it is healthy or ready"),

    /* [network NAME] */
    CUSTOM(SEC_NETWORK, "subnet", false, set_subnet, "CIDR", MANIFEST_DEFAULT_SUBNET " (" MANIFEST_DEFAULT_NETWORK ")",
           "the network's IPv4 subnet"),
    CUSTOM(SEC_NETWORK, "gateway", false, set_net_gateway, "IPv4 address", "(first address)",
           "address of the bridge, the containers' default route"),
    U_APPLIED(SEC_NETWORK, "mtu", NET(mtu), sizeof(unsigned), 576, 65535, "1500", "MTU of the bridge and veths"),
    TYPED_APPLIED(SEC_NETWORK, "isolate", K_BOOL, NET(isolate), "yes|no", "no",
          "containers reach the gateway but not each other"),
    CUSTOM(SEC_NETWORK, "host_ports", true, set_host_ports, "PORT[/tcp|/udp] ...", "(none)",
           "ports of the gateway address the containers may connect to; the machine is closed to them otherwise"),
    CUSTOM(SEC_NETWORK, "lan", false, set_lan, "yes|no", "yes",
           "containers may reach private addresses beyond the machine (10/8, 172.16/12, 192.168/16, 100.64/10)"),
    TYPED(SEC_NETWORK, "link_local", K_BOOL, NET(link_local), "yes|no", "no",
          "containers may reach 169.254.0.0/16 beyond the machine (cloud metadata services)"),

    /* [interface NAME] */
    CUSTOM(SEC_INTERFACE, "address", false, set_if_address, "CIDR|dhcp", "(none)",
           "address of the uplink; dhcp: keel's DHCPv4 client sets address, routes and DNS, and network-online"),
    CUSTOM(SEC_INTERFACE, "gateway", false, set_if_gateway, "IPv4 address", "(none)", "default route"),
    U(SEC_INTERFACE, "mtu", IFC(mtu), sizeof(unsigned), 68, 65535, "(unchanged)", "MTU of the uplink"),

    /* [volume NAME] */
    CUSTOM(SEC_VOLUME, "device", false, set_volume_device, "path in /dev", "(none)",
           "the disk, by path (one of device, label, uuid)"),
    CUSTOM(SEC_VOLUME, "label", false, set_volume_label, "label", "(none)",
           "the disk whose file system has this label, read from the superblocks"),
    CUSTOM(SEC_VOLUME, "uuid", false, set_volume_uuid, "UUID", "(none)",
           "the disk whose file system has this UUID, read from the superblocks"),
    CUSTOM(SEC_VOLUME, "fstype", false, set_volume_fstype, "file system type", "(what the superblock says)",
           "the file system to mount the disk as"),
    CUSTOM(SEC_VOLUME, "options", false, set_volume_options, "mount options", "(none: rw)",
           "mount options as in fstab(5); nosuid,nodev always"),
    CUSTOM(SEC_VOLUME, "mkfs", false, set_volume_mkfs, "ext4", "(none: never format)",
           "format the disk named by device with mke2fs when it is empty (all zero, no signature)"),
    /* IPv6 (issue 16) */
    CUSTOM(SEC_NETWORK, "subnet6", false, set_subnet6, "IPv6 PREFIX/64..120", "(none: no IPv6)",
           "dual stack: the network's IPv6 prefix; IPv6 is on for the bridge and its containers only then"),
    CUSTOM(SEC_NETWORK, "gateway6", false, set_net_gateway6, "IPv6 address", "(PREFIX::1)",
           "IPv6 address of the bridge, the containers' IPv6 default route"),
    CUSTOM(SEC_CONTAINER, "ip6", false, set_ip6, "IPv6 address", "(allocated)",
           "the container's IPv6 address on a network with subnet6"),
    CUSTOM(SEC_INTERFACE, "address6", false, set_if_address6, "auto or IPv6 ADDRESS/len", "(none)",
           "boot mode: IPv6 of the uplink: auto (SLAAC and default route from router advertisements) or static"),
    CUSTOM(SEC_INTERFACE, "gateway6", false, set_if_gateway6, "IPv6 address", "(none)",
           "boot mode: IPv6 default route of the uplink (with a static address6)"),
};

/* The sections' key_line arrays and the parser's seen_count (MANIFEST_KEYS_MAX
 * long) are indexed by position in the key table. */
_Static_assert(ARRAY_SIZE(keys) <= MANIFEST_KEYS_MAX, "key_line is too short");

const char *manifest_section_name(enum section_kind k)
{
    switch (k) {
    case SEC_SYSTEM: return "system";
    case SEC_CONTAINER: return "container";
    case SEC_NETWORK: return "network";
    case SEC_INTERFACE: return "interface";
    case SEC_VOLUME: return "volume";
    default: return "?";
    }
}

void manifest_print_keys(FILE *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        fprintf(out, "%s\t%s\t%s\t%s\t%s%s\n", manifest_section_name(keys[i].section), keys[i].name, keys[i].type,
                keys[i].def, keys[i].doc, keys[i].repeatable ? " (repeatable)" : "");
}

/* --- applying one key ------------------------------------------------------- */

static int apply_typed(const struct manifest_key *k, void *obj, const char *v, char *why)
{
    char *field = (char *)obj + k->offset;
    int r;
    switch (k->kind) {
    case K_PATH:
        if ((r = check_abs_path(v, why)) < 0)
            return r;
        /* fall through */
    case K_STR:
        if (!*v)
            return why_set(why, "is empty");
        return replace_str((char **)(void *)field, v);
    case K_BOOL:
        return parse_bool(v, (bool *)(void *)field, why);
    case K_DURATION:
        return parse_duration_ms(v, (uint64_t *)(void *)field, why);
    case K_SIZE: {
        int64_t sz;
        if ((r = parse_size(v, &sz, why)) < 0)
            return r;
        if (sz <= 0 || sz == KEEL_LIMIT_MAX)
            return why_set(why, "'%s' must be a size above zero", v);
        *(uint64_t *)(void *)field = (uint64_t)sz;
        return 0;
    }
    case K_U64: {
        uint64_t x;
        if ((r = parse_u64(v, k->min, k->max, &x, why)) < 0)
            return r;
        if (k->size == sizeof(unsigned))
            *(unsigned *)(void *)field = (unsigned)x;
        else
            *(uint64_t *)(void *)field = x;
        return 0;
    }
    case K_CUSTOM:
        break;
    }
    return -EINVAL;
}

/* --- the interface of manifest_keys.h ------------------------------------------ */

const struct manifest_key *manifest_key_find(enum section_kind section, const char *name, size_t *index)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (keys[i].section == section && strcmp(keys[i].name, name) == 0) {
            *index = i;
            return &keys[i];
        }
    return NULL;
}

bool manifest_key_repeatable(const struct manifest_key *k)
{
    return k->repeatable;
}

int manifest_key_apply(const struct manifest_key *k, void *obj, int line, const char *value, char *why)
{
    return k->kind == K_CUSTOM ? k->set(obj, line, value, why) : apply_typed(k, obj, value, why);
}

static const char *runtime_dir;   /* NULL: /run */

void manifest_set_runtime_dir(const char *dir)
{
    runtime_dir = dir;
}

/* DEF with its /run moved under runtime_dir (log_dir's and control's). */
static const char *default_value(const char *def, char *buf, size_t n)
{
    const char *run = strstr(def, "/run/");
    if (!runtime_dir || !run)
        return def;
    snprintf(buf, n, "%.*s%s%s", (int)(run - def), def, runtime_dir, run + 4);
    return buf;
}

int manifest_keys_apply_defaults(enum section_kind section, bool repeatable, void *obj, const int *key_line,
                                 const char **key, char *why)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (keys[i].section != section || !keys[i].applied || keys[i].repeatable != repeatable || key_line[i])
            continue;
        char buf[PATH_MAX + 16];
        int r = manifest_key_apply(&keys[i], obj, 0, default_value(keys[i].def, buf, sizeof buf), why);
        if (r < 0) {
            *key = keys[i].name;
            return r;
        }
    }
    return 0;
}

/* --- where a key was set ------------------------------------------------------ */

/* LINES is a section's key_line array; FALLBACK its header line.  A name that
 * is no key of the section (a caller's typo) gets the header line too. */
static int key_line_of(enum section_kind section, const int *lines, int fallback, const char *key)
{
    size_t i;
    if (!manifest_key_find(section, key, &i) || !lines[i])
        return fallback;
    return lines[i];
}

int manifest_container_key_line(const struct container_spec *c, const char *key)
{
    return key_line_of(SEC_CONTAINER, c->key_line, c->line, key);
}

int manifest_network_key_line(const struct network_spec *n, const char *key)
{
    return key_line_of(SEC_NETWORK, n->key_line, n->line, key);
}

int manifest_interface_key_line(const struct interface_spec *i, const char *key)
{
    return key_line_of(SEC_INTERFACE, i->key_line, i->line, key);
}

int manifest_system_key_line(const struct system_spec *s, const char *key)
{
    return key_line_of(SEC_SYSTEM, s->key_line, s->line, key);
}

int manifest_volume_key_line(const struct volume_spec *v, const char *key)
{
    return key_line_of(SEC_VOLUME, v->key_line, v->line, key);
}
