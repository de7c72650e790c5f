/* plan.c — keel check's output, see plan.h. */
#include "keel/plan.h"
#include "keel/fstab.h"
#include "keel/caps.h"
#include "keel/cgroup.h"
#include "keel/layerimg.h"
#include "keel/modplan.h"
#include "keel/net.h"
#include "keel/parse.h"
#include "keel/rlimit.h"
#include "keel/userns.h"
#include "keel/seccomp.h"
#include "keel/setup.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

static void print_strv(FILE *out, const char *key, char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        fprintf(out, "%s = %s\n", key, v[i]);
}

static void print_ms(FILE *out, const char *key, uint64_t ms)
{
    if (ms % 1000 == 0)
        fprintf(out, "%s = %" PRIu64 "s\n", key, ms / 1000);
    else
        fprintf(out, "%s = %" PRIu64 "ms\n", key, ms);
}

static void print_limit(FILE *out, const char *key, int64_t v)
{
    if (v == KEEL_LIMIT_UNSET)
        return;
    if (v == KEEL_LIMIT_MAX)
        fprintf(out, "%s = max\n", key);
    else
        fprintf(out, "%s = %" PRId64 "\n", key, v);
}

static const char *dep_cond(enum dep_condition c)
{
    return c == DEP_HEALTHY ? ":healthy" : c == DEP_READY ? ":ready" : "";
}

/* `image = PATH (from the image: layers command ...)`: what the section's
 * own keys did not write. */
static void print_image(FILE *out, const char *indent, const struct container_spec *c)
{
    static const struct { unsigned bit; const char *key; } gave[] = {
        { CON_FROM_IMAGE_LAYERS, "layers" }, { CON_FROM_IMAGE_COMMAND, "command" },
        { CON_FROM_IMAGE_ENV, "env" }, { CON_FROM_IMAGE_WORKDIR, "workdir" },
        { CON_FROM_IMAGE_USER, "user" }, { CON_FROM_IMAGE_STOP_SIGNAL, "stop_signal" },
    };
    if (!c->image)
        return;
    if (!c->argv) {   /* a read image gives a command or fails the load */
        fprintf(out, "%simage = %s (not read: keel check --no-fs)\n", indent, c->image);
        return;
    }
    fprintf(out, "%simage = %s (from the image:", indent, c->image);
    for (size_t g = 0; g < sizeof gave / sizeof gave[0]; g++)
        if (c->from_image & gave[g].bit)
            fprintf(out, " %s", gave[g].key);
    fprintf(out, ")\n");
}

