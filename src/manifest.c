/* manifest.c — INI manifest -> validated struct manifest, see manifest.h.
 *
 * inih splits lines into section/key/value; everything it would otherwise do
 * silently (truncate long lines and section names, skip bad lines and go on)
 * is caught first by our line reader, which checks every line before inih
 * sees it and reports FILE:LINE errors itself.  Keys are driven by one table
 * (in manifest_keys.c, the other half of this module): the parser, `keel
 * check --keys` and the documentation test all read it, so they cannot drift
 * apart.
 */
#include "keel/manifest.h"
#include "keel/image.h"
#include "keel/manifest_keys.h"
#include "keel/caps.h"
#include "keel/fsmagic.h"
#include "keel/manifest_net.h"
#include "keel/parse.h"
#include "keel/seccomp_profile.h"
#include "keel/idmap.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <mbedtls/sha256.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#define MANIFEST_MAX_LINE 4000        /* longer lines are errors, never truncated */
#define MANIFEST_MAX_SIZE (1 << 20)
#define MANIFEST_MAX_REPEAT 1024      /* values of one repeatable key in one section */

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
    unsigned seen_count[MANIFEST_KEYS_MAX]; /* how often a repeatable key was given in it */
    bool *bad_container;   /* per container: a key of it was rejected */
    size_t cap_networks, cap_interfaces, cap_volumes;   /* allocated elements of m->networks, ... */
    bool oom;
};

static void *section_object(struct pstate *st)
{
    struct manifest *m = st->m;
    switch (st->kind) {
    case SEC_SYSTEM: return &m->system;
    case SEC_CONTAINER: return &m->containers[st->index];
    case SEC_NETWORK: return &m->networks[st->index];
    case SEC_INTERFACE: return &m->interfaces[st->index];
    case SEC_VOLUME: return &m->volumes[st->index];
    default: return NULL;
    }
}

/* The line each key of the current section was set on (the section's own
 * key_line array, kept for manifest_key_line()); NULL outside a section. */
static int *section_key_lines(struct pstate *st)
{
    struct manifest *m = st->m;
    switch (st->kind) {
    case SEC_SYSTEM: return m->system.key_line;
    case SEC_CONTAINER: return m->containers[st->index].key_line;
    case SEC_NETWORK: return m->networks[st->index].key_line;
    case SEC_INTERFACE: return m->interfaces[st->index].key_line;
    case SEC_VOLUME: return m->volumes[st->index].key_line;
    default: return NULL;
    }
}

/* --- one key ------------------------------------------------------------------ */

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
    size_t ki = 0;
    const struct manifest_key *k = manifest_key_find(st->kind, name, &ki);
    if (!k) {
        diag_add(st->d, st->file, st->line, "unknown key '%s' in [%s]", name, manifest_section_name(st->kind));
        return 1;
    }
    int *seen_line = section_key_lines(st);
    bool repeatable = manifest_key_repeatable(k);
    if (repeatable && ++st->seen_count[ki] > MANIFEST_MAX_REPEAT) {
        if (st->seen_count[ki] == MANIFEST_MAX_REPEAT + 1)
            diag_add(st->d, st->file, st->line, "more than %d '%s' lines in this section", MANIFEST_MAX_REPEAT, name);
        return 1;
    }
    if (!repeatable && seen_line[ki]) {
        diag_add(st->d, st->file, st->line, "'%s' is set twice in this section (first on line %d)", name,
                 seen_line[ki]);
        return 1;
    }
    seen_line[ki] = st->line;
    char why[PARSE_WHY_MAX] = "is not valid";
    int r = manifest_key_apply(k, section_object(st), st->line, value, why);
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

/* A new container's state before its keys, besides the table's defaults: the
 * markers of values not given. */
static void container_init(struct container_spec *c)
{
    c->stop_timeout_ms = UINT64_MAX;  /* resolved to [system] stop_timeout after parsing */
    /* `capabilities` starts from caps.c's default set (the table describes
     * it); its setter starts from there too. */
    c->caps = caps_default();
    c->memory_max = c->memory_high = c->memory_swap = KEEL_LIMIT_UNSET;
    c->cpu_quota_us = c->cpu_period_us = c->cpu_weight = KEEL_LIMIT_UNSET;
    c->pids_max = c->io_weight = KEEL_LIMIT_UNSET;
}

/* The key table's defaults of a new section's single keys (see
 * manifest_keys_apply_defaults); its keys then replace them. */
static int begin_defaults(struct pstate *st, enum section_kind kind, void *obj, const int *key_line)
{
    const char *key = NULL;
    char why[PARSE_WHY_MAX] = "";
    int r = manifest_keys_apply_defaults(kind, false, obj, key_line, &key, why);
    if (r < 0 && r != -ENOMEM)
        diag_add(st->d, st->file, st->line, "the default of %s does not parse: %s", key, why);
    return r;
}

/* Room for one more element in *ARR (N used, *CAP allocated, SIZE bytes
 * each), doubling: a file of thousands of sections (each struct holds its
 * key_line array) costs O(n) copying, not O(n^2). */
static int grow_array(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    void *na = realloc(*arr, c * size);
    if (!na)
        return -ENOMEM;
    *arr = na;
    *cap = c;
    return 0;
}

