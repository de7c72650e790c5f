/* manifest_diff.c — the difference of two manifests, see manifest_diff.h.
 *
 * Every key of the key table is compared here, by the field(s) it sets; a new
 * key that is not compared would be silently ignored by `keel apply`, so the
 * unit test changes each key of a sample manifest and expects it in the diff.
 */
#include "keel/manifest_diff.h"
#include "keel/util.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *mdiff_kind_name(enum mdiff_kind k)
{
    static const char *const names[] = {
        [MDIFF_UNCHANGED] = "unchanged", [MDIFF_INPLACE] = "in place", [MDIFF_CHANGED] = "restart",
        [MDIFF_ADDED] = "add", [MDIFF_REMOVED] = "remove",
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return !(a && a[i]) && !(b && b[i]);
}

static bool binds_eq(const struct bind_mount *a, size_t na, const struct bind_mount *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i].source, b[i].source) || !str_eq(a[i].target, b[i].target) || a[i].readonly != b[i].readonly)
            return false;
    return true;
}

static bool digest_eq(const struct file_digest *a, const struct file_digest *b)
{
    return a->known == b->known && (!a->known || memcmp(a->sha256, b->sha256, sizeof a->sha256) == 0);
}

/* Appends a reason to e->why ("; " between reasons); false when it did not fit. */
static bool add_why(struct mdiff_ctr *e, const char *what, const char *path)
{
    size_t len = strlen(e->why);
    int n = snprintf(e->why + len, sizeof e->why - len, "%s%s %s changed", len ? "; " : "", what, path);
    if (n < 0 || (size_t)n >= sizeof e->why - len) {
        e->why[len] = '\0';
        return false;
    }
    return true;
}

/* env = lines (and the image's): env without what env_file added at its end. */
static bool env_own_eq(const struct container_spec *a, const struct container_spec *b)
{
    size_t na = strv_len(a->env), nb = strv_len(b->env);
    na -= a->n_env_from_files <= na ? a->n_env_from_files : na;
    nb -= b->n_env_from_files <= nb ? b->n_env_from_files : nb;
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a->env[i], b->env[i]) != 0)
            return false;
    return true;
}

/* The same paths; a file whose content changed at the same path is named in
 * e->why (its digest from the load: manifest.h). */
static bool env_files_eq(const struct container_spec *a, const struct container_spec *b, struct mdiff_ctr *e,
                         bool *truncated)
{
    if (a->n_env_files != b->n_env_files)
        return false;
    bool eq = true;
    for (size_t i = 0; i < a->n_env_files; i++) {
        if (!str_eq(a->env_files[i].path, b->env_files[i].path))
            return false;
        if (!digest_eq(&a->env_files[i].digest, &b->env_files[i].digest)) {
            eq = false;
            if (!add_why(e, "env_file", b->env_files[i].path))
                *truncated = true;
        }
    }
    return eq;
}

static bool secrets_eq(const struct container_spec *a, const struct container_spec *b, struct mdiff_ctr *e,
                       bool *truncated)
{
    if (a->n_secrets != b->n_secrets)
        return false;
    bool eq = true;
    for (size_t i = 0; i < a->n_secrets; i++) {
        const struct secret_spec *x = &a->secrets[i], *y = &b->secrets[i];
        if (!str_eq(x->source, y->source) || !str_eq(x->target, y->target) || x->uid != y->uid ||
            x->gid != y->gid || x->mode != y->mode)
            return false;
        if (!digest_eq(&x->digest, &y->digest)) {
            eq = false;
            if (!add_why(e, "secret", y->source))
                *truncated = true;
        }
    }
    return eq;
}

/* The filter is compiled from the file at the start (supervise.c): the same
 * path with another content is a new filter. */
static bool seccomp_eq(const struct container_spec *a, const struct container_spec *b, struct mdiff_ctr *e,
                       bool *truncated)
{
    if (a->seccomp != b->seccomp || !str_eq(a->seccomp_file, b->seccomp_file))
        return false;
    if (a->seccomp != SECCOMP_FILE || digest_eq(&a->seccomp_digest, &b->seccomp_digest))
        return true;
    if (!add_why(e, "seccomp profile", b->seccomp_file))
        *truncated = true;
    return false;
}