void plan_print_summary(const struct manifest *m, FILE *out)
{
    const struct system_spec *s = &m->system;
    fprintf(out, "[system]\n");
    if (s->hostname)
        fprintf(out, "hostname = %s\n", s->hostname);
    print_ms(out, "stop_timeout", s->stop_timeout_ms);
    fprintf(out, "log_dir = %s\nlog_max_size = %" PRIu64 "\nlog_keep = %u\n", s->log_dir, s->log_max_size, s->log_keep);
    print_strv(out, "modules", s->modules);
    if (s->modules_split)
        fprintf(out, "modules_split = yes\n");
    for (size_t i = 0; i < s->n_fstab; i++) {
        char opts[600];
        fprintf(out, "fstab = %s\n", fstab_format(&s->fstab[i], opts, sizeof opts));
    }
    print_strv(out, "sysctl", s->sysctl);
    print_strv(out, "dns", s->dns);
    fprintf(out, "on_exit = %s\non_error = %s\n", power_action_name(s->on_exit), power_action_name(s->on_error));
    if (s->rescue_shell)
        fprintf(out, "rescue_shell = %s\n", s->rescue_shell);
    print_strv(out, "control", s->control);
    if (s->control_group)
        fprintf(out, "control_group = %s\n", s->control_group);
    if (s->metrics)
        fprintf(out, "metrics = %s\n", s->metrics);
    if (s->syslog)
        fprintf(out, "syslog = %s\n", s->syslog);
    if (s->watchdog) {
        fprintf(out, "watchdog = %s\n", s->watchdog);
        print_ms(out, "watchdog_timeout", s->watchdog_timeout_ms);
    }
    print_strv(out, "ntp", s->ntp);
    if (s->clock_file)
        fprintf(out, "clock_file = %s\n", s->clock_file);
    for (size_t i = 0; i < m->n_interfaces; i++) {
        const struct interface_spec *f = &m->interfaces[i];
        fprintf(out, "\n[interface %s]\n", f->name);
        if (f->has_address)
            fprintf(out, "address = %s/%u\n", inet_ntoa(f->address), f->prefix);
        else if (f->dhcp)
            fprintf(out, "address = dhcp\n");
        if (f->gateway.s_addr)
            fprintf(out, "gateway = %s\n", inet_ntoa(f->gateway));
        if (f->mtu)
            fprintf(out, "mtu = %u\n", f->mtu);
    }
    for (size_t i = 0; i < m->n_volumes; i++) {
        const struct volume_spec *v = &m->volumes[i];
        fprintf(out, "\n[volume %s]\n", v->name);
        if (v->device)
            fprintf(out, "device = %s\n", v->device);
        if (v->label)
            fprintf(out, "label = %s\n", v->label);
        if (v->uuid)
            fprintf(out, "uuid = %s\n", v->uuid);
        fprintf(out, "fstype = %s\n", v->fstype ? v->fstype : "(what the superblock says)");
        fprintf(out, "options = %s\n", v->options ? v->options : "(none)");
        if (v->mkfs)
            fprintf(out, "mkfs = %s (only when the disk is empty)\n", v->mkfs);
        fprintf(out, "# mounted at %s/%s (nosuid,nodev) before the containers start\n", MANIFEST_VOLUMES_DIR,
                v->name);
    }
    for (size_t i = 0; i < m->n_networks; i++) {
        const struct network_spec *n = &m->networks[i];
        fprintf(out, "\n[network %s]\nsubnet = %s/%u\n", n->name, inet_ntoa(n->subnet), n->prefix);
        fprintf(out, "gateway = %s\nmtu = %u\nisolate = %s\n", inet_ntoa(n->gateway), n->mtu, n->isolate ? "yes" : "no");
    }
    for (size_t k = 0; k < m->n_containers; k++) {
        const struct container_spec *c = &m->containers[m->start_order[k]];
        char caps[1024];
        fprintf(out, "\n[container %s]\n", c->name);
        print_image(out, "", c);
        fprintf(out, "layers =");
        for (size_t l = 0; c->layers && c->layers[l]; l++)
            fprintf(out, "%s%s", l ? ":" : " ", c->layers[l]);
        fprintf(out, "\nupper = %s\n", c->upper ? c->upper : "(none: read-only root)");
        if (c->upper_volume)
            fprintf(out, "# upper on volume %s\n", c->upper_volume);
        setup_print_words(out, "command", c->argv);
        print_strv(out, "env", c->env);
        fprintf(out, "workdir = %s\nuser = %s\nhostname = %s\n", c->workdir ? c->workdir : "/",
                c->user ? c->user : "root", c->hostname ? c->hostname : c->name);
        for (size_t b = 0; b < c->n_mounts; b++)
            fprintf(out, "mount = %s:%s:%s%s%s\n", c->mounts[b].source, c->mounts[b].target,
                    c->mounts[b].readonly ? "ro" : "rw", c->mounts[b].volume ? "  # on volume " : "",
                    c->mounts[b].volume ? c->mounts[b].volume : "");
        for (size_t b = 0; b < c->n_devices; b++)
            fprintf(out, "device = %s:%s\n", c->devices[b].source, c->devices[b].target);
        for (size_t b = 0; b < c->n_secrets; b++)
            fprintf(out, "secret = %s:%s:%u:%u:%04o\n", c->secrets[b].source, c->secrets[b].target,
                    c->secrets[b].uid, c->secrets[b].gid, c->secrets[b].mode);
        fprintf(out, "network = %s%s%s\n", net_mode_name(c->net), c->net == NET_CONTAINER ? ":" : "",
                c->net == NET_CONTAINER ? c->net_peer : "");
        if (c->net == NET_BRIDGE) {
            fprintf(out, "bridge = %s\n", c->bridge);
            if (c->ip.s_addr)
                fprintf(out, "ip = %s\n", inet_ntoa(c->ip));
            for (size_t p = 0; p < c->n_ports; p++) {
                const struct port_map *pm = &c->ports[p];
                fprintf(out, "ports = %s%s%u:%u/%s\n", pm->host_ip.s_addr ? inet_ntoa(pm->host_ip) : "",
                        pm->host_ip.s_addr ? ":" : "", pm->host_port, pm->container_port,
                        pm->proto == IPPROTO_UDP ? "udp" : "tcp");
            }
            if (c->net_rate)
                fprintf(out, "net_rate = %" PRIu64 "bit\n", c->net_rate);
        }
        if (c->restart == RESTART_ON_FAILURE && c->restart_max)
            fprintf(out, "restart = on-failure:%u\n", c->restart_max);
        else
            fprintf(out, "restart = %s\n", restart_policy_name(c->restart));
        print_ms(out, "restart_delay", c->restart_delay_ms);
        print_ms(out, "restart_delay_max", c->restart_delay_max_ms);
        print_ms(out, "restart_reset", c->restart_reset_ms);
        for (size_t d = 0; d < c->n_deps; d++)
            fprintf(out, "depends = %s%s\n", c->deps[d].name, dep_cond(c->deps[d].condition));
        for (unsigned bit = 1; bit & KEEL_COND_ALL; bit <<= 1)
            if (c->wait_conditions & bit)
                fprintf(out, "depends = %s\n", manifest_condition_name(bit));
        fprintf(out, "stop_signal = %s\n", signal_name(c->stop_signal));
        print_ms(out, "stop_timeout", c->stop_timeout_ms);
        fprintf(out, "capabilities = %s\n", caps_format(c->caps, caps, sizeof caps));
        if (c->caps_ambient)
            fprintf(out, "ambient_capabilities = %s\n", caps_format(c->caps_ambient, caps, sizeof caps));
        fprintf(out, "no_new_privs = %s\n", c->no_new_privs ? "yes" : "no");
        fprintf(out, "seccomp = %s\n", c->seccomp == SECCOMP_DEFAULT ? "default" :
                c->seccomp == SECCOMP_UNCONFINED ? "unconfined" : c->seccomp_file);
        if (c->main)
            fprintf(out, "main = yes\n");
        if (c->standby)
            fprintf(out, "standby = yes\n");
        print_limit(out, "memory", c->memory_max);
        print_limit(out, "memory_high", c->memory_high);
        print_limit(out, "memory_swap", c->memory_swap);
        if (c->cpu_quota_us != KEEL_LIMIT_UNSET)
            fprintf(out, "cpus = %" PRId64 ".%02" PRId64 "\n", c->cpu_quota_us / c->cpu_period_us,
                    c->cpu_quota_us % c->cpu_period_us * 100 / c->cpu_period_us);
        print_limit(out, "cpu_weight", c->cpu_weight);
        if (c->cpuset)
            fprintf(out, "cpuset = %s\n", c->cpuset);
        print_limit(out, "pids", c->pids_max);
        print_limit(out, "io_weight", c->io_weight);
        if (c->oom_score_adj_set)
            fprintf(out, "oom_score_adj = %d\n", c->oom_score_adj);
        if (c->health == HEALTH_TCP)
            fprintf(out, "health = tcp:%u\n", c->health_port);
        else if (c->health == HEALTH_CMD)
            setup_print_words(out, "health", c->health_argv);
    }
}