static void begin_section(struct pstate *st, const char *header)
{
    struct manifest *m = st->m;
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
            m->system.line = st->line;
            return;
        }
        if (strcmp(header, "container") == 0 || strcmp(header, "network") == 0 ||
            strcmp(header, "interface") == 0 || strcmp(header, "volume") == 0) {
            diag_add(st->d, st->file, st->line, "[%s] needs a name: [%s NAME]", header, header);
            return;
        }
        diag_add(st->d, st->file, st->line, "unknown section [%s] (system, container NAME, network NAME, "
                 "interface NAME, volume NAME)", header);
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
    else if (strcmp(kind, "volume") == 0)
        k = SEC_VOLUME, max = KEEL_NAME_MAX;
    else {
        diag_add(st->d, st->file, st->line, "unknown section [%s] (system, container NAME, network NAME, "
                 "interface NAME, volume NAME)", header);
        return;
    }
    if (!manifest_valid_name(name, max)) {
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
        if (manifest_condition_of(name)) {
            diag_add(st->d, st->file, st->line, "'%s' is reserved: `depends = %s` waits for that condition",
                     name, name);
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
        container_init(c);
        c->line = st->line;
        if (begin_defaults(st, SEC_CONTAINER, c, c->key_line) == -ENOMEM)
            goto oom;
        if (!(c->name = strdup(name)))
            goto oom;
        st->index = m->n_containers++;
    } else if (k == SEC_NETWORK) {
        if (manifest_find_network(m, name)) {
            diag_add(st->d, st->file, st->line, "network '%s' is defined twice", name);
            return;
        }
        if (grow_array((void **)&m->networks, m->n_networks, &st->cap_networks, sizeof *m->networks) < 0)
            goto oom;
        struct network_spec *nn = m->networks;
        nn[m->n_networks] = (struct network_spec){ .line = st->line, .name = strdup(name) };
        if (!nn[m->n_networks].name)
            goto oom;
        if (begin_defaults(st, SEC_NETWORK, &nn[m->n_networks], nn[m->n_networks].key_line) == -ENOMEM) {
            free(nn[m->n_networks].name);
            goto oom;
        }
        st->index = m->n_networks++;
    } else if (k == SEC_VOLUME) {
        if (manifest_find_volume(m, name)) {
            diag_add(st->d, st->file, st->line, "volume '%s' is defined twice", name);
            return;
        }
        if (grow_array((void **)&m->volumes, m->n_volumes, &st->cap_volumes, sizeof *m->volumes) < 0)
            goto oom;
        struct volume_spec *nv = &m->volumes[m->n_volumes];
        *nv = (struct volume_spec){ .line = st->line, .name = strdup(name), .flags = MS_NOSUID | MS_NODEV };
        if (!nv->name)
            goto oom;
        if (begin_defaults(st, SEC_VOLUME, nv, nv->key_line) == -ENOMEM) {
            free(nv->name);
            goto oom;
        }
        st->index = m->n_volumes++;
    } else {
        for (size_t i = 0; i < m->n_interfaces; i++)
            if (strcmp(m->interfaces[i].name, name) == 0) {
                diag_add(st->d, st->file, st->line, "interface '%s' is defined twice", name);
                return;
            }
        if (grow_array((void **)&m->interfaces, m->n_interfaces, &st->cap_interfaces, sizeof *m->interfaces) < 0)
            goto oom;
        struct interface_spec *ni = m->interfaces;
        ni[m->n_interfaces] = (struct interface_spec){ .line = st->line, .name = strdup(name) };
        if (!ni[m->n_interfaces].name)
            goto oom;
        if (begin_defaults(st, SEC_INTERFACE, &ni[m->n_interfaces], ni[m->n_interfaces].key_line) == -ENOMEM) {
            free(ni[m->n_interfaces].name);
            goto oom;
        }
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
            c->bridge = strdup(MANIFEST_DEFAULT_NETWORK);
    }
    for (size_t i = 0; i < m->n_networks; i++) {
        struct network_spec *n = &m->networks[i];
        if (!n->prefix && strcmp(n->name, MANIFEST_DEFAULT_NETWORK) == 0)
            (void)parse_cidr(MANIFEST_DEFAULT_SUBNET, &n->subnet, &n->prefix, NULL);  /* a literal that parses */
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
    struct network_spec *n = &nn[m->n_networks];
    *n = (struct network_spec){ .name = strdup(MANIFEST_DEFAULT_NETWORK) };
    if (!n->name)
        return -ENOMEM;
    m->n_networks++;
    const char *key = NULL;
    char why[PARSE_WHY_MAX];
    for (int rep = 0; rep < 2; rep++)
        if (manifest_keys_apply_defaults(SEC_NETWORK, rep, n, n->key_line, &key, why) == -ENOMEM)
            return -ENOMEM;
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
    /* Volumes are mounted at boot too; what a container names on them is
     * made at its start. */
    if (str_starts(path, MANIFEST_VOLUMES_DIR "/"))
        return true;
    for (size_t i = 0; i < m->system.n_fstab; i++) {
        const char *t = m->system.fstab[i].target;
        size_t n = strlen(t);
        if (strncmp(path, t, n) == 0 && (path[n] == '/' || path[n] == '\0'))
            return true;
    }
    return false;
}

/* env_file: each file's variables, a later line replacing an earlier one of
 * the same name, then those no `env =` line names join env.  Read here, when
 * the manifest is loaded (so `keel check` sees what a start gets), unless the
 * file system is not to be looked at (keel check --no-fs: the files are
 * skipped) or the file is on a [system] fstab file system, which is mounted
 * only after the manifest is read (an error: it could never be read).  Its
 * syntax errors are "ENVFILE:LINE: message" lines, as a seccomp profile's. */
struct env_acc {
    char ***vars;
};

static int env_file_add(void *arg, const char *kv)
{
    struct env_acc *a = arg;
    size_t klen = (size_t)(strchr(kv, '=') - kv) + 1;
    for (size_t i = 0; *a->vars && (*a->vars)[i]; i++)
        if (strncmp((*a->vars)[i], kv, klen) == 0) {
            char *dup = strdup(kv);
            if (!dup)
                return -ENOMEM;
            free((*a->vars)[i]);
            (*a->vars)[i] = dup;
            return 0;
        }
    return strv_push(a->vars, kv);
}

#define ENV_FILE_MAX (1u << 20)

static void digest_buf(const void *buf, size_t len, struct file_digest *out)
{
    out->known = mbedtls_sha256_ret(buf, len, out->sha256, 0) == 0;
}

/* The digest of a regular file of at most MAX bytes (a secret's source),
 * for keel apply's comparison; unknown when it cannot be
 * read whole (the start says why).  The bytes are wiped: a secret is not kept
 * in keel's memory. */
static void digest_file(const char *path, size_t max, struct file_digest *out)
{
    out->known = false;
    /* O_NONBLOCK: a FIFO put there since the check must not hang the load. */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    char *buf = NULL;
    size_t len = 0;
    if (read_fd_all(fd, max, &buf, &len) < 0)
        return;
    digest_buf(buf, len, out);
    explicit_bzero(buf, len);
    free(buf);
}

/* An env_file, read as the manifest is (non-blocking, regular files only)
 * and never through a symlink at its name: its directory may be one a
 * container writes (a volume it shares), and a symlink there would show it
 * a host file's KEY=VALUE lines (another service's secrets) in its
 * environment.  -ELOOP for a symlink, as read_regular_file otherwise. */
static int read_env_file(const char *path, char **buf, size_t *len)
{
    _cleanup_close_ int fd = open_regular_nofollow(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return read_fd_all(fd, ENV_FILE_MAX, buf, len);
}

static void load_env_files(const struct manifest *m, struct container_spec *c, unsigned flags, struct diag *d)
{
    if (flags & MANIFEST_NO_FS_CHECKS)
        return;
    _cleanup_strv_ char **vars = NULL;
    struct env_acc acc = { &vars };
    for (size_t i = 0; i < c->n_env_files; i++) {
        const struct env_file *ef = &c->env_files[i];
        if (on_fstab_mount(m, ef->path)) {
            diag_add(d, m->path, ef->line, "env_file: %s is on a [system] fstab file system, which is mounted after "
                     "the manifest is read: keep it in the image", ef->path);
            continue;
        }
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_env_file(ef->path, &buf, &len);
        if (r < 0) {
            if (r == -ELOOP)
                diag_add(d, m->path, ef->line, "env_file: %s is a symlink (name the real path)", ef->path);
            else if (r == -EFBIG)
                diag_add(d, m->path, ef->line, "env_file: cannot read %s: larger than %u bytes", ef->path, ENV_FILE_MAX);
            else if (r == -EINVAL)
                diag_add(d, m->path, ef->line, "env_file: cannot read %s: not a regular file", ef->path);
            else
                diag_add(d, m->path, ef->line, "env_file: cannot read %s: %s", ef->path, strerror(-r));
            continue;
        }
        digest_buf(buf, len, &c->env_files[i].digest);
        int at = 0;
        char why[PARSE_WHY_MAX] = "";
        r = parse_env_file(buf, len, env_file_add, &acc, &at, why);
        if (r == -EINVAL)
            diag_add(d, ef->path, at, "%s", why);
        else if (r < 0)
            diag_add(d, m->path, ef->line, "out of memory");
    }
    for (size_t i = 0; vars && vars[i]; i++) {
        size_t klen = (size_t)(strchr(vars[i], '=') - vars[i]) + 1;
        bool set = false;
        for (size_t j = 0; c->env && c->env[j] && !set; j++)
            set = strncmp(c->env[j], vars[i], klen) == 0;
        if (set)
            continue;
        if (strv_push(&c->env, vars[i]) < 0) {
            diag_add(d, m->path, 0, "out of memory");
            return;
        }
        c->n_env_from_files++;
    }
}

/* A change to a file sets its ctime to the kernel's coarse clock (a tick)
 * truncated to the file system's granularity (1 ns; 2 s on FAT): a second
 * change within that much of the first can leave every time as it was.  A
 * file changed this recently is not told unchanged. */
#define STAMP_SETTLED_S 4

void manifest_secrets_stamp(const struct container_spec *c, struct file_digest *out)
{
    struct timespec now;
    mbedtls_sha256_context h;
    mbedtls_sha256_init(&h);
    bool ok = clock_gettime(CLOCK_REALTIME, &now) == 0 && mbedtls_sha256_starts_ret(&h, 0) == 0;
    for (size_t i = 0; ok && i < c->n_secrets; i++) {
        struct stat st;
        if (lstat(c->secrets[i].source, &st) < 0 || st.st_ctim.tv_sec + STAMP_SETTLED_S >= now.tv_sec) {
            ok = false;
            break;
        }
        const int64_t id[] = { (int64_t)st.st_dev, (int64_t)st.st_ino, (int64_t)st.st_size, st.st_mtim.tv_sec,
                               st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec };
        ok = mbedtls_sha256_update_ret(&h, (const unsigned char *)id, sizeof id) == 0;
    }
    out->known = ok && mbedtls_sha256_finish_ret(&h, out->sha256) == 0;
    mbedtls_sha256_free(&h);
}

/* Network and FUSE file systems: a look at a path there waits for a server. */
static bool on_remote_fs(const char *path)
{
    static const unsigned long remote[] = {
        0x6969,       /* NFS */
        0xFF534D42,   /* CIFS */
        0xFE534D42,   /* SMB2 */
        0x517B,       /* SMB */
        0x65735546,   /* FUSE */
        0x01021997,   /* 9P */
        0x00C36400,   /* Ceph */
        0x5346414F,   /* AFS */
        0x01161970,   /* GFS2 */
        0x7461636F,   /* OCFS2 */
    };
    struct statfs sf;
    if (statfs(path, &sf) < 0)
        return false;   /* not there: the start says so */
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        if ((unsigned long)(unsigned int)sf.f_type == remote[i])
            return true;
    return false;
}

static void digest_secret(struct secret_spec *s)
{
    digest_file(s->source, SECRET_SIZE_MAX, &s->digest);
    s->remote = on_remote_fs(s->source);
}

bool manifest_secrets_remote(const struct container_spec *c)
{
    for (size_t i = 0; i < c->n_secrets; i++)
        if (c->secrets[i].remote)
            return true;
    return false;
}

/* A seccomp profile is read once, here: its bytes stay in the spec, the
 * digest keel apply compares is theirs and the filter is compiled from them
 * (seccomp_build), so a container runs what apply compared, whatever the
 * file holds at its start, and the start reads no path in keel's process.
 * Read as the manifest is (read_regular_file): a FIFO put there must not
 * hang the load. */
static int read_profile_text(struct container_spec *c)
{
    free(c->seccomp_text);
    c->seccomp_text = NULL;
    c->seccomp_text_len = 0;
    c->seccomp_digest.known = false;
    char *buf = NULL;
    int r = read_regular_file(c->seccomp_file, SECCOMP_PROFILE_SIZE_MAX, &buf, &c->seccomp_text_len);
    if (r < 0)
        return r;
    /* Kept for the manifest's life: not read_fd_all's 4 KiB at least. */
    char *fit = realloc(buf, c->seccomp_text_len + 1);
    if (fit)
        buf = fit;
    c->seccomp_text = buf;
    digest_buf(c->seccomp_text, c->seccomp_text_len, &c->seccomp_digest);
    return 0;
}

/* read_profile_text, its failure kept for the start's message (a profile
 * on an fstab file system is read after the load, which cannot say it). */
static int read_profile(struct container_spec *c)
{
    int r = read_profile_text(c);
    c->seccomp_read_err = r < 0 ? -r : 0;
    return r;
}

const char *manifest_read_why(int err)
{
    switch (err) {
    case EINVAL: return "not a regular file";
    case EFBIG: return "larger than 1 MiB";   /* SECCOMP_PROFILE_SIZE_MAX */
    case ETIMEDOUT: return "no answer from its file system in time";
    default: return strerror(err);
    }
}

/* The files the load left unread on fstab file systems and volumes: read
 * them when DIGEST, else only say whether there are any. */
static bool walk_mounted(struct manifest *m, bool digest)
{
    bool any = false;
    for (size_t i = 0; i < m->n_containers; i++) {
        struct container_spec *c = &m->containers[i];
        for (size_t b = 0; b < c->n_secrets; b++)
            if (on_fstab_mount(m, c->secrets[b].source)) {
                any = true;
                if (digest)
                    digest_secret(&c->secrets[b]);
            }
        if (c->seccomp == SECCOMP_FILE && on_fstab_mount(m, c->seccomp_file)) {
            any = true;
            if (digest)
                (void)read_profile(c);   /* the start says it could not be read */
        }
    }
    return any;
}

void manifest_digest_mounted(struct manifest *m)
{
    (void)walk_mounted(m, true);
}

bool manifest_names_mounted_files(const struct manifest *m)
{
    return walk_mounted((struct manifest *)m, false);   /* reads nothing, changes nothing */
}

void manifest_mounted_timed_out(struct manifest *m)
{
    for (size_t i = 0; i < m->n_containers; i++) {
        struct container_spec *c = &m->containers[i];
        if (c->seccomp == SECCOMP_FILE && !c->seccomp_text && on_fstab_mount(m, c->seccomp_file))
            c->seccomp_read_err = ETIMEDOUT;
    }
}

/* A layer is a directory, or an erofs or squashfs image file (layerimg.h
 * mounts it): any other file is refused here by what its superblock says,
 * not by its name. */
static void check_layer(const struct container_spec *c, const char *path, const char *file, struct diag *d)
{
    int line = manifest_key_line(c, "layers");
    struct stat sb;
    int fd, r = fsmagic_open(path, &sb, &fd, NULL);
    if (r < 0) {
        diag_add(d, file, line, "container '%s': layer %s is not a directory%s%s", c->name, path,
                 r == -ENOENT ? "" : ": ", r == -ENOENT ? "" : strerror(-r));
        return;
    }
    enum fsmagic_kind kind = FSMAGIC_UNKNOWN;
    if (fd >= 0 && fsmagic_probe_fd(fd, path, &kind, NULL) < 0)
        kind = FSMAGIC_UNKNOWN;
    close_safe(fd);
    if (S_ISDIR(sb.st_mode) || fsmagic_is_layer(kind))
        return;
    if (!S_ISREG(sb.st_mode))
        diag_add(d, file, line, "container '%s': layer %s is not a directory nor an image file", c->name, path);
    else if (kind == FSMAGIC_UNKNOWN)
        diag_add(d, file, line, "container '%s': layer %s is neither a directory nor an erofs or squashfs image "
                 "(no known superblock)", c->name, path);
    else
        diag_add(d, file, line, "container '%s': layer %s is neither a directory nor an erofs or squashfs image "
                 "(it is %s)", c->name, path, fsmagic_name(kind));
}

/* The next component of an absolute path at P ("" at its end), "//" and
 * "/./" read as "/"; *N its length. */
static const char *next_component(const char *p, size_t *n)
{
    for (;;) {
        while (*p == '/')
            p++;
        *n = strcspn(p, "/");
        if (*n != 1 || p[0] != '.')
            return p;
        p++;
    }
}

/* Whether the absolute paths A and B (no "..": check_abs_path) are the same
 * or one lies below the other. */
static bool paths_nested(const char *a, const char *b)
{
    for (;;) {
        size_t na, nb;
        a = next_component(a, &na);
        b = next_component(b, &nb);
        if (na == 0 || nb == 0)
            return true;
        if (na != nb || memcmp(a, b, na) != 0)
            return false;
        a += na;
        b += nb;
    }
}

/* The update volume's slots/ holds the payload slots and their state: a
 * container that can write it (a read-write bind of slots/, of a path in
 * it, or of a directory above it: the volume itself, say) rewrites the next
 * boot's manifest and layers past update_key's signature check, and
 * survives every reboot and update.  A bind of another directory of the
 * volume cannot reach slots/. */
static void check_update_volume_private(const struct manifest *m, const char *file, struct diag *d)
{
    char slots[PATH_MAX];
    snprintf(slots, sizeof slots, "%s/%s/slots", MANIFEST_VOLUMES_DIR, m->system.update_volume);
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        for (size_t b = 0; b < c->n_mounts; b++)
            if (!c->mounts[b].readonly && paths_nested(c->mounts[b].source, slots))
                diag_add(d, file, c->mounts[b].line, "container '%s': mount %s would let it write %s, the "
                         "payload slots keel update verifies (update_volume): add :ro", c->name,
                         c->mounts[b].source, slots);
    }
}

/* [volume] sections and the containers' volume:NAME references. */
static void validate_volumes(struct manifest *m, struct diag *d)
{
    const char *file = m->path;
    for (size_t i = 0; i < m->n_volumes; i++) {
        struct volume_spec *v = &m->volumes[i];
        v->flags |= MS_NOSUID | MS_NODEV;
        int given = !!v->device + !!v->label + !!v->uuid;
        if (given == 0)
            diag_add(d, file, v->line, "volume '%s' needs device, label or uuid", v->name);
        else if (given > 1)
            diag_add(d, file, v->line, "volume '%s': give only one of device, label and uuid", v->name);
        if (v->mkfs && !v->device)
            diag_add(d, file, manifest_key_line(v, "mkfs"), "volume '%s': mkfs needs device = (keel formats "
                     "only the disk it is named, and only when that disk is empty)", v->name);
        if (v->mkfs && v->fstype && strcmp(v->fstype, v->mkfs) != 0)
            diag_add(d, file, manifest_key_line(v, "fstype"), "volume '%s': fstype %s but mkfs = %s", v->name,
                     v->fstype, v->mkfs);
        for (size_t j = 0; j < i; j++) {
            const struct volume_spec *o = &m->volumes[j];
            const char *what = v->device && o->device && strcmp(v->device, o->device) == 0 ? "device"
                             : v->label && o->label && strcmp(v->label, o->label) == 0     ? "label"
                             : v->uuid && o->uuid && strcasecmp(v->uuid, o->uuid) == 0    ? "uuid"
                                                                                           : NULL;
            if (what)
                diag_add(d, file, manifest_key_line(v, what), "volume '%s' names the same disk as volume '%s' "
                         "(line %d)", v->name, o->name, o->line);
        }
    }
    const struct system_spec *sys = &m->system;
    if (sys->update_volume && !manifest_find_volume(m, sys->update_volume))
        diag_add(d, file, manifest_system_key_line(sys, "update_volume"), "update_volume '%s' is no [volume] of "
                 "this manifest", sys->update_volume);
    if (sys->update_confirm_ms < 1000)
        diag_add(d, file, manifest_system_key_line(sys, "update_confirm"), "update_confirm must be at least 1s");
    if (sys->update_volume)
        check_update_volume_private(m, file, d);
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (c->upper_volume && !manifest_find_volume(m, c->upper_volume))
            diag_add(d, file, manifest_key_line(c, "upper"), "container '%s': unknown volume '%s'", c->name,
                     c->upper_volume);
        for (size_t b = 0; b < c->n_mounts; b++)
            if (c->mounts[b].volume && !manifest_find_volume(m, c->mounts[b].volume))
                diag_add(d, file, c->mounts[b].line, "container '%s': unknown volume '%s'", c->name,
                         c->mounts[b].volume);
    }
}