static bool ports_eq(const struct container_spec *a, const struct container_spec *b)
{
    if (a->n_ports != b->n_ports)
        return false;
    for (size_t i = 0; i < a->n_ports; i++) {
        const struct port_map *x = &a->ports[i], *y = &b->ports[i];
        if (x->host_ip.s_addr != y->host_ip.s_addr || x->host_port != y->host_port ||
            x->container_port != y->container_port || x->proto != y->proto)
            return false;
    }
    return true;
}

static bool deps_eq(const struct container_spec *a, const struct container_spec *b)
{
    if (a->n_deps != b->n_deps || a->wait_conditions != b->wait_conditions)
        return false;
    for (size_t i = 0; i < a->n_deps; i++)
        if (!str_eq(a->deps[i].name, b->deps[i].name) || a->deps[i].condition != b->deps[i].condition)
            return false;
    return true;
}

static bool rlimits_eq(const struct container_spec *a, const struct container_spec *b)
{
    if (a->n_rlimits != b->n_rlimits)
        return false;
    for (size_t i = 0; i < a->n_rlimits; i++)
        if (a->rlimits[i].resource != b->rlimits[i].resource || a->rlimits[i].soft != b->rlimits[i].soft ||
            a->rlimits[i].hard != b->rlimits[i].hard)
            return false;
    return true;
}

static bool userns_eq(const struct container_spec *a, const struct container_spec *b)
{
    return a->userns == b->userns && a->n_userns_map == b->n_userns_map &&
           (!a->n_userns_map || memcmp(a->userns_map, b->userns_map, a->n_userns_map * sizeof *a->userns_map) == 0);
}

static bool io_eq(const struct io_limit *a, size_t na, const struct io_limit *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i].device, b[i].device) || a[i].value != b[i].value)
            return false;
    return true;
}

/* Appends KEY to a space-separated list; false when it did not fit. */
static bool add_key(char *list, size_t size, const char *key)
{
    size_t len = strlen(list);
    int n = snprintf(list + len, size - len, "%s%s", len ? " " : "", key);
    if (n < 0 || (size_t)n >= size - len) {
        list[len] = '\0';
        return false;
    }
    return true;
}

/* What a key's change needs. */
enum key_class { KEY_RESTART, KEY_LIMIT, KEY_POLICY };

struct cmp {
    struct mdiff_ctr *out;
    bool restart, inplace, *truncated;
};

static void changed(struct cmp *c, const char *key, enum key_class cls)
{
    if (!add_key(c->out->keys, sizeof c->out->keys, key))
        *c->truncated = true;
    if (cls == KEY_RESTART)
        c->restart = true;
    else
        c->inplace = true;
}

#define CMP(key, cls, eq) do { if (!(eq)) changed(&c, key, cls); } while (0)

/* The keys that are one field of the spec: a table rather than a comparison
 * each (the binary's size bound).  F_BYTES fields are scalars set whole by
 * the parser (no padding inside). */
enum field_kind { F_BYTES, F_STR, F_STRV };
struct field {
    const char *key;
    unsigned char cls, kind, size;
    unsigned short off;
};
#define FB(key, cls, f) { key, cls, F_BYTES, sizeof(((struct container_spec *)0)->f), offsetof(struct container_spec, f) }
#define FS(key, cls, f) { key, cls, F_STR, 0, offsetof(struct container_spec, f) }
#define FV(key, cls, f) { key, cls, F_STRV, 0, offsetof(struct container_spec, f) }

static void cmp_fields(struct cmp *c, const struct container_spec *a, const struct container_spec *b,
                       const struct field *f, size_t n)
{
    for (; n--; f++) {
        const char *x = (const char *)a + f->off, *y = (const char *)b + f->off;
        bool eq = f->kind == F_STR ? str_eq(*(char *const *)x, *(char *const *)y)
                : f->kind == F_STRV ? strv_eq(*(char **const *)x, *(char **const *)y)
                : memcmp(x, y, f->size) == 0;
        if (!eq)
            changed(c, f->key, f->cls);
    }
}
#define FIELDS(t) cmp_fields(&c, a, b, t, ARRAY_SIZE(t))
_Static_assert(sizeof(struct container_spec) <= 65535, "struct field's offsets are unsigned short");

