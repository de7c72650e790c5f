/* manifest.c — INI manifest -> validated struct manifest, see manifest.h.
 *
 * inih splits lines into section/key/value; everything it would otherwise do
 * silently (truncate long lines and section names, skip bad lines and go on)
 * is caught first by our line reader, which checks every line before inih
 * sees it and reports FILE:LINE errors itself.  Keys are driven by one table
 * (`keys` below): the parser, `keel check --keys` and the documentation test
 * all read it, so they cannot drift apart.
 */
#include "keel/manifest.h"
#include "keel/caps.h"
#include "keel/control.h"
#include "keel/net.h"
#include "keel/parse.h"
#include "keel/boot.h"
#include "keel/rlimit.h"
#include "keel/userns.h"
#include "keel/seccomp.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define MANIFEST_MAX_LINE 4000        /* longer lines are errors, never truncated */
#define MANIFEST_MAX_SIZE (1 << 20)
#define MANIFEST_MAX_CONTAINERS 256
#define MANIFEST_MAX_REPEAT 1024      /* values of one repeatable key in one section */
#define DEFAULT_NETWORK "keel0"

/* --- diagnostics ---------------------------------------------------------- */

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    /* A hostile file can hold a million errors: keep the first DIAG_MAX (a
     * person reads the first few anyway) and count the rest, in O(1) each. */
    if (d->count >= DIAG_MAX) {
        d->dropped++;
        char *last = line > 0 ? xasprintf("%s:%d: ... and %zu more errors up to here", file, line, d->dropped)
                              : xasprintf("%s: ... and %zu more errors", file, d->dropped);
        if (!last)
            return;
        if (d->count == DIAG_MAX) {
            d->count++;   /* the slot after the last kept message, reserved below */
        } else {
            free(d->msgs[DIAG_MAX]);
        }
        d->msgs[DIAG_MAX] = last;
        d->msgs[DIAG_MAX + 1] = NULL;
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *s = line > 0 ? xasprintf("%s:%d: %s", file, line, msg) : xasprintf("%s: %s", file, msg);
    if (!s)
        return;
    if (d->count + 2 > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        if (cap < DIAG_MAX + 2 && d->count + 2 >= DIAG_MAX)
            cap = DIAG_MAX + 2;
        char **nm = realloc(d->msgs, cap * sizeof *nm);
        if (!nm) {
            free(s);
            return;
        }
        d->msgs = nm;
        d->cap = cap;
    }
    d->msgs[d->count++] = s;
    d->msgs[d->count] = NULL;
    if (d->count == DIAG_MAX && d->cap < DIAG_MAX + 2) {
        char **nm = realloc(d->msgs, (DIAG_MAX + 2) * sizeof *nm);
        if (nm) {
            d->msgs = nm;
            d->cap = DIAG_MAX + 2;
        }
    }
}

void diag_free(struct diag *d)
{
    strv_free(d->msgs);
    d->msgs = NULL;
    d->count = d->cap = d->dropped = 0;
}

/* --- names of enums ------------------------------------------------------- */

const char *power_action_name(enum power_action a)
{
    static const char *const names[] = {
        [POWER_NONE] = "none", [POWER_POWEROFF] = "poweroff", [POWER_REBOOT] = "reboot",
        [POWER_HALT] = "halt", [POWER_STAY] = "stay", [POWER_SHELL] = "shell",
        [POWER_RESTART] = "restart",
    };
    return (unsigned)a < ARRAY_SIZE(names) ? names[a] : "?";
}

const char *net_mode_name(enum net_mode n)
{
    static const char *const names[] = {
        [NET_NONE] = "none", [NET_HOST] = "host", [NET_BRIDGE] = "bridge", [NET_CONTAINER] = "container",
    };
    return (unsigned)n < ARRAY_SIZE(names) ? names[n] : "?";
}

const char *restart_policy_name(enum restart_policy r)
{
    static const char *const names[] = {
        [RESTART_NO] = "no", [RESTART_ON_FAILURE] = "on-failure", [RESTART_ALWAYS] = "always",
    };
    return (unsigned)r < ARRAY_SIZE(names) ? names[r] : "?";
}

/* --- parser state --------------------------------------------------------- */

enum section_kind { SEC_NONE, SEC_SYSTEM, SEC_CONTAINER, SEC_NETWORK, SEC_INTERFACE, SEC_BAD };

struct pstate {
    const char *file;
    const char *buf;       /* the whole text */
    size_t len, pos;
    int line;              /* number of the line inih is processing */
    struct manifest *m;
    struct diag *d;
    enum section_kind kind;
    size_t index;          /* index of the current object in its array */
    bool system_seen;
    int seen_line[128];    /* line each key of the current section was set on */
    unsigned seen_count[128];  /* how often a repeatable key was given in it */
    bool *bad_container;   /* per container: a key of it was rejected */
    bool oom;
};

typedef int (*key_setter)(struct pstate *st, void *obj, const char *value, char *why);

enum key_kind { K_STR, K_PATH, K_BOOL, K_DURATION, K_SIZE, K_U64, K_CUSTOM };

struct key_def {
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
};

static void *section_object(struct pstate *st)
{
    struct manifest *m = st->m;
    switch (st->kind) {
    case SEC_SYSTEM: return &m->system;
    case SEC_CONTAINER: return &m->containers[st->index];
    case SEC_NETWORK: return &m->networks[st->index];
    case SEC_INTERFACE: return &m->interfaces[st->index];
    default: return NULL;
    }
}

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

static bool valid_name(const char *s, size_t max)
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

static int set_hostname(struct pstate *st, void *obj, const char *v, char *why)
{
    char **field = st->kind == SEC_SYSTEM ? &((struct system_spec *)obj)->hostname
                                          : &((struct container_spec *)obj)->hostname;
    if (!valid_hostname(v))
        return why_set(why, "'%s' is not a valid host name (letters, digits, '-', '.'; at most 63)", v);
    return replace_str(field, v);
}

static int set_modules(struct pstate *st, void *obj, const char *v, char *why)
{
    struct system_spec *sys = obj;
    _cleanup_strv_ char **words = NULL;
    int r = split_words(v, &words, why);
    if (r < 0)
        return r;
    if (!words[0])
        return why_set(why, "names no module");
    for (size_t i = 0; words[i]; i++) {
        if (!valid_name(words[i], 55))
            return why_set(why, "'%s' is not a module name", words[i]);
        if (!strv_contains(sys->modules, words[i]) && strv_push(&sys->modules, words[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int set_sysctl(struct pstate *st, void *obj, const char *v, char *why)
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

/* SOURCE TARGET FSTYPE [OPTIONS] (boot.h owns the syntax); a target mounted
 * twice is an error, not a silent overlay. */
static int set_fstab(struct pstate *st, void *obj, const char *v, char *why)
{
    struct system_spec *sys = obj;
    struct fstab_entry e;
    int r = boot_fstab_parse(v, &e, why);
    if (r < 0)
        return r;
    for (size_t i = 0; i < sys->n_fstab; i++)
        if (strcmp(sys->fstab[i].target, e.target) == 0) {
            r = why_set(why, "%s is mounted twice (first on line %d)", e.target, sys->fstab[i].line);
            boot_fstab_free(&e);
            return r;
        }
    struct fstab_entry *n = realloc(sys->fstab, (sys->n_fstab + 1) * sizeof *n);
    if (!n) {
        boot_fstab_free(&e);
        return -ENOMEM;
    }
    e.line = st->line;
    sys->fstab = n;
    sys->fstab[sys->n_fstab++] = e;
    return 0;
}

static int set_dns(struct pstate *st, void *obj, const char *v, char *why)
{
    struct in_addr a;
    int r = parse_ipv4(v, &a, why);
    if (r < 0)
        return r;
    return strv_push(&((struct system_spec *)obj)->dns, v);
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

static int set_on_exit(struct pstate *st, void *obj, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_POWEROFF, POWER_REBOOT, POWER_HALT, POWER_STAY };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct system_spec *)obj)->on_exit, why);
}

static int set_on_error(struct pstate *st, void *obj, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_POWEROFF, POWER_REBOOT, POWER_SHELL };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct system_spec *)obj)->on_error, why);
}