/* Stores VALUE into C through the key's own setter (its checks and its
 * replace-by-name rule for env), as if written at LINE. */
static int apply_key(struct container_spec *c, const char *key, int line, const char *value, char *why)
{
    size_t idx;
    const struct manifest_key *k = manifest_key_find(SEC_CONTAINER, key, &idx);
    return k ? manifest_key_apply(k, c, line, value, why) : -EINVAL;
}

static bool key_given(const struct container_spec *c, const char *key)
{
    size_t idx;
    return manifest_key_find(SEC_CONTAINER, key, &idx) && c->key_line[idx] != 0;
}

/* `image =`: the container takes what the image gives, and the keys written
 * in the section win, as docker run's flags do (docs/images.md): `layers`
 * go on top of the image's; `command` replaces Cmd and keeps Entrypoint;
 * `env` adds to and overrides the image's Env by name; `workdir`, `user`,
 * `stop_signal` replace.  An image that cannot be read is an error.  Not
 * called under MANIFEST_NO_FS_CHECKS (validate): such a manifest's
 * container may then have no layers nor command. */
static void apply_image(struct manifest *m, struct container_spec *c, struct diag *d)
{
    const char *file = m->path;
    int line = manifest_key_line(c, "image");
    struct image img;
    struct kerr err = { 0 };
    if (image_load(c->image, &img, &err) < 0) {
        diag_add(d, file, line, "container '%s': image: %s", c->name, err.msg);
        return;
    }
    char why[PARSE_WHY_MAX] = "";
    bool oom = false;
    size_t mine = strv_len(c->layers), theirs = strv_len(img.layers);
    if (theirs) {
        if (mine + theirs > IMAGE_LAYERS_MAX) {
            diag_add(d, file, line, "container '%s': layers and the image's make more than %d layers", c->name,
                     IMAGE_LAYERS_MAX);
        } else {
            for (size_t i = 0; i < theirs && !oom; i++)
                oom = strv_push(&c->layers, img.layers[i]) < 0;
            c->from_image |= CON_FROM_IMAGE_LAYERS;
        }
    }
    /* Docker's rule: Entrypoint, then the command (ours, else the image's Cmd). */
    char **ep = img.entrypoint, **args = c->argv ? c->argv : img.cmd;
    if ((ep && ep[0]) || (!c->argv && args)) {
        char **argv = NULL;
        for (size_t i = 0; ep && ep[i] && !oom; i++)
            oom = strv_push(&argv, ep[i]) < 0;
        for (size_t i = 0; args && args[i] && !oom; i++)
            oom = strv_push(&argv, args[i]) < 0;
        if (argv) {
            strv_free(c->argv);
            c->argv = argv;
            c->from_image |= CON_FROM_IMAGE_COMMAND;
        }
    }
    if (img.env) {
        char **own = TAKE_PTR(c->env);
        for (size_t i = 0; img.env[i]; i++)
            if (apply_key(c, "env", line, img.env[i], why) < 0)
                diag_add(d, file, line, "container '%s': image: Env '%s': %s", c->name, img.env[i], why);
        for (size_t i = 0; own && own[i]; i++)
            oom |= apply_key(c, "env", line, own[i], why) == -ENOMEM;
        strv_free(own);
        c->from_image |= CON_FROM_IMAGE_ENV;
    }
    if (img.workdir && !c->workdir) {
        oom |= !(c->workdir = strdup(img.workdir));
        c->from_image |= CON_FROM_IMAGE_WORKDIR;
    }
    if (img.user && !c->user) {
        if (apply_key(c, "user", line, img.user, why) < 0)
            diag_add(d, file, line, "container '%s': image: User '%s': %s (set user = UID:GID)", c->name, img.user, why);
        else
            c->from_image |= CON_FROM_IMAGE_USER;
    }
    if (img.stop_signal && !key_given(c, "stop_signal")) {
        c->stop_signal = img.stop_signal;
        c->from_image |= CON_FROM_IMAGE_STOP_SIGNAL;
    }
    if (oom)
        diag_add(d, file, line, "out of memory");
    image_free(&img);
}