/* Root file system and process: the setup child made them. */
static const struct field f_root[] = {
    FS("image", KEY_RESTART, image),   /* what it gave is compared key by key */
    FV("layers", KEY_RESTART, layers), FS("upper", KEY_RESTART, upper), FB("upper_size", KEY_RESTART, upper_size),
    FV("command", KEY_RESTART, argv),
}, f_proc[] = {
    FS("workdir", KEY_RESTART, workdir), FS("user", KEY_RESTART, user), FS("hostname", KEY_RESTART, hostname),
}, f_net[] = {
    FS("bridge", KEY_RESTART, bridge), FB("ip", KEY_RESTART, ip),
}, f_restart[] = {
    FB("restart_delay", KEY_POLICY, restart_delay_ms), FB("restart_delay_max", KEY_POLICY, restart_delay_max_ms),
    FB("restart_reset", KEY_POLICY, restart_reset_ms), FB("on_crashloop", KEY_POLICY, on_crashloop),
}, f_policy[] = {
    FB("stop_signal", KEY_POLICY, stop_signal), FB("stop_timeout", KEY_POLICY, stop_timeout_ms),
    FB("main", KEY_POLICY, main), FB("start_timeout", KEY_POLICY, start_timeout_ms),
    FB("on_unhealthy", KEY_POLICY, on_unhealthy), FB("update", KEY_POLICY, update),
    /* A standby is prepared from the spec in force: a change makes a new instance. */
    FB("standby", KEY_RESTART, standby),
    /* Privileges: fixed at the exec (the seccomp filter is compiled per spec). */
    FB("capabilities", KEY_RESTART, caps), FB("ambient_capabilities", KEY_RESTART, caps_ambient),
    FB("no_new_privs", KEY_RESTART, no_new_privs),
}, f_memory[] = {
    /* cgroup v2 limits: written to the live cgroup. */
    FB("memory", KEY_LIMIT, memory_max), FB("memory_high", KEY_LIMIT, memory_high),
    FB("memory_swap", KEY_LIMIT, memory_swap),
}, f_limits[] = {
    FB("cpu_weight", KEY_LIMIT, cpu_weight), FS("cpuset", KEY_LIMIT, cpuset), FB("pids", KEY_LIMIT, pids_max),
    FB("io_weight", KEY_LIMIT, io_weight),
}, f_health[] = {
    /* Health and readiness: the check and the readiness channel are bound at the start. */
    FB("health_interval", KEY_RESTART, health_interval_ms), FB("health_timeout", KEY_RESTART, health_timeout_ms),
    FB("health_retries", KEY_RESTART, health_retries),
    FB("health_start_period", KEY_RESTART, health_start_period_ms),
};