static int set_control(struct pstate *st, void *obj, const char *v, char *why)
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
    struct control_url u;
    struct kerr e = { 0 };
    if (control_url_parse(v, true, &u, &e) < 0)
        return why_set(why, "%s", e.msg);
    if (strv_contains(sys->control, v))
        return why_set(why, "'%s' is given twice", v);
    return strv_push(&sys->control, v);
}

/* --- custom setters: [container] ------------------------------------------ */

static int set_layers(struct pstate *st, void *obj, const char *v, char *why)
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
    c->layers_line = st->line;
    return 0;
}

static int set_upper(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (strcmp(v, "tmpfs") != 0) {
        int r = check_abs_path(v, why);
        if (r < 0)
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

static int set_command(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    int r = set_argv(&c->argv, v, why);
    if (r == 0 && c->argv[0][0] != '/')
        return why_set(why, "'%s' is not an absolute path (no PATH search is done)", c->argv[0]);
    return r;
}

static int set_env(struct pstate *st, void *obj, const char *v, char *why)
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

static int set_user(struct pstate *st, void *obj, const char *v, char *why)
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
    } else if (!valid_name(v, 32)) {
        return why_set(why, "'%s' is not a user name", v);
    }
    return replace_str(&c->user, v);
}

static int set_mount(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    _cleanup_free_ char *copy = strdup(v);
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
                              .line = st->line };
    if (!b->source || !b->target) {
        free(b->source);
        free(b->target);
        return -ENOMEM;
    }
    c->n_mounts++;
    return 0;
}

static int set_network(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (strcmp(v, "none") == 0)
        c->net = NET_NONE;
    else if (strcmp(v, "host") == 0)
        c->net = NET_HOST;
    else if (strcmp(v, "bridge") == 0)
        c->net = NET_BRIDGE;
    else if (str_starts(v, "container:")) {
        if (!valid_name(v + 10, KEEL_NAME_MAX))
            return why_set(why, "'%s' does not name a container", v);
        c->net = NET_CONTAINER;
        return replace_str(&c->net_peer, v + 10);
    } else
        return why_set(why, "'%s' is not none, host, bridge or container:NAME", v);
    return 0;
}

static int set_bridge(struct pstate *st, void *obj, const char *v, char *why)
{
    if (!valid_name(v, 15))
        return why_set(why, "'%s' is not a network name", v);
    return replace_str(&((struct container_spec *)obj)->bridge, v);
}

static int set_ip(struct pstate *st, void *obj, const char *v, char *why)
{
    return parse_ipv4(v, &((struct container_spec *)obj)->ip, why);
}

/* [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp] */
static int set_ports(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    struct port_map pm = { .proto = IPPROTO_TCP, .line = st->line };
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

static int set_net_rate(struct pstate *st, void *obj, const char *v, char *why)
{
    return parse_rate_bits(v, &((struct container_spec *)obj)->net_rate, why);
}

static int set_restart(struct pstate *st, void *obj, const char *v, char *why)
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

static int set_on_crashloop(struct pstate *st, void *obj, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_NONE, POWER_REBOOT, POWER_POWEROFF };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct container_spec *)obj)->on_crashloop, why);
}

static int set_on_unhealthy(struct pstate *st, void *obj, const char *v, char *why)
{
    static const enum power_action ok[] = { POWER_RESTART, POWER_NONE, POWER_REBOOT, POWER_POWEROFF };
    return parse_power(v, ok, ARRAY_SIZE(ok), &((struct container_spec *)obj)->on_unhealthy, why);
}

static int set_depends(struct pstate *st, void *obj, const char *v, char *why)
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
        if (!valid_name(name, KEEL_NAME_MAX))
            return why_set(why, "'%s' is not a container name", name);
        if (c->n_deps >= MANIFEST_MAX_CONTAINERS)
            return why_set(why, "more than %d dependencies", MANIFEST_MAX_CONTAINERS);
        struct dependency *nd = realloc(c->deps, (c->n_deps + 1) * sizeof *nd);
        if (!nd)
            return -ENOMEM;
        c->deps = nd;
        c->deps[c->n_deps] = (struct dependency){ .name = strdup(name), .condition = cond, .index = -1,
                                                  .line = st->line };
        if (!c->deps[c->n_deps].name)
            return -ENOMEM;
        c->n_deps++;
    }
    return 0;
}

static int set_stop_signal(struct pstate *st, void *obj, const char *v, char *why)
{
    return parse_signal(v, &((struct container_spec *)obj)->stop_signal, why);
}

static int set_capabilities(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    c->caps = caps_default();
    return caps_parse(v, &c->caps, why);
}

static int set_ambient(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    c->caps_ambient = 0;
    return caps_parse(v, &c->caps_ambient, why);
}

static int set_seccomp(struct pstate *st, void *obj, const char *v, char *why)
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

static int set_memory(struct pstate *st, void *obj, const char *v, char *why)
{
    return set_sizefield(&((struct container_spec *)obj)->memory_max, v, why);
}
static int set_memory_high(struct pstate *st, void *obj, const char *v, char *why)
{
    return set_sizefield(&((struct container_spec *)obj)->memory_high, v, why);
}
static int set_memory_swap(struct pstate *st, void *obj, const char *v, char *why)
{
    return set_sizefield(&((struct container_spec *)obj)->memory_swap, v, why);
}

static int set_cpus(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    return parse_cpus(v, &c->cpu_quota_us, &c->cpu_period_us, why);
}

static int set_i64_range(int64_t *field, const char *v, int64_t min, int64_t max, char *why)
{
    return parse_i64(v, min, max, field, why);
}

static int set_cpu_weight(struct pstate *st, void *obj, const char *v, char *why)
{
    return set_i64_range(&((struct container_spec *)obj)->cpu_weight, v, 1, 10000, why);
}

static int set_io_weight(struct pstate *st, void *obj, const char *v, char *why)
{
    return set_i64_range(&((struct container_spec *)obj)->io_weight, v, 1, 10000, why);
}

static int set_pids(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    if (strcmp(v, "max") == 0) {
        c->pids_max = KEEL_LIMIT_MAX;
        return 0;
    }
    return set_i64_range(&c->pids_max, v, 1, 4194304, why);
}