/* update = start-first runs two instances at once for a while: what cannot
 * exist twice refuses it here rather than failing at the first apply. */
static void check_start_first(const struct manifest *m, const struct container_spec *c, const char *file,
                              struct diag *d)
{
    int line = manifest_key_line(c, "update");
    const char *why = NULL;
    if (c->net == NET_HOST)
        why = "network = host (both instances would bind the same host ports)";
    else if (c->net == NET_CONTAINER)
        why = "network = container:NAME (the namespace and its ports are NAME's)";
    else if (c->net != NET_BRIDGE)
        why = "a network other than bridge (its new instance takes over the published ports of a bridge)";
    else if (c->ip.s_addr || c->has_ip6)
        why = "a fixed ip or ip6 (the new instance needs an address of its own beside the old one)";
    else if (c->upper && strcmp(c->upper, "tmpfs") != 0)
        why = "an upper directory (overlayfs cannot use one upper directory in two mounts)";
    for (size_t j = 0; !why && j < m->n_containers; j++) {
        const struct container_spec *o = &m->containers[j];
        if (o != c && o->net == NET_CONTAINER && o->net_peer && strcmp(o->net_peer, c->name) == 0)
            why = "another container joins its network namespace (network = container:NAME)";
    }
    if (why)
        diag_add(d, file, line, "container '%s': update = start-first is not possible with %s", c->name, why);
}