static void diff_container(const struct container_spec *a, const struct container_spec *b, struct mdiff_ctr *out,
                           bool *truncated)
{
    struct cmp c = { .out = out, .truncated = truncated };
    FIELDS(f_root);
    CMP("env", KEY_RESTART, env_own_eq(a, b));
    CMP("env_file", KEY_RESTART, env_files_eq(a, b, out, truncated));
    FIELDS(f_proc);
    CMP("mount", KEY_RESTART, binds_eq(a->mounts, a->n_mounts, b->mounts, b->n_mounts));
    CMP("device", KEY_RESTART, binds_eq(a->devices, a->n_devices, b->devices, b->n_devices));
    CMP("secret", KEY_RESTART, secrets_eq(a, b, out, truncated));
    /* Network: the namespace, its address and the DNAT rules are made at the start. */
    CMP("network", KEY_RESTART, a->net == b->net && str_eq(a->net_peer, b->net_peer));
    FIELDS(f_net);
    CMP("ip6", KEY_RESTART, a->has_ip6 == b->has_ip6 && memcmp(&a->ip6, &b->ip6, sizeof a->ip6) == 0);
    CMP("ports", KEY_RESTART, ports_eq(a, b));
    CMP("net_rate", KEY_RESTART, a->net_rate == b->net_rate);
    /* Supervision policy: read by the supervisor as it goes. */
    CMP("restart", KEY_POLICY, a->restart == b->restart && a->restart_max == b->restart_max);
    FIELDS(f_restart);
    CMP("depends", KEY_POLICY, deps_eq(a, b));
    FIELDS(f_policy);
    CMP("seccomp", KEY_RESTART, seccomp_eq(a, b, out, truncated));
    CMP("nested_userns", KEY_RESTART, a->nested_userns == b->nested_userns);
    CMP("rlimit", KEY_RESTART, rlimits_eq(a, b));
    CMP("userns", KEY_RESTART, userns_eq(a, b));
    CMP("oom_score_adj", KEY_RESTART, a->oom_score_adj_set == b->oom_score_adj_set && a->oom_score_adj == b->oom_score_adj);
    FIELDS(f_memory);
    CMP("cpus", KEY_LIMIT, a->cpu_quota_us == b->cpu_quota_us && a->cpu_period_us == b->cpu_period_us);
    FIELDS(f_limits);
    CMP("io_read_bps", KEY_LIMIT, io_eq(a->io_read_bps, a->n_io_read_bps, b->io_read_bps, b->n_io_read_bps));
    CMP("io_write_bps", KEY_LIMIT, io_eq(a->io_write_bps, a->n_io_write_bps, b->io_write_bps, b->n_io_write_bps));
    CMP("io_read_iops", KEY_LIMIT, io_eq(a->io_read_iops, a->n_io_read_iops, b->io_read_iops, b->n_io_read_iops));
    CMP("io_write_iops", KEY_LIMIT,
        io_eq(a->io_write_iops, a->n_io_write_iops, b->io_write_iops, b->n_io_write_iops));
    CMP("health", KEY_RESTART, a->health == b->health && strv_eq(a->health_argv, b->health_argv) &&
                               a->health_port == b->health_port);
    FIELDS(f_health);
    CMP("ready", KEY_RESTART, a->ready == b->ready && a->ready_fd == b->ready_fd);
    out->kind = c.restart ? MDIFF_CHANGED : c.inplace ? MDIFF_INPLACE : MDIFF_UNCHANGED;
}

static bool fstab_eq(const struct system_spec *a, const struct system_spec *b)
{
    if (a->n_fstab != b->n_fstab)
        return false;
    for (size_t i = 0; i < a->n_fstab; i++) {
        const struct fstab_entry *x = &a->fstab[i], *y = &b->fstab[i];
        if (!str_eq(x->source, y->source) || !str_eq(x->target, y->target) || !str_eq(x->fstype, y->fstype) ||
            !str_eq(x->data, y->data) || x->flags != y->flags || x->nofail != y->nofail)
            return false;
    }
    return true;
}

static void reboot_key(struct mdiff *d, const char *section, const char *key)
{
    char item[160];
    snprintf(item, sizeof item, "%s%s%s", section, key ? " " : "", key ? key : "");
    size_t len = strlen(d->reboot);
    int n = snprintf(d->reboot + len, sizeof d->reboot - len, "%s%s", len ? ", " : "", item);
    if (n < 0 || (size_t)n >= sizeof d->reboot - len) {
        d->reboot[len] = '\0';
        d->truncated = true;
    }
}

#define SYS(key, eq) do { if (!(eq)) reboot_key(d, "[system]", key); } while (0)

/* [system]: applied by boot mode (or at keel's start) only.  log_* and
 * stop_timeout are read by the supervisor, but the log files of running
 * containers are open already: a reboot, to say it honestly. */