static int set_cpuset(struct pstate *st, void *obj, const char *v, char *why)
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

static int set_io_read_bps(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_read_bps, &c->n_io_read_bps, v, true, st->line, why);
}
static int set_io_write_bps(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_write_bps, &c->n_io_write_bps, v, true, st->line, why);
}
static int set_io_read_iops(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_read_iops, &c->n_io_read_iops, v, false, st->line, why);
}
static int set_io_write_iops(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    return add_io_limit(&c->io_write_iops, &c->n_io_write_iops, v, false, st->line, why);
}

static int set_oom_score_adj(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    int64_t x;
    if (parse_i64(v, -1000, 1000, &x, why) < 0)
        return -EINVAL;
    c->oom_score_adj = (int)x;
    c->oom_score_adj_set = true;
    return 0;
}

static int set_health(struct pstate *st, void *obj, const char *v, char *why)
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

static int set_ready(struct pstate *st, void *obj, const char *v, char *why)
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

/* no | auto | INSIDE:HOST:COUNT[,...] (userns.h owns the syntax and its checks). */
static int set_userns(struct pstate *st, void *obj, const char *v, char *why)
{
    return userns_parse(v, obj, why);
}

/* NAME=SOFT[:HARD] (rlimit.h owns the syntax); a later value for the same
 * resource is an error, not a silent override. */
static int set_rlimit(struct pstate *st, void *obj, const char *v, char *why)
{
    struct container_spec *c = obj;
    struct rlimit_spec r;
    int e = rlimit_parse(v, &r, why);
    if (e < 0)
        return e;
    for (size_t i = 0; i < c->n_rlimits; i++)
        if (c->rlimits[i].resource == r.resource)
            return why_set(why, "%s is limited twice (first on line %d)", rlimit_name(r.resource), c->rlimits[i].line);
    r.line = st->line;
    struct rlimit_spec *nr = realloc(c->rlimits, (c->n_rlimits + 1) * sizeof *nr);
    if (!nr)
        return -ENOMEM;
    c->rlimits = nr;
    c->rlimits[c->n_rlimits++] = r;
    return 0;
}

/* --- custom setters: [network] and [interface] ------------------------------ */

static int set_subnet(struct pstate *st, void *obj, const char *v, char *why)
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

static int set_net_gateway(struct pstate *st, void *obj, const char *v, char *why)
{
    return parse_ipv4(v, &((struct network_spec *)obj)->gateway, why);
}

static int set_if_address(struct pstate *st, void *obj, const char *v, char *why)
{
    struct interface_spec *i = obj;
    if (parse_cidr(v, &i->address, &i->prefix, why) < 0)
        return -EINVAL;
    i->has_address = true;
    return 0;
}

static int set_if_gateway(struct pstate *st, void *obj, const char *v, char *why)
{
    return parse_ipv4(v, &((struct interface_spec *)obj)->gateway, why);
}

/* --- the key table ----------------------------------------------------------- */

#define SYS(f) offsetof(struct system_spec, f)
#define CON(f) offsetof(struct container_spec, f)
#define NET(f) offsetof(struct network_spec, f)
#define IFC(f) offsetof(struct interface_spec, f)
#define U(sec, name, off, field_size, lo, hi, def, doc) \
    { sec, K_U64, name, off, lo, hi, field_size, false, NULL, "number", def, doc }
#define CUSTOM(sec, name, rep, fn, type, def, doc) \
    { sec, K_CUSTOM, name, 0, 0, 0, 0, rep, fn, type, def, doc }
#define TYPED(sec, name, kind, off, type, def, doc) \
    { sec, kind, name, off, 0, 0, 0, false, NULL, type, def, doc }