/* Where a prepared instance beside the running one cannot be correct
 * (docs/operations.md, "Standby"). */
static void check_standby(const struct container_spec *c, const char *file, struct diag *d)
{
    const char *why = NULL;
    if (c->upper && strcmp(c->upper, "tmpfs") != 0)
        why = "an upper directory (overlayfs cannot use one upper directory in two mounts: the standby's root "
              "is mounted while the running instance's is)";
    else if (c->net == NET_CONTAINER)
        why = "network = container:NAME (the standby would hold NAME's network namespace before it is needed, "
              "and keep one NAME may have replaced)";
    else if (c->update == UPDATE_START_FIRST)
        why = "update = start-first (its replacement runs under another cgroup, NAME~next, than the one the "
              "standby was prepared in)";
    else if (c->ready == READY_FD)
        why = "ready = fd:N (the readiness channel is made for each start; use ready = notify)";
    if (why)
        diag_add(d, file, manifest_key_line(c, "standby"), "container '%s': standby = yes is not possible with %s",
                 c->name, why);
}

static void validate(struct manifest *m, unsigned flags, const bool *bad, struct diag *d)
{
    const char *file = m->path;
    validate_volumes(m, d);
    bool tcp = false;
    for (size_t i = 0; m->system.control && m->system.control[i]; i++)
        tcp |= str_starts(m->system.control[i], "tcp://");
    if (tcp && !(m->system.control_tls_cert && m->system.control_tls_key && m->system.control_tls_ca))
        diag_add(d, file, manifest_key_line(&m->system, "control"), "a tcp:// control listener needs control_tls_cert, control_tls_key and "
                 "control_tls_ca (there is no plaintext TCP)");

    bool need_default_net = false;
    for (size_t i = 0; i < m->n_containers; i++) {
        struct container_spec *c = &m->containers[i];
        if (c->net == NET_BRIDGE && (!c->bridge || strcmp(c->bridge, MANIFEST_DEFAULT_NETWORK) == 0))
            need_default_net = true;
    }
    if (need_default_net && !manifest_find_network(m, MANIFEST_DEFAULT_NETWORK) && add_default_network(m) < 0)
        diag_add(d, file, 0, "out of memory");
    resolve_defaults(m);
    /* The network rules (subnets, addresses, ports, container:NAME) are net.c's. */
    manifest_validate_networks(m, d);

    int mains = 0;
    for (size_t i = 0; i < m->n_containers; i++) {
        struct container_spec *c = &m->containers[i];
        size_t before = d->count;
        /* MANIFEST_NO_FS_CHECKS reads no image either (an update's payload
         * is checked in PID 1, where a hung path would hold it): what it
         * gives is unknown then, checked by the load that runs the manifest
         * (the slot's boot, bounded). */
        bool unread = c->image && (flags & MANIFEST_NO_FS_CHECKS);
        if (c->image && !unread)
            apply_image(m, c, d);
        /* An image that could not be read said so: no second error for what it would have given. */
        bool known = d->count == before && !unread;
        if (!c->layers && !bad[i] && known)
            diag_add(d, file, c->line, "container '%s' has no layers", c->name);
        if (!c->argv && !bad[i] && known)
            diag_add(d, file, c->line, "container '%s' has no command", c->name);
        if (c->argv && c->argv[0][0] != '/' && known) {
            if (c->from_image & CON_FROM_IMAGE_COMMAND)
                diag_add(d, file, manifest_key_line(c, "image"),
                         "container '%s': the image's program '%s' is not an absolute path (keel import found it in "
                         "no directory of the image's PATH; no PATH search is done at run time)", c->name, c->argv[0]);
            else
                diag_add(d, file, manifest_key_line(c, "command"),
                         "command: '%s' is not an absolute path (no PATH search is done)", c->argv[0]);
        }
        if (c->main && ++mains == 2)
            diag_add(d, file, manifest_key_line(c, "main"), "container '%s': only one container may be main", c->name);
        if (!(flags & MANIFEST_NO_FS_CHECKS)) {
            struct stat sb;
            for (size_t l = 0; c->layers && c->layers[l]; l++)
                if (!on_fstab_mount(m, c->layers[l]))
                    check_layer(c, c->layers[l], file, d);
            for (size_t b = 0; b < c->n_mounts; b++)
                if (!on_fstab_mount(m, c->mounts[b].source) && stat(c->mounts[b].source, &sb) < 0)
                    diag_add(d, file, c->mounts[b].line, "container '%s': mount source %s: %s", c->name,
                             c->mounts[b].source, strerror(errno));
            for (size_t b = 0; b < c->n_secrets; b++) {
                const char *src = c->secrets[b].source;
                int e = on_fstab_mount(m, src) ? 0 : lstat(src, &sb) < 0 ? errno : S_ISREG(sb.st_mode) ? 0 : -1;
                if (e == -1 && S_ISLNK(sb.st_mode))
                    diag_add(d, file, c->secrets[b].line, "container '%s': secret %s is a symlink (name the real "
                             "path)", c->name, src);
                else if (e)
                    diag_add(d, file, c->secrets[b].line, "container '%s': secret %s is not a regular file%s%s",
                             c->name, src, e > 0 && e != ENOENT ? ": " : "", e > 0 && e != ENOENT ? strerror(e) : "");
                else if (!on_fstab_mount(m, src))
                    digest_secret(&c->secrets[b]);
            }
            for (size_t b = 0; b < c->n_devices; b++)
                if (!on_fstab_mount(m, c->devices[b].source) &&
                    (stat(c->devices[b].source, &sb) < 0 || !(S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode))))
                    diag_add(d, file, c->devices[b].line, "container '%s': device %s is not a device node", c->name,
                             c->devices[b].source);
        }
        load_env_files(m, c, flags, d);
        if (c->seccomp == SECCOMP_FILE && !(flags & MANIFEST_NO_FS_CHECKS) && !on_fstab_mount(m, c->seccomp_file)) {
            struct seccomp_profile prof = { 0 };
            char **errors = NULL;
            int line = manifest_key_line(c, "seccomp");
            int r = read_profile(c);
            if (r == -EFBIG)
                diag_add(d, file, line, "container '%s': cannot read seccomp profile %s: larger than %u bytes", c->name,
                         c->seccomp_file, SECCOMP_PROFILE_SIZE_MAX);
            else if (r < 0)
                diag_add(d, file, line, "container '%s': cannot read seccomp profile %s: %s", c->name, c->seccomp_file,
                         manifest_read_why(-r));
            else if (seccomp_profile_parse(c->seccomp_file, c->seccomp_text, c->seccomp_text_len, &prof, &errors) < 0) {
                /* The profile's own errors are complete "FILE:LINE: message" lines. */
                for (size_t e = 0; errors && errors[e]; e++)
                    if (strv_push(&d->msgs, errors[e]) == 0)
                        d->count++;
                if (!errors || !errors[0])
                    diag_add(d, file, line, "container '%s': seccomp profile %s is not valid", c->name, c->seccomp_file);
            }
            strv_free(errors);
            seccomp_profile_free(&prof);
        }
        /* Two containers owning the same host ids own each other's files. */
        for (size_t j = 0; j < i; j++) {
            uint32_t shared;
            const struct container_spec *o = &m->containers[j];
            if (o->userns == USERNS_MAP && c->userns == USERNS_MAP &&
                idmap_overlap(o->userns_map, o->n_userns_map, c->userns_map, c->n_userns_map, &shared))
                diag_add(d, file, manifest_key_line(c, "userns"),
                         "container '%s': userns host ids overlap those of container '%s' (line %d) at %u",
                         c->name, o->name, manifest_key_line(o, "userns"), shared);
        }
        if (c->upper_size && (!c->upper || strcmp(c->upper, "tmpfs") != 0))
            diag_add(d, file, manifest_key_line(c, "upper_size"), "container '%s': upper_size needs upper = tmpfs", c->name);
        if (c->restart_delay_ms > c->restart_delay_max_ms) {
            /* Whichever of the pair was set (restart_delay when both were). */
            int line = manifest_key_line(c, "restart_delay");
            if (line == c->line)
                line = manifest_key_line(c, "restart_delay_max");
            diag_add(d, file, line, "container '%s': restart_delay is above restart_delay_max", c->name);
        }
        if (c->health == HEALTH_NONE && c->on_unhealthy != POWER_RESTART)
            diag_add(d, file, manifest_key_line(c, "on_unhealthy"), "container '%s': on_unhealthy needs a health check", c->name);
        if (c->update == UPDATE_START_FIRST)
            check_start_first(m, c, file, d);
        if (c->standby)
            check_standby(c, file, d);
        if (c->caps_ambient & ~c->caps)
            diag_add(d, file, manifest_key_line(c, "ambient_capabilities"), "container '%s': ambient_capabilities must be within capabilities",
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
                                                         .line = manifest_key_line(c, "network") };
                    if (nd[c->n_deps].name)
                        c->n_deps++;
                }
            }
        }
    }
    order_containers(m, d, file);
}