static void diff_system(const struct system_spec *a, const struct system_spec *b, struct mdiff *d)
{
    SYS("hostname", str_eq(a->hostname, b->hostname));
    SYS("stop_timeout", a->stop_timeout_ms == b->stop_timeout_ms);
    SYS("log_dir", str_eq(a->log_dir, b->log_dir));
    SYS("log_max_size", a->log_max_size == b->log_max_size);
    SYS("log_keep", a->log_keep == b->log_keep);
    SYS("modules", strv_eq(a->modules, b->modules));
    SYS("fstab", fstab_eq(a, b));
    SYS("sysctl", strv_eq(a->sysctl, b->sysctl));
    SYS("dns", strv_eq(a->dns, b->dns));
    SYS("on_exit", a->on_exit == b->on_exit);
    SYS("on_error", a->on_error == b->on_error);
    SYS("rescue_shell", str_eq(a->rescue_shell, b->rescue_shell));
    SYS("control", strv_eq(a->control, b->control));
    SYS("control_tls_cert", str_eq(a->control_tls_cert, b->control_tls_cert));
    SYS("control_tls_key", str_eq(a->control_tls_key, b->control_tls_key));
    SYS("control_tls_ca", str_eq(a->control_tls_ca, b->control_tls_ca));
    SYS("control_group", str_eq(a->control_group, b->control_group));
    SYS("watchdog", str_eq(a->watchdog, b->watchdog));
    SYS("watchdog_timeout", a->watchdog_timeout_ms == b->watchdog_timeout_ms);
    SYS("ntp", strv_eq(a->ntp, b->ntp));
    SYS("clock_file", str_eq(a->clock_file, b->clock_file));
}

/* A [network]'s keys, by what their change needs (docs/operations.md has the
 * table).  Re-create: the bridge's address, MTU and port flags and every
 * container's eth0 address, route and MTU are made when they are created, so
 * the bridge is made again and the containers on it restart.  Rules: only
 * keel's nf_tables table says them; it is replaced in one transaction. */
enum mdiff_kind manifest_diff_network(const struct network_spec *a, const struct network_spec *b, char *keys,
                                      size_t size, bool *truncated)
{
    bool recreate = false, rules = false;
    keys[0] = '\0';
#define NET_KEY(key, re, eq) do { if (!(eq)) { if (!add_key(keys, size, key)) *truncated = true; \
                                                 if (re) recreate = true; else rules = true; } } while (0)
    NET_KEY("subnet", true, a->subnet.s_addr == b->subnet.s_addr && a->prefix == b->prefix);
    /* The default gateway follows the subnet: named only when written. */
    bool gw_written = manifest_network_key_line(a, "gateway") != a->line ||
                      manifest_network_key_line(b, "gateway") != b->line;
    NET_KEY("gateway", true, a->gateway.s_addr == b->gateway.s_addr || (!gw_written && !(a->subnet.s_addr ==
                                                                        b->subnet.s_addr && a->prefix == b->prefix)));
    NET_KEY("mtu", true, a->mtu == b->mtu);
    NET_KEY("isolate", true, a->isolate == b->isolate);
    NET_KEY("subnet6", true, a->has_v6 == b->has_v6 && (!a->has_v6 || (memcmp(&a->subnet6, &b->subnet6,
                                                       sizeof a->subnet6) == 0 && a->prefix6 == b->prefix6)));
    NET_KEY("gateway6", true, a->has_gateway6 == b->has_gateway6 &&
                              (!a->has_gateway6 || memcmp(&a->gateway6, &b->gateway6, sizeof a->gateway6) == 0));
    NET_KEY("host_ports", false, a->n_host_ports == b->n_host_ports &&
                                 memcmp(a->host_ports, b->host_ports, a->n_host_ports * sizeof *a->host_ports) == 0);
    NET_KEY("lan", false, a->no_lan == b->no_lan);
    NET_KEY("link_local", false, a->link_local == b->link_local);
#undef NET_KEY
    return recreate ? MDIFF_CHANGED : rules ? MDIFF_INPLACE : MDIFF_UNCHANGED;
}

static bool interface_eq(const struct interface_spec *a, const struct interface_spec *b)
{
    return a->has_address == b->has_address && a->address.s_addr == b->address.s_addr && a->prefix == b->prefix &&
           a->gateway.s_addr == b->gateway.s_addr && a->mtu == b->mtu && a->dhcp == b->dhcp &&
           a->address6_auto == b->address6_auto && a->has_address6 == b->has_address6 &&
           memcmp(&a->address6, &b->address6, sizeof a->address6) == 0 && a->prefix6 == b->prefix6 &&
           a->has_gateway6 == b->has_gateway6 && memcmp(&a->gateway6, &b->gateway6, sizeof a->gateway6) == 0;
}