static const struct key_def keys[] = {
    /* [system] */
    CUSTOM(SEC_SYSTEM, "hostname", false, set_hostname, "host name", "(unchanged)",
           "host name keel sets in boot mode"),
    TYPED(SEC_SYSTEM, "stop_timeout", K_DURATION, SYS(stop_timeout_ms), "duration", "10s",
          "time between a container's stop signal and SIGKILL (default for every container)"),
    TYPED(SEC_SYSTEM, "log_dir", K_PATH, SYS(log_dir), "path", "/run/keel/log",
          "directory of the containers' log files NAME.log"),
    TYPED(SEC_SYSTEM, "log_max_size", K_SIZE, SYS(log_max_size), "size", "1M",
          "a container's log file is rotated when it reaches this size"),
    U(SEC_SYSTEM, "log_keep", SYS(log_keep), sizeof(unsigned), 0, 100, "2",
      "rotated log files kept per container (NAME.log.1 ...)"),
    CUSTOM(SEC_SYSTEM, "modules", true, set_modules, "names", "(none)",
           "kernel modules loaded at boot, with their dependencies"),
    CUSTOM(SEC_SYSTEM, "fstab", true, set_fstab, "SOURCE TARGET FSTYPE [OPTIONS]", "(none)",
           "boot mode: a file system mounted after the modules (a data disk, say)"),
    CUSTOM(SEC_SYSTEM, "sysctl", true, set_sysctl, "KEY=VALUE", "(none)",
           "kernel parameter written under /proc/sys at boot"),
    CUSTOM(SEC_SYSTEM, "dns", true, set_dns, "IPv4 address", "(none)",
           "name server for /etc/resolv.conf (the system's and the containers')"),
    CUSTOM(SEC_SYSTEM, "on_exit", false, set_on_exit, "poweroff|reboot|halt|stay", "poweroff",
           "boot mode: what happens when the main container (or all) exited for good"),
    CUSTOM(SEC_SYSTEM, "on_error", false, set_on_error, "poweroff|reboot|shell", "poweroff",
           "boot mode: what a fatal boot error leads to (after a 5 s pause)"),
    TYPED(SEC_SYSTEM, "rescue_shell", K_PATH, SYS(rescue_shell), "path", "(none)",
          "shell run by on_error = shell"),
    CUSTOM(SEC_SYSTEM, "control", true, set_control, "URL", "unix:///run/keel.sock",
           "control listener: unix://PATH, tcp://HOST:PORT (mutual TLS), vsock://PORT, fd://N"),
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
    TYPED(SEC_SYSTEM, "watchdog_timeout", K_DURATION, SYS(watchdog_timeout_ms), "duration", "30s",
          "watchdog timeout set on the device"),

    /* [container NAME] */
    CUSTOM(SEC_CONTAINER, "layers", false, set_layers, "paths separated by ':'", "(required)",
           "overlay lower directories, leftmost on top"),
    CUSTOM(SEC_CONTAINER, "upper", false, set_upper, "path or tmpfs", "(none: read-only root)",
           "writable layer; keel makes upper/ and work/ below it; tmpfs for a throw-away one"),
    TYPED(SEC_CONTAINER, "upper_size", K_SIZE, CON(upper_size), "size", "(half of RAM)",
          "size of a tmpfs upper: writes beyond it fail with ENOSPC in this container only"),
    CUSTOM(SEC_CONTAINER, "command", false, set_command, "words", "(required)",
           "program and arguments, split like a shell splits words (no shell runs)"),
    CUSTOM(SEC_CONTAINER, "env", true, set_env, "NAME=VALUE", "(none)", "environment variable"),
    TYPED(SEC_CONTAINER, "workdir", K_PATH, CON(workdir), "path", "/", "working directory"),
    CUSTOM(SEC_CONTAINER, "user", false, set_user, "name, UID or UID:GID", "root",
           "user to run as; names come from the container's own /etc/passwd"),
    CUSTOM(SEC_CONTAINER, "hostname", false, set_hostname, "host name", "(the container's name)",
           "host name in the container's UTS namespace"),
    CUSTOM(SEC_CONTAINER, "mount", true, set_mount, "SOURCE:TARGET[:ro|rw]", "(none)",
           "bind mount of a host path (nodev, nosuid)"),
    CUSTOM(SEC_CONTAINER, "network", false, set_network, "none|host|bridge|container:NAME", "none",
           "network mode"),
    CUSTOM(SEC_CONTAINER, "bridge", false, set_bridge, "network name", DEFAULT_NETWORK,
           "the [network NAME] a bridge-mode container joins"),
    CUSTOM(SEC_CONTAINER, "ip", false, set_ip, "IPv4 address", "(allocated)",
           "the container's address on its bridge network"),
    CUSTOM(SEC_CONTAINER, "ports", true, set_ports, "[HOST_IP:]HOST_PORT:PORT[/tcp|/udp]", "(none)",
           "published port (bridge mode)"),
    CUSTOM(SEC_CONTAINER, "net_rate", false, set_net_rate, "rate", "(unlimited)",
           "egress rate limit, e.g. 10mbit"),
    CUSTOM(SEC_CONTAINER, "restart", false, set_restart, "no|on-failure[:MAX]|always", "no",
           "restart policy"),
    TYPED(SEC_CONTAINER, "restart_delay", K_DURATION, CON(restart_delay_ms), "duration", "100ms",
          "first restart delay; doubles on each quick failure"),
    TYPED(SEC_CONTAINER, "restart_delay_max", K_DURATION, CON(restart_delay_max_ms), "duration", "30s",
          "upper bound of the restart delay"),
    TYPED(SEC_CONTAINER, "restart_reset", K_DURATION, CON(restart_reset_ms), "duration", "10s",
          "a run at least this long resets the delay"),
    CUSTOM(SEC_CONTAINER, "on_crashloop", false, set_on_crashloop, "none|reboot|poweroff", "none",
           "what happens once on-failure:MAX is exhausted"),
    CUSTOM(SEC_CONTAINER, "depends", true, set_depends, "NAME[:started|healthy|ready] ...", "(none)",
           "containers started before this one and stopped after it"),
    CUSTOM(SEC_CONTAINER, "stop_signal", false, set_stop_signal, "signal", "SIGTERM",
           "signal that asks the container to stop"),
    TYPED(SEC_CONTAINER, "stop_timeout", K_DURATION, CON(stop_timeout_ms), "duration",
          "([system] stop_timeout)", "time between the stop signal and SIGKILL"),
    CUSTOM(SEC_CONTAINER, "capabilities", false, set_capabilities, "none|all|[+|-]CAP ...",
           "Docker's default minus NET_RAW and MKNOD", "capability bounding/permitted/effective set"),
    CUSTOM(SEC_CONTAINER, "ambient_capabilities", false, set_ambient, "CAP ...", "none",
           "inheritable and ambient capabilities (for a non-root user)"),
    TYPED(SEC_CONTAINER, "main", K_BOOL, CON(main), "yes|no", "no",
          "this container's exit decides keel's (on_exit, keel run's status)"),
    TYPED(SEC_CONTAINER, "no_new_privs", K_BOOL, CON(no_new_privs), "yes|no", "yes",
          "PR_SET_NO_NEW_PRIVS for the container"),
    CUSTOM(SEC_CONTAINER, "seccomp", false, set_seccomp, "default|unconfined|PATH", "default",
           "system call filter"),
    CUSTOM(SEC_CONTAINER, "rlimit", true, set_rlimit, "NAME=SOFT[:HARD]", "nofile=1024:524288",
           "resource limit (setrlimit)"),
    CUSTOM(SEC_CONTAINER, "userns", false, set_userns, "no|auto|INSIDE:HOST:COUNT[,...]", "no",
           "user namespace: container ids mapped to unprivileged host ids, layers idmapped"),
    CUSTOM(SEC_CONTAINER, "memory", false, set_memory, "size|max", "(no limit)", "memory.max"),
    CUSTOM(SEC_CONTAINER, "memory_high", false, set_memory_high, "size|max", "(no limit)", "memory.high"),
    CUSTOM(SEC_CONTAINER, "memory_swap", false, set_memory_swap, "size|max", "(no limit)",
           "memory.swap.max"),
    CUSTOM(SEC_CONTAINER, "cpus", false, set_cpus, "decimal", "(no limit)",
           "cpu.max: quota of CPUs per 100 ms period"),
    CUSTOM(SEC_CONTAINER, "cpu_weight", false, set_cpu_weight, "1..10000", "(100)", "cpu.weight"),
    CUSTOM(SEC_CONTAINER, "cpuset", false, set_cpuset, "CPU list", "(all)", "cpuset.cpus"),
    CUSTOM(SEC_CONTAINER, "pids", false, set_pids, "number|max", "(no limit)", "pids.max"),
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
    TYPED(SEC_CONTAINER, "health_interval", K_DURATION, CON(health_interval_ms), "duration", "10s",
          "time between health checks"),
    TYPED(SEC_CONTAINER, "health_timeout", K_DURATION, CON(health_timeout_ms), "duration", "3s",
          "a check that takes longer fails (and is killed)"),
    U(SEC_CONTAINER, "health_retries", CON(health_retries), sizeof(unsigned), 1, 1000, "3",
      "consecutive failures that make the container unhealthy"),
    TYPED(SEC_CONTAINER, "health_start_period", K_DURATION, CON(health_start_period_ms), "duration",
          "0s", "failures during this time after a start do not count"),
    CUSTOM(SEC_CONTAINER, "on_unhealthy", false, set_on_unhealthy, "restart|none|reboot|poweroff",
           "restart", "what an unhealthy container leads to"),
    CUSTOM(SEC_CONTAINER, "ready", false, set_ready, "none|notify|fd:N", "none",
           "readiness protocol (sd_notify READY=1, or a newline on fd N)"),
    TYPED(SEC_CONTAINER, "start_timeout", K_DURATION, CON(start_timeout_ms), "duration", "0 (forever)",
          "how long a dependant waits for this container's dependencies"),

    /* [network NAME] */
    CUSTOM(SEC_NETWORK, "subnet", false, set_subnet, "CIDR", "172.30.0.0/24 (keel0)",
           "the network's IPv4 subnet"),
    CUSTOM(SEC_NETWORK, "gateway", false, set_net_gateway, "IPv4 address", "(first address)",
           "address of the bridge, the containers' default route"),
    U(SEC_NETWORK, "mtu", NET(mtu), sizeof(unsigned), 576, 65535, "1500", "MTU of the bridge and veths"),
    TYPED(SEC_NETWORK, "isolate", K_BOOL, NET(isolate), "yes|no", "no",
          "containers reach the gateway but not each other"),

    /* [interface NAME] */
    CUSTOM(SEC_INTERFACE, "address", false, set_if_address, "CIDR", "(none)", "address of the uplink"),
    CUSTOM(SEC_INTERFACE, "gateway", false, set_if_gateway, "IPv4 address", "(none)", "default route"),
    U(SEC_INTERFACE, "mtu", IFC(mtu), sizeof(unsigned), 68, 65535, "(unchanged)", "MTU of the uplink"),
};