/* --- entry points ------------------------------------------------------------- */

/* The key table's defaults of repeatable keys that a section left out:
 * [system] (also when the file has none), each container, network,
 * interface and volume (see manifest_keys_apply_defaults). */
static int end_defaults(struct manifest *m, struct diag *d)
{
    const char *key = NULL;
    char why[PARSE_WHY_MAX] = "";
    int r = manifest_keys_apply_defaults(SEC_SYSTEM, true, &m->system, m->system.key_line, &key, why);
    for (size_t i = 0; r >= 0 && i < m->n_containers; i++)
        r = manifest_keys_apply_defaults(SEC_CONTAINER, true, &m->containers[i], m->containers[i].key_line, &key,
                                         why);
    for (size_t i = 0; r >= 0 && i < m->n_networks; i++)
        r = manifest_keys_apply_defaults(SEC_NETWORK, true, &m->networks[i], m->networks[i].key_line, &key, why);
    for (size_t i = 0; r >= 0 && i < m->n_interfaces; i++)
        r = manifest_keys_apply_defaults(SEC_INTERFACE, true, &m->interfaces[i], m->interfaces[i].key_line, &key,
                                         why);
    for (size_t i = 0; r >= 0 && i < m->n_volumes; i++)
        r = manifest_keys_apply_defaults(SEC_VOLUME, true, &m->volumes[i], m->volumes[i].key_line, &key, why);
    if (r == -ENOMEM)
        diag_add(d, m->path, 0, "out of memory");
    else if (r < 0)
        diag_add(d, m->path, 0, "the default of %s does not parse: %s", key, why);
    return r;
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
    struct pstate st = { .file = m->path, .buf = buf, .len = len, .m = m, .d = d };
    size_t before = d->count;
    /* [system]'s defaults stand also when the file has no [system]. */
    if (begin_defaults(&st, SEC_SYSTEM, &m->system, m->system.key_line) == -ENOMEM) {
        diag_add(d, name, 0, "out of memory");
        manifest_free(m);
        return -ENOMEM;
    }

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
    if (!st.oom && end_defaults(m, d) == -ENOMEM)
        st.oom = true;
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
    int r = read_regular_file(path, MANIFEST_MAX_SIZE, &buf, &len);
    if (r < 0) {
        diag_add(d, path, 0, r == -EFBIG ? "larger than 1 MiB" : r == -EINVAL ? "not a regular file" : "cannot read: %s",
                 strerror(-r));
        return r;
    }
    return manifest_load_buffer(path, buf, len, flags, out, d);
}