/* [network]s: added, removed, re-created or their rules changed in place
 * (manifest_diff_network); [interface]s need a reboot. */
static void diff_sections(const struct manifest *old, const struct manifest *nm, struct mdiff *d)
{
    char sec[128];
    for (size_t i = 0; i < nm->n_networks; i++) {
        const struct network_spec *o = manifest_find_network(old, nm->networks[i].name);
        struct mdiff_net *e = &d->nets[d->n_nets];
        e->name = nm->networks[i].name;
        e->kind = o ? manifest_diff_network(o, &nm->networks[i], e->keys, sizeof e->keys, &d->truncated)
                    : MDIFF_ADDED;
        if (e->kind != MDIFF_UNCHANGED) {
            d->n_nets++;
            d->networks_changed = true;
        }
    }
    for (size_t i = 0; i < old->n_networks; i++)
        if (!manifest_find_network(nm, old->networks[i].name)) {
            d->nets[d->n_nets++] = (struct mdiff_net){ .name = old->networks[i].name, .kind = MDIFF_REMOVED };
            d->networks_changed = true;
        }
    for (size_t i = 0; i < nm->n_interfaces; i++) {
        const struct interface_spec *o = NULL;
        for (size_t j = 0; j < old->n_interfaces && !o; j++)
            if (strcmp(old->interfaces[j].name, nm->interfaces[i].name) == 0)
                o = &old->interfaces[j];
        snprintf(sec, sizeof sec, "[interface %s]", nm->interfaces[i].name);
        if (!o || !interface_eq(o, &nm->interfaces[i]))
            reboot_key(d, sec, o ? "changed" : "added");
    }
    for (size_t i = 0; i < old->n_interfaces; i++) {
        bool found = false;
        for (size_t j = 0; j < nm->n_interfaces && !found; j++)
            found = strcmp(old->interfaces[i].name, nm->interfaces[j].name) == 0;
        if (!found) {
            snprintf(sec, sizeof sec, "[interface %s]", old->interfaces[i].name);
            reboot_key(d, sec, "removed");
        }
    }
}

static struct mdiff_ctr *find_new(struct mdiff *d, int new_index)
{
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (d->ctrs[i].new_index == new_index)
            return &d->ctrs[i];
    return NULL;
}