/* The per-section bookkeeping is indexed by position in the key table. */
_Static_assert(ARRAY_SIZE(keys) <= ARRAY_SIZE(((struct pstate *)0)->seen_line), "pstate.seen_line is too short");

static const char *section_name(enum section_kind k)
{
    switch (k) {
    case SEC_SYSTEM: return "system";
    case SEC_CONTAINER: return "container";
    case SEC_NETWORK: return "network";
    case SEC_INTERFACE: return "interface";
    default: return "?";
    }
}

void manifest_print_keys(FILE *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        fprintf(out, "%s\t%s\t%s\t%s\t%s%s\n", section_name(keys[i].section), keys[i].name, keys[i].type,
                keys[i].def, keys[i].doc, keys[i].repeatable ? " (repeatable)" : "");
}

/* --- applying one key ------------------------------------------------------- */

static int apply_typed(const struct key_def *k, void *obj, const char *v, char *why)
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

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
    struct pstate *st = user;
    (void)section;
    if (st->kind == SEC_BAD)
        return 1;      /* the section header was already reported */
    if (st->kind == SEC_NONE) {
        diag_add(st->d, st->file, st->line, "key '%s' outside of any section", name);
        return 1;
    }
    const struct key_def *k = NULL;
    size_t ki = 0;
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (keys[i].section == st->kind && strcmp(keys[i].name, name) == 0) {
            k = &keys[i];
            ki = i;
            break;
        }
    if (!k) {
        diag_add(st->d, st->file, st->line, "unknown key '%s' in [%s]", name, section_name(st->kind));
        return 1;
    }
    if (k->repeatable && ++st->seen_count[ki] > MANIFEST_MAX_REPEAT) {
        if (st->seen_count[ki] == MANIFEST_MAX_REPEAT + 1)
            diag_add(st->d, st->file, st->line, "more than %d '%s' lines in this section", MANIFEST_MAX_REPEAT, name);
        return 1;
    }
    if (!k->repeatable && st->seen_line[ki]) {
        diag_add(st->d, st->file, st->line, "'%s' is set twice in this section (first on line %d)", name,
                 st->seen_line[ki]);
        return 1;
    }
    st->seen_line[ki] = st->line;
    char why[PARSE_WHY_MAX] = "is not valid";
    void *obj = section_object(st);
    int r = k->kind == K_CUSTOM ? k->set(st, obj, value, why) : apply_typed(k, obj, value, why);
    if (r == -ENOMEM) {
        st->oom = true;
        diag_add(st->d, st->file, st->line, "out of memory");
    } else if (r < 0) {
        diag_add(st->d, st->file, st->line, "%s: %s", name, why);
        if (st->kind == SEC_CONTAINER && st->bad_container)
            st->bad_container[st->index] = true;
    }
    return 1;
}

/* --- sections --------------------------------------------------------------- */

static void container_defaults(struct container_spec *c, const struct system_spec *sys)
{
    c->stop_signal = SIGTERM;
    c->stop_timeout_ms = UINT64_MAX;  /* resolved to [system] stop_timeout after parsing */
    c->caps = caps_default();
    c->no_new_privs = true;
    c->restart_delay_ms = 100;
    c->restart_delay_max_ms = 30000;
    c->restart_reset_ms = 10000;
    c->net = NET_NONE;
    c->memory_max = c->memory_high = c->memory_swap = KEEL_LIMIT_UNSET;
    c->cpu_quota_us = c->cpu_period_us = c->cpu_weight = KEEL_LIMIT_UNSET;
    c->pids_max = c->io_weight = KEEL_LIMIT_UNSET;
    c->health_interval_ms = 10000;
    c->health_timeout_ms = 3000;
    c->health_retries = 3;
    c->on_unhealthy = POWER_RESTART;
    (void)sys;
}

static void begin_section(struct pstate *st, const char *header)
{
    struct manifest *m = st->m;
    memset(st->seen_line, 0, sizeof st->seen_line);
    memset(st->seen_count, 0, sizeof st->seen_count);
    st->kind = SEC_BAD;
    char kind[32], name[128];
    const char *sp = strchr(header, ' ');
    if (!sp) {
        if (strcmp(header, "system") == 0) {
            if (st->system_seen) {
                diag_add(st->d, st->file, st->line, "[system] appears twice");
                return;
            }
            st->system_seen = true;
            st->kind = SEC_SYSTEM;
            return;
        }
        if (strcmp(header, "container") == 0 || strcmp(header, "network") == 0 ||
            strcmp(header, "interface") == 0) {
            diag_add(st->d, st->file, st->line, "[%s] needs a name: [%s NAME]", header, header);
            return;
        }
        diag_add(st->d, st->file, st->line, "unknown section [%s] (system, container NAME, network NAME, "
                 "interface NAME)", header);
        return;
    }
    if ((size_t)(sp - header) >= sizeof kind || strlen(sp + 1) >= sizeof name) {
        diag_add(st->d, st->file, st->line, "unknown section [%s]", header);
        return;
    }
    memcpy(kind, header, (size_t)(sp - header));
    kind[sp - header] = '\0';
    strcpy(name, sp + 1);

    enum section_kind k;
    size_t max;
    if (strcmp(kind, "container") == 0)
        k = SEC_CONTAINER, max = KEEL_NAME_MAX;
    else if (strcmp(kind, "network") == 0)
        k = SEC_NETWORK, max = 15;   /* it names the bridge link: IFNAMSIZ - 1 */
    else if (strcmp(kind, "interface") == 0)
        k = SEC_INTERFACE, max = 15;
    else {
        diag_add(st->d, st->file, st->line, "unknown section [%s] (system, container NAME, network NAME, "
                 "interface NAME)", header);
        return;
    }
    if (!valid_name(name, max)) {
        diag_add(st->d, st->file, st->line, "'%s' is not a valid %s name (letters, digits, '_', '.', '-'; "
                 "at most %zu)", name, kind, max);
        return;
    }

    if (k == SEC_CONTAINER) {
        if (strcmp(name, "supervisor") == 0) {
            /* keel's own cgroup leaf beside the containers' has that name. */
            diag_add(st->d, st->file, st->line, "'supervisor' is reserved for keel itself");
            return;
        }
        if (manifest_find_container(m, name) >= 0) {
            diag_add(st->d, st->file, st->line, "container '%s' is defined twice", name);
            return;
        }
        if (m->n_containers >= MANIFEST_MAX_CONTAINERS) {
            diag_add(st->d, st->file, st->line, "more than %d containers", MANIFEST_MAX_CONTAINERS);
            return;
        }
        struct container_spec *nc = realloc(m->containers, (m->n_containers + 1) * sizeof *nc);
        if (!nc)
            goto oom;
        m->containers = nc;
        bool *nb = realloc(st->bad_container, (m->n_containers + 1) * sizeof *nb);
        if (!nb)
            goto oom;
        st->bad_container = nb;
        nb[m->n_containers] = false;
        struct container_spec *c = &nc[m->n_containers];
        memset(c, 0, sizeof *c);
        container_defaults(c, &m->system);
        c->line = st->line;
        if (!(c->name = strdup(name)))
            goto oom;
        st->index = m->n_containers++;
    } else if (k == SEC_NETWORK) {
        if (manifest_find_network(m, name)) {
            diag_add(st->d, st->file, st->line, "network '%s' is defined twice", name);
            return;
        }
        struct network_spec *nn = realloc(m->networks, (m->n_networks + 1) * sizeof *nn);
        if (!nn)
            goto oom;
        m->networks = nn;
        nn[m->n_networks] = (struct network_spec){ .line = st->line, .mtu = 1500, .name = strdup(name) };
        if (!nn[m->n_networks].name)
            goto oom;
        st->index = m->n_networks++;
    } else {
        for (size_t i = 0; i < m->n_interfaces; i++)
            if (strcmp(m->interfaces[i].name, name) == 0) {
                diag_add(st->d, st->file, st->line, "interface '%s' is defined twice", name);
                return;
            }
        struct interface_spec *ni = realloc(m->interfaces, (m->n_interfaces + 1) * sizeof *ni);
        if (!ni)
            goto oom;
        m->interfaces = ni;
        ni[m->n_interfaces] = (struct interface_spec){ .line = st->line, .name = strdup(name) };
        if (!ni[m->n_interfaces].name)
            goto oom;
        st->index = m->n_interfaces++;
    }
    st->kind = k;
    return;
oom:
    st->oom = true;
    diag_add(st->d, st->file, st->line, "out of memory");
}