static void container_free(struct container_spec *c)
{
    free(c->name);
    strv_free(c->layers);
    free(c->upper);
    free(c->upper_volume);
    free(c->upper_volume_sub);
    for (size_t i = 0; i < c->n_mounts; i++)
        free(c->mounts[i].source), free(c->mounts[i].target), free(c->mounts[i].volume),
            free(c->mounts[i].volume_sub);
    free(c->mounts);
    for (size_t i = 0; i < c->n_devices; i++)
        free(c->devices[i].source), free(c->devices[i].target);
    free(c->devices);
    for (size_t i = 0; i < c->n_secrets; i++)
        free(c->secrets[i].source), free(c->secrets[i].target);
    free(c->secrets);
    strv_free(c->argv);
    strv_free(c->env);
    for (size_t i = 0; i < c->n_env_files; i++)
        free(c->env_files[i].path);
    free(c->env_files);
    free(c->workdir);
    free(c->image);
    free(c->user);
    free(c->hostname);
    free(c->seccomp_file);
    free(c->seccomp_text);
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
    for (size_t i = 0; i < m->n_volumes; i++) {
        struct volume_spec *v = &m->volumes[i];
        free(v->name), free(v->device), free(v->label), free(v->uuid), free(v->fstype), free(v->options);
        free(v->data), free(v->mkfs);
    }
    free(m->volumes);
    struct system_spec *s = &m->system;
    free(s->hostname);
    free(s->log_dir);
    strv_free(s->modules);
    strv_free(s->sysctl);
    for (size_t i = 0; i < s->n_fstab; i++)
        fstab_free(&s->fstab[i]);
    free(s->fstab);
    strv_free(s->dns);
    free(s->rescue_shell);
    strv_free(s->control);
    free(s->control_tls_cert);
    free(s->control_tls_key);
    free(s->control_tls_ca);
    free(s->control_group);
    free(s->watchdog);
    strv_free(s->ntp);
    free(s->clock_file);
    free(s->update_volume);
    free(s->update_key);
    free(s->metrics);
    free(s->syslog);
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

const struct volume_spec *manifest_find_volume(const struct manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_volumes; i++)
        if (strcmp(m->volumes[i].name, name) == 0)
            return &m->volumes[i];
    return NULL;
}