/* The boot's modules (modplan.h): before the first start, and after it. */
static void print_modules(const struct manifest *m, FILE *out)
{
    size_t n = m->n_containers;
    char ***images = calloc(n ? n : 1, sizeof *images);
    struct modplan p = { .first = -1 };
    int r = images ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = layerimg_container_modules(&m->containers[i], &images[i]);
    if (r == 0)
        r = modplan_build(m, (char *const *const *)images, &p);
    for (size_t i = 0; images && i < n; i++)
        strv_free(images[i]);
    free(images);
    if (r < 0) {
        fprintf(out, "modules: error: %s\n", strerror(-r));
        return;
    }
    if (p.before || p.after) {
        fprintf(out, "modules before the first start (boot mode):");
        for (size_t i = 0; p.before && p.before[i]; i++)
            fprintf(out, " %s", p.before[i]);
        fprintf(out, "\n");
    }
    if (p.after) {
        fprintf(out, "modules after the first start (%s), in the background:",
                p.first >= 0 ? m->containers[p.first].name : "none starts at once");
        for (size_t i = 0; p.after[i]; i++)
            fprintf(out, " %s", p.after[i]);
        fprintf(out, "\n");
        for (size_t i = 0; i < n; i++)
            if (p.held[i])
                fprintf(out, "  %s waits for them\n", m->containers[i].name);
    }
    modplan_free(&p);
}

void plan_print(const struct manifest *m, FILE *out)
{
    print_modules(m, out);
    net_plan_machine(m, out);
    for (size_t k = 0; k < m->n_containers; k++) {
        const struct container_spec *c = &m->containers[m->start_order[k]];
        fprintf(out, "container %s (start #%zu)\n", c->name, k + 1);
        print_image(out, "  ", c);
        for (size_t d = 0; d < c->n_deps; d++)
            fprintf(out, "  after: %s%s\n", c->deps[d].name, dep_cond(c->deps[d].condition));
        for (unsigned bit = 1; bit & KEEL_COND_ALL; bit <<= 1)
            if (c->wait_conditions & bit)
                fprintf(out, "  after: condition %s\n", manifest_condition_name(bit));
        /* What keel makes before the clone: namespaces, the user namespace's
         * map, the cgroup, the network. */
        fprintf(out, "  namespaces: pid mount uts ipc cgroup%s\n",
                c->net == NET_HOST ? " (network: host's)" :
                c->net == NET_CONTAINER ? " (network: joins the pinned namespace of the peer)" : " network");
        userns_plan(c, out);
        cgroup_plan(c, out);
        layerimg_plan(c, out);
        net_plan(m, c, out);
        /* Then what the setup child does, from the list it runs. */
        struct setup_facts facts;
        struct setup_list list;
        setup_facts_of_spec(c, &facts);
        facts.keel_userns = userns_keel_nested();   /* as this keel would run it (its sysfs before the pivot) */
        facts.groups_denied = userns_keel_setgroups_denied();
        if (setup_plan_start(c, &facts, &list) < 0) {
            fprintf(out, "  setup: error: %s\n", strerror(ENOMEM));
            continue;
        }
        setup_print(c, &list, out);
        setup_list_free(&list);
    }
}