/* --- the line reader: every line is checked before inih sees it ------------- */

static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0)
            len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (i + len > n)
            return false;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Checks one line (without its newline).  Returns true when inih may see it;
 * false when it was reported (or was a section header, handled here). */
static bool check_line(struct pstate *st, const char *line, size_t n)
{
    if (n > MANIFEST_MAX_LINE) {
        diag_add(st->d, st->file, st->line, "line is longer than %d bytes", MANIFEST_MAX_LINE);
        return false;
    }
    /* A rejected header leaves the keys below it without a section: mark the
     * section bad so they are not all reported again as "outside a section". */
    bool is_header = n > 0 && memchr(line, '[', n) && line[strspn(line, " \t")] == '[';
    if (memchr(line, '\0', n)) {
        diag_add(st->d, st->file, st->line, "line contains a NUL byte");
        if (is_header)
            st->kind = SEC_BAD;
        return false;
    }
    if (!valid_utf8((const unsigned char *)line, n)) {
        diag_add(st->d, st->file, st->line, "line is not valid UTF-8");
        if (is_header)
            st->kind = SEC_BAD;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t' && !(line[i] == '\r' && i == n - 1)) {
            diag_add(st->d, st->file, st->line, "line contains a control character");
            return false;
        }
    size_t a = 0, b = n;
    while (a < b && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t' || line[b - 1] == '\r'))
        b--;
    if (a == b || line[a] == ';' || line[a] == '#')
        return true;
    if (line[a] == '[') {
        const char *close = memchr(line + a, ']', b - a);
        if (!close) {
            diag_add(st->d, st->file, st->line, "section header has no closing ']'");
            st->kind = SEC_BAD;
            return false;
        }
        /* Only a comment may follow the header. */
        const char *rest = close + 1;
        while (rest < line + b && (*rest == ' ' || *rest == '\t'))
            rest++;
        if (rest < line + b && *rest != ';' && *rest != '#') {
            diag_add(st->d, st->file, st->line, "text after the section header");
            st->kind = SEC_BAD;
            return false;
        }
        char header[160];
        size_t hl = (size_t)(close - (line + a + 1));
        if (hl >= sizeof header) {
            diag_add(st->d, st->file, st->line, "section name is too long");
            st->kind = SEC_BAD;
            return false;
        }
        memcpy(header, line + a + 1, hl);
        header[hl] = '\0';
        /* Normalize inner blanks: "[container  web]" is "[container web]". */
        char norm[160];
        size_t o = 0;
        for (char *p = header, *save = NULL, *tok; (tok = strtok_r(p, " \t", &save)); p = NULL)
            o += (size_t)snprintf(norm + o, sizeof norm - o, "%s%s", o ? " " : "", tok);
        norm[o] = '\0';
        if (!o) {
            diag_add(st->d, st->file, st->line, "empty section name");
            st->kind = SEC_BAD;
            return false;
        }
        if (strchr(norm, ' ') != strrchr(norm, ' ')) {
            diag_add(st->d, st->file, st->line, "section header [%s] has more than two words", norm);
            st->kind = SEC_BAD;
            return false;
        }
        begin_section(st, norm);
        return false;  /* inih does not need to see headers: the state is ours */
    }
    const char *eq = memchr(line + a, '=', b - a);
    const char *colon = memchr(line + a, ':', b - a);
    if (!eq || (colon && colon < eq)) {
        diag_add(st->d, st->file, st->line, "expected KEY = VALUE, a [section] or a comment");
        return false;
    }
    if (eq == line + a) {
        diag_add(st->d, st->file, st->line, "missing key name before '='");
        return false;
    }
    return true;
}

/* inih's reader callback: hands out one checked line at a time. */
static char *read_line(char *out, int size, void *user)
{
    struct pstate *st = user;
    while (st->pos < st->len) {
        const char *start = st->buf + st->pos;
        const char *nl = memchr(start, '\n', st->len - st->pos);
        size_t n = nl ? (size_t)(nl - start) : st->len - st->pos;
        st->pos += n + (nl ? 1 : 0);
        st->line++;
        if (!check_line(st, start, n))
            continue;
        if (n + 2 > (size_t)size) {   /* cannot happen: ini_max_line > MANIFEST_MAX_LINE */
            diag_add(st->d, st->file, st->line, "line is too long");
            continue;
        }
        memcpy(out, start, n);
        out[n] = '\n';
        out[n + 1] = '\0';
        return out;
    }
    return NULL;
}

/* --- validation --------------------------------------------------------------- */

static void resolve_defaults(struct manifest *m)
{
    struct system_spec *sys = &m->system;
    for (size_t i = 0; i < m->n_containers; i++) {
        struct container_spec *c = &m->containers[i];
        if (c->stop_timeout_ms == UINT64_MAX)
            c->stop_timeout_ms = sys->stop_timeout_ms;
        if (c->net == NET_BRIDGE && !c->bridge)
            c->bridge = strdup(DEFAULT_NETWORK);
    }
    for (size_t i = 0; i < m->n_networks; i++) {
        struct network_spec *n = &m->networks[i];
        if (!n->prefix && strcmp(n->name, DEFAULT_NETWORK) == 0) {
            inet_pton(AF_INET, "172.30.0.0", &n->subnet);
            n->prefix = 24;
        }
        if (!n->gateway.s_addr && n->prefix)
            n->gateway.s_addr = htonl(ntohl(n->subnet.s_addr) + 1);
    }
}

static int add_default_network(struct manifest *m)
{
    struct network_spec *nn = realloc(m->networks, (m->n_networks + 1) * sizeof *nn);
    if (!nn)
        return -ENOMEM;
    m->networks = nn;
    nn[m->n_networks] = (struct network_spec){ .mtu = 1500, .name = strdup(DEFAULT_NETWORK) };
    if (!nn[m->n_networks].name)
        return -ENOMEM;
    m->n_networks++;
    return 0;
}

/* Kahn's algorithm over `depends` (and container:NAME, an implicit dependency). */
static void order_containers(struct manifest *m, struct diag *d, const char *file)
{
    size_t n = m->n_containers;
    m->start_order = calloc(n ? n : 1, sizeof *m->start_order);
    _cleanup_free_ unsigned *pending = calloc(n ? n : 1, sizeof *pending);
    if (!m->start_order || !pending) {
        diag_add(d, file, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < m->containers[i].n_deps; k++) {
            int t = m->containers[i].deps[k].index;
            pending[i] += t >= 0 && t != (int)i;   /* unknown targets are reported elsewhere */
        }
    size_t done = 0;
    bool progress = true;
    _cleanup_free_ bool *placed = calloc(n ? n : 1, sizeof *placed);
    if (!placed)
        return;
    while (progress) {
        progress = false;
        for (size_t i = 0; i < n; i++) {
            if (placed[i] || pending[i])
                continue;
            placed[i] = true;
            m->start_order[done++] = (int)i;
            progress = true;
            for (size_t j = 0; j < n; j++)
                for (size_t k = 0; k < m->containers[j].n_deps; k++)
                    if (m->containers[j].deps[k].index == (int)i && j != i)
                        pending[j]--;
        }
    }
    if (done < n) {
        for (size_t i = 0; i < n; i++)
            if (!placed[i]) {
                /* Point at a depends line that names another container of the cycle. */
                const struct container_spec *c = &m->containers[i];
                int line = c->line;
                for (size_t k = 0; k < c->n_deps; k++)
                    if (c->deps[k].index >= 0 && !placed[c->deps[k].index]) {
                        line = c->deps[k].line;
                        break;
                    }
                diag_add(d, file, line, "container '%s' is part of a dependency cycle", c->name);
            }
    }
}

/* Cross-field rules.  Runs even when some keys were rejected, so that every
 * error is reported at once; `bad` marks containers with a rejected key, whose
 * "missing key" errors would only repeat the first one. */
/* A path on a file system of [system] fstab: not mounted yet when the
 * manifest is read at boot, so it is checked when the container starts. */
static bool on_fstab_mount(const struct manifest *m, const char *path)
{
    for (size_t i = 0; i < m->system.n_fstab; i++) {
        const char *t = m->system.fstab[i].target;
        size_t n = strlen(t);
        if (strncmp(path, t, n) == 0 && (path[n] == '/' || path[n] == '\0'))
            return true;
    }
    return false;
}

static void validate(struct manifest *m, unsigned flags, const bool *bad, struct diag *d)
{
    const char *file = m->path;
    if (!m->system.control && strv_push(&m->system.control, "unix:///run/keel.sock") < 0)
        diag_add(d, file, 0, "out of memory");
    bool tcp = false;
    for (size_t i = 0; m->system.control && m->system.control[i]; i++)
        tcp |= str_starts(m->system.control[i], "tcp://");
    if (tcp && !(m->system.control_tls_cert && m->system.control_tls_key && m->system.control_tls_ca))
        diag_add(d, file, 0, "a tcp:// control listener needs control_tls_cert, control_tls_key and "
                 "control_tls_ca (there is no plaintext TCP)");

    bool need_default_net = false;
    for (size_t i = 0; i < m->n_containers; i++) {
        struct container_spec *c = &m->containers[i];
        if (c->net == NET_BRIDGE && (!c->bridge || strcmp(c->bridge, DEFAULT_NETWORK) == 0))
            need_default_net = true;
    }
    if (need_default_net && !manifest_find_network(m, DEFAULT_NETWORK) && add_default_network(m) < 0)
        diag_add(d, file, 0, "out of memory");
    resolve_defaults(m);
    /* The network rules (subnets, addresses, ports, container:NAME) are net.c's. */
    net_validate(m, d);

    int mains = 0;
    for (size_t i = 0; i < m->n_containers; i++) {
        struct container_spec *c = &m->containers[i];
        if (!c->layers && !bad[i])
            diag_add(d, file, c->line, "container '%s' has no layers", c->name);
        if (!c->argv && !bad[i])
            diag_add(d, file, c->line, "container '%s' has no command", c->name);
        if (c->main && ++mains == 2)
            diag_add(d, file, c->line, "container '%s': only one container may be main", c->name);
        if (!(flags & MANIFEST_NO_FS_CHECKS)) {
            struct stat sb;
            for (size_t l = 0; c->layers && c->layers[l]; l++)
                if (!on_fstab_mount(m, c->layers[l]) && (stat(c->layers[l], &sb) < 0 || !S_ISDIR(sb.st_mode)))
                    diag_add(d, file, c->layers_line, "container '%s': layer %s is not a directory%s%s", c->name,
                             c->layers[l], errno == ENOENT ? "" : ": ", errno == ENOENT ? "" : strerror(errno));
            for (size_t b = 0; b < c->n_mounts; b++)
                if (!on_fstab_mount(m, c->mounts[b].source) && stat(c->mounts[b].source, &sb) < 0)
                    diag_add(d, file, c->mounts[b].line, "container '%s': mount source %s: %s", c->name,
                             c->mounts[b].source, strerror(errno));
        }
        if (c->seccomp == SECCOMP_FILE && !(flags & MANIFEST_NO_FS_CHECKS) && !on_fstab_mount(m, c->seccomp_file)) {
            struct seccomp_profile prof = { 0 };
            char **errors = NULL;
            if (seccomp_profile_load(c->seccomp_file, &prof, &errors) < 0) {
                /* The profile's own errors are complete "FILE:LINE: message" lines. */
                for (size_t e = 0; errors && errors[e]; e++)
                    if (strv_push(&d->msgs, errors[e]) == 0)
                        d->count++;
                if (!errors || !errors[0])
                    diag_add(d, file, c->line, "container '%s': seccomp profile %s is not valid", c->name,
                             c->seccomp_file);
            }
            strv_free(errors);
            seccomp_profile_free(&prof);
        }
        if (c->upper_size && (!c->upper || strcmp(c->upper, "tmpfs") != 0))
            diag_add(d, file, c->line, "container '%s': upper_size needs upper = tmpfs", c->name);
        if (c->restart_delay_ms > c->restart_delay_max_ms)
            diag_add(d, file, c->line, "container '%s': restart_delay is above restart_delay_max", c->name);
        if (c->health == HEALTH_NONE && c->on_unhealthy != POWER_RESTART)
            diag_add(d, file, c->line, "container '%s': on_unhealthy needs a health check", c->name);
        if (c->caps_ambient & ~c->caps)
            diag_add(d, file, c->line, "container '%s': ambient_capabilities must be within capabilities",
                     c->name);
        for (size_t k = 0; k < c->n_deps; k++) {
            struct dependency *dep = &c->deps[k];
            dep->index = manifest_find_container(m, dep->name);
            if (dep->index < 0)
                diag_add(d, file, dep->line, "container '%s' depends on unknown container '%s'", c->name,
                         dep->name);
            else if (dep->index == (int)i)
                diag_add(d, file, dep->line, "container '%s' depends on itself", c->name);
            else if (dep->condition == DEP_HEALTHY && m->containers[dep->index].health == HEALTH_NONE)
                diag_add(d, file, dep->line, "container '%s' waits for '%s' to be healthy, but '%s' has no "
                         "health check", c->name, dep->name, dep->name);
            else if (dep->condition == DEP_READY && m->containers[dep->index].ready == READY_NONE)
                diag_add(d, file, dep->line, "container '%s' waits for '%s' to be ready, but '%s' has no "
                         "ready protocol", c->name, dep->name, dep->name);
            for (size_t q = 0; q < k; q++)
                if (c->deps[q].index == dep->index && dep->index >= 0) {
                    diag_add(d, file, dep->line, "container '%s' names '%s' twice in depends", c->name, dep->name);
                    break;
                }
        }
        /* container:NAME is an implicit dependency: NAME's namespace must exist first. */
        if (c->net == NET_CONTAINER) {
            int t = manifest_find_container(m, c->net_peer);
            bool listed = false;
            for (size_t k = 0; k < c->n_deps; k++)
                listed |= c->deps[k].index == t;
            if (t >= 0 && t != (int)i && !listed) {
                struct dependency *nd = realloc(c->deps, (c->n_deps + 1) * sizeof *nd);
                if (nd) {
                    c->deps = nd;
                    nd[c->n_deps] = (struct dependency){ .name = strdup(c->net_peer), .index = t,
                                                         .line = c->line };
                    if (nd[c->n_deps].name)
                        c->n_deps++;
                }
            }
        }
    }
    order_containers(m, d, file);
}

/* --- entry points ------------------------------------------------------------- */

static void system_defaults(struct system_spec *s)
{
    s->stop_timeout_ms = 10000;
    s->log_max_size = 1 << 20;
    s->log_keep = 2;
    s->on_exit = POWER_POWEROFF;
    s->on_error = POWER_POWEROFF;
    s->watchdog_timeout_ms = 30000;
}

int manifest_load_buffer(const char *name, const char *buf, size_t len, unsigned flags, struct manifest **out,
                         struct diag *d)
{
    *out = NULL;
    struct manifest *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(name))) {
        free(m);
        diag_add(d, name, 0, "out of memory");
        return -ENOMEM;
    }
    system_defaults(&m->system);
    struct pstate st = { .file = m->path, .buf = buf, .len = len, .m = m, .d = d };
    size_t before = d->count;

    /* inih's silent behaviours, switched off: we check each line ourselves. */
    /* Debian's inih takes these at run time; with ini_use_stack its line
     * buffer is ini_max_line bytes (the heap path starts at 200). */
    ini_use_stack = true;
    ini_allow_realloc = false;
    ini_max_line = MANIFEST_MAX_LINE + 8;
    ini_allow_multiline = false;
    ini_allow_bom = false;
    ini_allow_no_value = false;
    ini_stop_on_first_error = false;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        st.pos = 3;   /* a UTF-8 byte order mark is harmless */
    int r = ini_parse_stream(read_line, &st, handle_key, &st);
    /* cppcheck-suppress knownConditionTrueFalse ; handle_key adds to d through st.d */
    if (r > 0 && d->count == before)
        diag_add(d, name, r, "syntax error");
    else if (r < 0)
        diag_add(d, name, 0, "the INI parser failed (%s)", r == -2 ? "out of memory" : "cannot read");
    if (!m->system.log_dir)
        m->system.log_dir = strdup("/run/keel/log");
    if (!st.oom) {
        bool none = false;
        validate(m, flags, st.bad_container ? st.bad_container : &none, d);
    }
    free(st.bad_container);
    if (d->count != before || st.oom) {
        manifest_free(m);
        return st.oom ? -ENOMEM : -EINVAL;
    }
    *out = m;
    return 0;
}