int manifest_volume_ref(const char *s, char *name, size_t nn, char *sub, size_t sn, char *why)
{
    if (!str_starts(s, "volume:"))
        return 0;
    const char *p = s + strlen("volume:");
    size_t len = strcspn(p, "/");
    if (len == 0 || len >= nn)
        return PARSE_FAIL(why, EINVAL, "'%s' is not volume:NAME[/PATH]", s);
    memcpy(name, p, len);
    name[len] = '\0';
    if (!manifest_valid_name(name, KEEL_NAME_MAX))
        return PARSE_FAIL(why, EINVAL, "'%s' is not a valid volume name", name);
    p += len;
    if (*p == '/')
        p++;
    if (strlen(p) >= sn)
        return PARSE_FAIL(why, EINVAL, "the path in '%s' is too long", s);
    /* Plain components only: the path is made inside the volume at each
     * start, and must not name anything beside it. */
    for (const char *c = p; *c;) {
        size_t cl = strcspn(c, "/");
        if (cl == 0 || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.') || cl > 255)
            return PARSE_FAIL(why, EINVAL, "'%s': the path on the volume has an empty, '.' or '..' part", s);
        for (size_t i = 0; i < cl; i++)
            if (c[i] == ':' || c[i] == ',' || (unsigned char)c[i] < 0x20)
                return PARSE_FAIL(why, EINVAL, "'%s' contains ':', ',' or a control character", s);
        c += cl;
        if (*c == '/' && !c[1])
            return PARSE_FAIL(why, EINVAL, "'%s' ends with '/'", s);
        if (*c)
            c++;
    }
    strcpy(sub, p);
    return 1;
}

const struct network_spec *manifest_find_network(const struct manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_networks; i++)
        if (strcmp(m->networks[i].name, name) == 0)
            return &m->networks[i];
    return NULL;
}
