/* modplan.c — modules before and after the first start, see modplan.h. */
#include "keel/modplan.h"
#include "keel/kmod.h"
#include "keel/util.h"

#include <errno.h>
#include <string.h>

static const struct { const char *name; enum modplan_role role; } roles[] = {
    { "overlay", MODROLE_ROOT },
    { "loop", MODROLE_IMAGE }, { "erofs", MODROLE_IMAGE }, { "squashfs", MODROLE_IMAGE },
    /* nft.h: the table's chains and rules as net_init() makes them. */
    { "bridge", MODROLE_NETWORKS }, { "nf_tables", MODROLE_NETWORKS }, { "nft_chain_nat", MODROLE_NETWORKS },
    { "nft_masq", MODROLE_NETWORKS }, { "nft_ct", MODROLE_NETWORKS }, { "nft_fib_inet", MODROLE_NETWORKS },
    { "nft_fib_ipv4", MODROLE_NETWORKS }, { "nft_fib_ipv6", MODROLE_NETWORKS }, { "nft_fib", MODROLE_NETWORKS },
    { "nf_nat", MODROLE_NETWORKS }, { "nf_conntrack", MODROLE_NETWORKS }, { "nfnetlink", MODROLE_NETWORKS },
    { "veth", MODROLE_VETH },
    { "nft_nat", MODROLE_PORTS },
    { "button", MODROLE_NO_START }, { "evdev", MODROLE_NO_START }, { "gpio_keys", MODROLE_NO_START },
    { "nf_conntrack_netlink", MODROLE_NO_START },
};

enum modplan_role modplan_role(const char *name)
{
    char norm[KMOD_NAME_MAX];
    if (kmod_name_normalize(name, norm, sizeof norm) < 0)
        return MODROLE_OTHER;
    for (size_t i = 0; i < ARRAY_SIZE(roles); i++)
        if (strcmp(roles[i].name, norm) == 0)
            return roles[i].role;
    return MODROLE_OTHER;
}

static bool power_button_module(const char *name)
{
    char norm[KMOD_NAME_MAX];
    return kmod_name_normalize(name, norm, sizeof norm) == 0 &&
           (strcmp(norm, "button") == 0 || strcmp(norm, "evdev") == 0 || strcmp(norm, "gpio_keys") == 0);
}

/* Whether container i's start needs module `name` (of a role keel knows). */
static bool start_needs(const struct manifest *m, char *const *const *images, size_t i, const char *name)
{
    const struct container_spec *c = &m->containers[i];
    switch (modplan_role(name)) {
    case MODROLE_ROOT:
        return true;   /* the root is always an overlay (the init layer on top) */
    case MODROLE_IMAGE: {
        char norm[KMOD_NAME_MAX];
        if (!images || !images[i] || kmod_name_normalize(name, norm, sizeof norm) < 0)
            return false;
        for (size_t k = 0; images[i][k]; k++) {
            char other[KMOD_NAME_MAX];
            if (kmod_name_normalize(images[i][k], other, sizeof other) == 0 && strcmp(norm, other) == 0)
                return true;
        }
        return false;
    }
    case MODROLE_NETWORKS:
    case MODROLE_VETH:
        return c->net == NET_BRIDGE;
    case MODROLE_PORTS:
        return c->net == NET_BRIDGE && c->n_ports > 0;
    case MODROLE_OTHER:
    case MODROLE_NO_START:
        return false;
    }
    return false;
}

static bool same_module(const char *a, const char *b)
{
    char na[KMOD_NAME_MAX], nb[KMOD_NAME_MAX];
    return a && b && kmod_name_normalize(a, na, sizeof na) == 0 && kmod_name_normalize(b, nb, sizeof nb) == 0 &&
           strcmp(na, nb) == 0;
}

bool modplan_first_step(const struct manifest *m, const char *name)
{
    if (modplan_role(name) == MODROLE_OTHER)
        return true;
    for (size_t i = 0; i < m->system.n_fstab; i++)
        if (same_module(m->system.fstab[i].fstype, name))
            return true;
    for (size_t i = 0; i < m->n_volumes; i++)
        if (same_module(m->volumes[i].fstype, name))
            return true;
    return false;
}

/* Whether keel's own set-up before any start needs it: the fstab and the
 * volumes, and the bridges and the nf_tables table net_init() makes when any
 * container is on a bridge. */
static bool setup_needs(const struct manifest *m, const char *name)
{
    enum modplan_role r = modplan_role(name);
    if (modplan_first_step(m, name))
        return true;
    if (r != MODROLE_NETWORKS)
        return false;
    for (size_t i = 0; i < m->n_containers; i++)
        if (m->containers[i].net == NET_BRIDGE)
            return true;
    return false;
}

/* The first container the supervisor starts: the first in start order that
 * waits for nothing. */
static int first_container(const struct manifest *m)
{
    for (size_t k = 0; k < m->n_containers; k++) {
        int i = m->start_order ? m->start_order[k] : (int)k;
        const struct container_spec *c = &m->containers[i];
        if (c->n_deps == 0 && c->wait_conditions == 0)
            return i;
    }
    return -1;
}

static int add_unique(char ***v, const char *name)
{
    char norm[KMOD_NAME_MAX];
    if (kmod_name_normalize(name, norm, sizeof norm) < 0)
        return 0;   /* kmod_load names the bad name */
    for (size_t i = 0; *v && (*v)[i]; i++) {
        char other[KMOD_NAME_MAX];
        if (kmod_name_normalize((*v)[i], other, sizeof other) == 0 && strcmp(norm, other) == 0)
            return 0;
    }
    return strv_push(v, name);
}

/* Puts one module into before or after. */
static int place(const struct manifest *m, char *const *const *images, struct modplan *p, const char *name)
{
    bool before = !m->system.modules_split || setup_needs(m, name) ||
                  (p->first >= 0 && start_needs(m, images, (size_t)p->first, name));
    if (before)
        return add_unique(&p->before, name);
    for (size_t i = 0; i < m->n_containers; i++)
        if (start_needs(m, images, i, name))
            p->held[i] = true;
    if (power_button_module(name))
        p->button_after = true;
    return add_unique(&p->after, name);
}

int modplan_build(const struct manifest *m, char *const *const *images, struct modplan *p)
{
    *p = (struct modplan){ .first = first_container(m) };
    p->held = calloc(m->n_containers ? m->n_containers : 1, sizeof *p->held);
    if (!p->held)
        return -ENOMEM;
    int r = 0;
    for (size_t k = 0; r == 0 && m->system.modules && m->system.modules[k]; k++)
        r = place(m, images, p, m->system.modules[k]);
    /* keel's own: what image-file layers need, whether listed or not. */
    for (size_t i = 0; r == 0 && images && i < m->n_containers; i++)
        for (size_t k = 0; r == 0 && images[i] && images[i][k]; k++)
            r = place(m, images, p, images[i][k]);
    if (r < 0) {
        modplan_free(p);
        return -ENOMEM;
    }
    /* Where a module goes depends on its name alone, so no name is in both
     * lists (a '-' or '_' spelling of the same module included). */
    return 0;
}

void modplan_free(struct modplan *p)
{
    strv_free(p->before);
    strv_free(p->after);
    free(p->held);
    *p = (struct modplan){ .first = -1 };
}