int manifest_load(const char *path, unsigned flags, struct manifest **out, struct diag *d)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_file_at(AT_FDCWD, path, MANIFEST_MAX_SIZE, &buf, &len);
    if (r < 0) {
        diag_add(d, path, 0, r == -EFBIG ? "larger than 1 MiB" : "cannot read: %s", strerror(-r));
        return r;
    }
    return manifest_load_buffer(path, buf, len, flags, out, d);
}

static void container_free(struct container_spec *c)
{
    free(c->name);
    strv_free(c->layers);
    free(c->upper);
    for (size_t i = 0; i < c->n_mounts; i++)
        free(c->mounts[i].source), free(c->mounts[i].target);
    free(c->mounts);
    strv_free(c->argv);
    strv_free(c->env);
    free(c->workdir);
    free(c->user);
    free(c->hostname);
    free(c->seccomp_file);
    free(c->rlimits);
    free(c->userns_map);
    for (size_t i = 0; i < c->n_deps; i++)
        free(c->deps[i].name);
    free(c->deps);
    free(c->net_peer);
    free(c->bridge);
    free(c->ports);
    free(c->cpuset);
    struct io_limit *arrs[] = { c->io_read_bps, c->io_write_bps, c->io_read_iops, c->io_write_iops };
    const size_t ns[] = { c->n_io_read_bps, c->n_io_write_bps, c->n_io_read_iops, c->n_io_write_iops };
    for (size_t a = 0; a < ARRAY_SIZE(arrs); a++) {
        for (size_t i = 0; i < ns[a]; i++)
            free(arrs[a][i].device);
        free(arrs[a]);
    }
    strv_free(c->health_argv);
}