int manifest_diff(const struct manifest *old, const struct manifest *nm, struct mdiff *d)
{
    memset(d, 0, sizeof *d);
    d->ctrs = calloc(nm->n_containers + old->n_containers + 1, sizeof *d->ctrs);
    d->nets = calloc(nm->n_networks + old->n_networks + 1, sizeof *d->nets);
    if (!d->ctrs || !d->nets) {
        manifest_diff_free(d);
        return -ENOMEM;
    }
    for (size_t k = 0; k < nm->n_containers; k++) {
        int i = nm->start_order ? nm->start_order[k] : (int)k;
        const struct container_spec *b = &nm->containers[i];
        struct mdiff_ctr *e = &d->ctrs[d->n_ctrs++];
        e->name = b->name;
        e->new_index = i;
        e->old_index = manifest_find_container(old, b->name);
        if (e->old_index < 0)
            e->kind = MDIFF_ADDED;
        else
            diff_container(&old->containers[e->old_index], b, e, &d->truncated);
    }
    diff_sections(old, nm, d);
    /* A bridge container of a network that is made again restarts with it:
     * its eth0, address and route are made with the namespace. */
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct mdiff_ctr *e = &d->ctrs[i];
        const struct container_spec *b = &nm->containers[e->new_index];
        if (e->kind == MDIFF_ADDED || e->kind == MDIFF_CHANGED || b->net != NET_BRIDGE || !b->bridge)
            continue;
        const struct mdiff_net *n = manifest_diff_find_net(d, b->bridge);
        if (n && n->kind == MDIFF_CHANGED) {
            e->kind = MDIFF_CHANGED;
            int w = snprintf(e->why, sizeof e->why, "network %s is made again (%.*s)", n->name, 160, n->keys);
            if (w < 0 || (size_t)w >= sizeof e->why)
                d->truncated = true;
        }
    }
    /* A container that joins the network namespace of one that is restarted
     * or goes away must go with it: the namespace it is in goes. */
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < d->n_ctrs; i++) {
            struct mdiff_ctr *e = &d->ctrs[i];
            const struct container_spec *b = &nm->containers[e->new_index];
            if (e->kind == MDIFF_ADDED || e->kind == MDIFF_CHANGED || b->net != NET_CONTAINER)
                continue;
            int peer = manifest_find_container(nm, b->net_peer);
            const struct mdiff_ctr *p = peer >= 0 ? find_new(d, peer) : NULL;
            if (p && (p->kind == MDIFF_CHANGED || p->kind == MDIFF_ADDED)) {
                e->kind = MDIFF_CHANGED;
                snprintf(e->why, sizeof e->why, "joins the network of %s, which %s", p->name,
                         p->kind == MDIFF_ADDED ? "is new" : "restarts");
                again = true;
            }
        }
    }
    if (old->n_containers) {
        for (size_t k = old->n_containers; k-- > 0;) {
            int i = old->start_order ? old->start_order[k] : (int)k;
            if (manifest_find_container(nm, old->containers[i].name) >= 0)
                continue;
            struct mdiff_ctr *e = &d->ctrs[d->n_ctrs++];
            e->name = old->containers[i].name;
            e->kind = MDIFF_REMOVED;
            e->old_index = i;
            e->new_index = -1;
        }
    }
    diff_system(&old->system, &nm->system, d);
    return 0;
}

void manifest_diff_free(struct mdiff *d)
{
    free(d->ctrs);
    d->ctrs = NULL;
    d->n_ctrs = 0;
    free(d->nets);
    d->nets = NULL;
    d->n_nets = 0;
}

const struct mdiff_net *manifest_diff_find_net(const struct mdiff *d, const char *name)
{
    for (size_t i = 0; i < d->n_nets; i++)
        if (d->nets[i].name && strcmp(d->nets[i].name, name) == 0)
            return &d->nets[i];
    return NULL;
}

bool manifest_diff_empty(const struct mdiff *d)
{
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (d->ctrs[i].kind != MDIFF_UNCHANGED)
            return false;
    return d->n_nets == 0;
}

void manifest_diff_print(const struct mdiff *d, FILE *out)
{
    bool any = false;
    for (size_t i = 0; i < d->n_ctrs; i++) {
        const struct mdiff_ctr *e = &d->ctrs[i];
        if (e->kind == MDIFF_UNCHANGED)
            continue;
        any = true;
        fprintf(out, "%-9s %s", mdiff_kind_name(e->kind), e->name);
        if (e->keys[0])
            fprintf(out, ": %s", e->keys);
        if (e->why[0])
            fprintf(out, "%s%s", e->keys[0] ? "; " : ": ", e->why);
        fputc('\n', out);
    }
    for (size_t i = 0; i < d->n_nets; i++) {
        const struct mdiff_net *n = &d->nets[i];
        any = true;
        fprintf(out, "%-9s network %s%s%s%s\n", mdiff_kind_name(n->kind), n->name, n->keys[0] ? ": " : "", n->keys,
                n->kind == MDIFF_CHANGED ? " (made again: its containers restart)"
                : n->kind == MDIFF_INPLACE ? " (keel's nf_tables rules, in one transaction)" : "");
    }
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (d->ctrs[i].kind == MDIFF_UNCHANGED)
            fprintf(out, "%-9s %s\n", "keep", d->ctrs[i].name);
    if (d->reboot[0]) {
        any = true;
        fprintf(out, "needs a reboot: %s\n", d->reboot);
    }
    if (d->truncated)
        fprintf(out, "(the list of changed keys is longer than shown)\n");
    if (!any)
        fprintf(out, "no changes\n");
}