void manifest_free(struct manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_containers; i++)
        container_free(&m->containers[i]);
    free(m->containers);
    for (size_t i = 0; i < m->n_networks; i++)
        free(m->networks[i].name);
    free(m->networks);
    for (size_t i = 0; i < m->n_interfaces; i++)
        free(m->interfaces[i].name);
    free(m->interfaces);
    struct system_spec *s = &m->system;
    free(s->hostname);
    free(s->log_dir);
    strv_free(s->modules);
    strv_free(s->sysctl);
    for (size_t i = 0; i < s->n_fstab; i++)
        boot_fstab_free(&s->fstab[i]);
    free(s->fstab);
    strv_free(s->dns);
    free(s->rescue_shell);
    strv_free(s->control);
    free(s->control_tls_cert);
    free(s->control_tls_key);
    free(s->control_tls_ca);
    free(s->control_group);
    free(s->watchdog);
    free(m->start_order);
    free(m->path);
    free(m);
}

int manifest_find_container(const struct manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_containers; i++)
        if (m->containers[i].name && strcmp(m->containers[i].name, name) == 0)
            return (int)i;
    return -1;
}

const struct network_spec *manifest_find_network(const struct manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_networks; i++)
        if (strcmp(m->networks[i].name, name) == 0)
            return &m->networks[i];
    return NULL;
}
