/* manifest_net.c — the manifest's network rules and the pure questions about
 * its networks (see manifest_net.h): which network a container is on, its
 * gateway and mtu, whose network namespace a container:NAME ends in, and the
 * address each bridge container gets.  Functions of the manifest only; net.c
 * (the executor) asks them, and manifest.c runs the validation, so the
 * manifest never calls up into the executor.
 */
#include "keel/manifest_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>

/* c->bridge for messages (NULL only in a manifest not made by manifest_load). */
static const char *bridge_name(const struct container_spec *c)
{
    return c->bridge ? c->bridge : "(unset)";
}
static const char *ip_str(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
    return buf;
}

static uint32_t mask_of(unsigned prefix)
{
    return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~0u << (32 - prefix);
}

static bool in_subnet(const struct network_spec *n, struct in_addr a)
{
    uint32_t m = mask_of(n->prefix);
    return (ntohl(a.s_addr) & m) == (ntohl(n->subnet.s_addr) & m);
}

struct in_addr manifest_network_gateway(const struct network_spec *n)
{
    if (n->gateway.s_addr)
        return n->gateway;
    struct in_addr g = { htonl((ntohl(n->subnet.s_addr) & mask_of(n->prefix)) + 1) };
    return g;
}

unsigned manifest_network_mtu(const struct network_spec *n)
{
    return n->mtu ? n->mtu : 1500;
}

static bool is_host_addr(const struct network_spec *n, struct in_addr a)
{
    uint32_t m = mask_of(n->prefix), h = ntohl(a.s_addr);
    return in_subnet(n, a) && (h & ~m) != 0 && (h & ~m) != (~m & 0xffffffffu);
}

/* --- IPv6 ------------------------------------------------------------------- */

static const char *ip6_str(const struct in6_addr *a, char buf[INET6_ADDRSTRLEN])
{
    inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
    return buf;
}

bool manifest_in_prefix6(const struct in6_addr *net, unsigned prefix, const struct in6_addr *a)
{
    for (unsigned bit = 0; bit < prefix && bit < 128; bit++) {
        uint8_t m = (uint8_t)(0x80 >> (bit % 8));
        if ((net->s6_addr[bit / 8] & m) != (a->s6_addr[bit / 8] & m))
            return false;
    }
    return true;
}

/* The subnet's address with host number `h` in its low 32 bits (prefixes are
 * at most /120, so h below 2^(128-prefix) fits). */
static struct in6_addr v6_host(const struct network_spec *n, uint32_t h)
{
    struct in6_addr a = n->subnet6;
    for (int i = 0; i < 4; i++)
        a.s6_addr[15 - i] = (uint8_t)(a.s6_addr[15 - i] | ((h >> (8 * i)) & 0xff));
    return a;
}

struct in6_addr manifest_network_gateway6(const struct network_spec *n)
{
    return n->has_gateway6 ? n->gateway6 : v6_host(n, 1);
}

/* A host address of the subnet: inside it, and not the subnet-router anycast
 * address (all host bits zero). */
static bool is_host_addr6(const struct network_spec *n, const struct in6_addr *a)
{
    return manifest_in_prefix6(&n->subnet6, n->prefix6, a) && memcmp(a, &n->subnet6, sizeof *a) != 0;
}

int manifest_alloc_ip6(const struct network_spec *n, const struct in6_addr *used, size_t count, struct in6_addr *out)
{
    if (!n->has_v6)
        return -ENOSPC;
    struct in6_addr gw = manifest_network_gateway6(n);
    uint64_t hosts = n->prefix6 >= 96 ? ((uint64_t)1 << (128 - n->prefix6)) : ((uint64_t)1 << 32);
    /* Bounded: at most one candidate per container beyond the gateway. */
    for (uint64_t h = 1; h < hosts && h <= count + 2; h++) {
        struct in6_addr c = v6_host(n, (uint32_t)h);
        bool taken = memcmp(&c, &gw, sizeof c) == 0;
        for (size_t i = 0; i < count && !taken; i++)
            taken = memcmp(&used[i], &c, sizeof c) == 0;
        if (!taken) {
            *out = c;
            return 0;
        }
    }
    return -ENOSPC;
}

int manifest_assign_ip6s(const struct manifest *m, struct in6_addr *ips, int *failed)
{
    static const struct in6_addr none = IN6ADDR_ANY_INIT;
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        const struct network_spec *n = c->net == NET_BRIDGE ? manifest_network_of(m, c) : NULL;
        ips[i] = n && n->has_v6 && c->has_ip6 ? c->ip6 : none;
    }
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        const struct network_spec *n = c->net == NET_BRIDGE ? manifest_network_of(m, c) : NULL;
        if (!n || !n->has_v6 || !IN6_IS_ADDR_UNSPECIFIED(&ips[i]))
            continue;
        struct in6_addr used[m->n_containers ? m->n_containers : 1];
        size_t nu = 0;
        for (size_t j = 0; j < m->n_containers; j++)
            if (!IN6_IS_ADDR_UNSPECIFIED(&ips[j]) && manifest_network_of(m, &m->containers[j]) == n)
                used[nu++] = ips[j];
        if (manifest_alloc_ip6(n, used, nu, &ips[i]) < 0) {
            if (failed)
                *failed = (int)i;
            return -ENOSPC;
        }
    }
    return 0;
}

static void validate_v6(const struct manifest *m, const char *f, struct diag *d)
{
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    for (size_t i = 0; i < m->n_networks; i++) {
        const struct network_spec *n = &m->networks[i];
        if (!n->has_v6) {
            if (n->has_gateway6)
                diag_add(d, f, manifest_key_line(n, "gateway6"), "network %s: gateway6 requires subnet6", n->name);
            continue;
        }
        if (n->has_gateway6 && !is_host_addr6(n, &n->gateway6))
            diag_add(d, f, manifest_key_line(n, "gateway6"), "network %s: gateway6 %s is not a host address of %s/%u",
                     n->name, ip6_str(&n->gateway6, a), ip6_str(&n->subnet6, b), n->prefix6);
        for (size_t j = 0; j < i; j++) {
            const struct network_spec *o = &m->networks[j];
            unsigned p = o->prefix6 < n->prefix6 ? o->prefix6 : n->prefix6;
            if (o->has_v6 && manifest_in_prefix6(&o->subnet6, p, &n->subnet6))
                diag_add(d, f, manifest_key_line(n, "subnet6"), "network %s: subnet6 %s/%u overlaps network %s (line %d)",
                         n->name, ip6_str(&n->subnet6, a), n->prefix6, o->name, manifest_key_line(o, "subnet6"));
        }
    }
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (!c->has_ip6)
            continue;
        const struct network_spec *n = c->net == NET_BRIDGE ? manifest_network_of(m, c) : NULL;
        if (c->net != NET_BRIDGE) {
            diag_add(d, f, manifest_key_line(c, "ip6"), "container %s: ip6 requires network = bridge", c->name);
            continue;
        }
        if (!n)
            continue;   /* reported above */
        if (!n->has_v6) {
            diag_add(d, f, manifest_key_line(c, "ip6"), "container %s: ip6 requires subnet6 on network %s", c->name,
                     n->name);
            continue;
        }
        struct in6_addr gw = manifest_network_gateway6(n);
        if (!is_host_addr6(n, &c->ip6))
            diag_add(d, f, manifest_key_line(c, "ip6"), "container %s: ip6 %s is outside network %s (%s/%u)", c->name,
                     ip6_str(&c->ip6, a), n->name, ip6_str(&n->subnet6, b), n->prefix6);
        else if (memcmp(&c->ip6, &gw, sizeof gw) == 0)
            diag_add(d, f, manifest_key_line(c, "ip6"), "container %s: ip6 %s is the gateway6 of network %s", c->name,
                     ip6_str(&c->ip6, a), n->name);
        for (size_t j = 0; j < i; j++) {
            const struct container_spec *o = &m->containers[j];
            if (o->net == NET_BRIDGE && o->has_ip6 && memcmp(&o->ip6, &c->ip6, sizeof c->ip6) == 0 &&
                manifest_network_of(m, o) == n)
                diag_add(d, f, manifest_key_line(c, "ip6"), "container %s: ip6 %s is already used by container %s "
                         "(line %d)", c->name, ip6_str(&c->ip6, a), o->name, manifest_key_line(o, "ip6"));
        }
    }
    for (size_t i = 0; i < m->n_interfaces; i++) {
        const struct interface_spec *ifs = &m->interfaces[i];
        if (ifs->has_gateway6 && !ifs->has_address6)
            diag_add(d, f, manifest_key_line(ifs, "gateway6"), "interface %s: gateway6 requires a static address6 "
                     "(with address6 = auto the route comes from router advertisements)", ifs->name);
    }
}

/* The network a bridge-mode container is on; NULL when it names none or one
 * the manifest lacks.  There is no fallback here: the default network (keel0)
 * is the manifest's, which adds it and sets c->bridge when a container needs it. */
const struct network_spec *manifest_network_of(const struct manifest *m, const struct container_spec *c)
{
    if (!c->bridge)
        return NULL;
    for (size_t i = 0; i < m->n_networks; i++)
        if (m->networks[i].name && strcmp(m->networks[i].name, c->bridge) == 0)
            return &m->networks[i];
    return NULL;
}


static int container_index(const struct manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_containers; i++)
        if (m->containers[i].name && name && strcmp(m->containers[i].name, name) == 0)
            return (int)i;
    return -1;
}

int manifest_container_index_of(const struct manifest *m, const struct container_spec *c)
{
    if (c >= m->containers && c < m->containers + m->n_containers)
        return (int)(c - m->containers);
    return container_index(m, c->name);
}

/* The container whose namespace `i` ends up in (itself unless container:NAME);
 * -1 for a missing target, a cycle, or host mode at the end of the chain. */
int manifest_netns_root(const struct manifest *m, int i)
{
    for (size_t steps = 0; i >= 0 && steps <= m->n_containers; steps++) {
        const struct container_spec *c = &m->containers[i];
        if (c->net == NET_HOST)
            return -1;
        if (c->net != NET_CONTAINER)
            return i;
        i = container_index(m, c->net_peer);
    }
    return -1;
}

int manifest_alloc_ip(const struct network_spec *n, const struct in_addr *used, size_t count,
                 struct in_addr *out)
{
    if (n->prefix > 30)
        return -ENOSPC;
    uint32_t m = mask_of(n->prefix);
    uint32_t base = ntohl(n->subnet.s_addr) & m;
    uint32_t last = base | ~m;      /* broadcast */
    uint32_t gw = ntohl(manifest_network_gateway(n).s_addr);
    for (uint32_t h = base + 1; h < last; h++) {
        if (h == gw)
            continue;
        bool taken = false;
        for (size_t i = 0; i < count && !taken; i++)
            taken = ntohl(used[i].s_addr) == h;
        if (!taken) {
            out->s_addr = htonl(h);
            return 0;
        }
    }
    return -ENOSPC;
}

/* Addresses of every bridge-mode container: explicit ones first, then the
 * lowest free address in manifest order, so the result is stable from one
 * start to the next.  ips[] has m->n_containers entries; 0 for other modes.
 * On exhaustion returns -ENOSPC and *failed names the container. */
int manifest_assign_ips(const struct manifest *m, struct in_addr *ips, int *failed)
{
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        ips[i].s_addr = (c->net == NET_BRIDGE) ? c->ip.s_addr : 0;
    }
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (c->net != NET_BRIDGE || ips[i].s_addr)
            continue;
        const struct network_spec *n = manifest_network_of(m, c);
        if (!n)
            continue;
        /* Everything already taken on the same network. */
        struct in_addr used[m->n_containers ? m->n_containers : 1];
        size_t nu = 0;
        for (size_t j = 0; j < m->n_containers; j++)
            if (ips[j].s_addr && m->containers[j].net == NET_BRIDGE && manifest_network_of(m, &m->containers[j]) == n)
                used[nu++] = ips[j];
        if (manifest_alloc_ip(n, used, nu, &ips[i]) < 0) {
            if (failed)
                *failed = (int)i;
            return -ENOSPC;
        }
    }
    return 0;
}

bool manifest_ifname_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}



static bool ports_clash(const struct port_map *a, const struct port_map *b)
{
    return a->proto == b->proto && a->host_port == b->host_port &&
           (a->host_ip.s_addr == htonl(INADDR_ANY) || b->host_ip.s_addr == htonl(INADDR_ANY) ||
            a->host_ip.s_addr == b->host_ip.s_addr);
}

int manifest_validate_networks(const struct manifest *m, struct diag *d)
{
    const char *f = m->path ? m->path : "manifest";
    size_t before = d->count;
    char a[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];

    for (size_t i = 0; i < m->n_networks; i++) {
        const struct network_spec *n = &m->networks[i];
        if (!manifest_ifname_ok(n->name))
            diag_add(d, f, n->line, "network name '%s' is not a valid interface name "
                     "(1-15 of A-Z a-z 0-9 _ - .)", n->name ? n->name : "");
        else if (strcmp(n->name, "lo") == 0)
            diag_add(d, f, n->line, "network name 'lo' is reserved");
        if (n->prefix < 1 || n->prefix > 30) {
            diag_add(d, f, manifest_key_line(n, "subnet"), "network %s: subnet prefix /%u leaves no room for containers (use /1 to /30)",
                     n->name, n->prefix);
            continue;
        }
        if (ntohl(n->subnet.s_addr) & ~mask_of(n->prefix))
            diag_add(d, f, manifest_key_line(n, "subnet"), "network %s: subnet %s/%u has host bits set", n->name,
                     ip_str(n->subnet, a), n->prefix);
        if (n->gateway.s_addr && !is_host_addr(n, n->gateway))
            diag_add(d, f, manifest_key_line(n, "gateway"), "network %s: gateway %s is not a host address of %s/%u", n->name,
                     ip_str(n->gateway, a), ip_str(n->subnet, b2), n->prefix);
        if (n->mtu && (n->mtu < 68 || n->mtu > 65535))
            diag_add(d, f, manifest_key_line(n, "mtu"), "network %s: mtu %u out of range (68-65535)", n->name, n->mtu);
        for (size_t j = 0; j < i; j++) {
            const struct network_spec *o = &m->networks[j];
            unsigned p = o->prefix < n->prefix ? o->prefix : n->prefix;
            if (o->prefix >= 1 && o->prefix <= 32 &&
                ((ntohl(o->subnet.s_addr) ^ ntohl(n->subnet.s_addr)) & mask_of(p)) == 0)
                diag_add(d, f, manifest_key_line(n, "subnet"), "network %s: subnet %s/%u overlaps network %s (line %d)",
                         n->name, ip_str(n->subnet, a), n->prefix, o->name, manifest_key_line(o, "subnet"));
        }
    }

    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (c->net != NET_BRIDGE) {
            if (c->ip.s_addr)
                diag_add(d, f, manifest_key_line(c, "ip"), "container %s: ip requires network = bridge", c->name);
            if (c->n_ports)
                diag_add(d, f, c->ports[0].line ? c->ports[0].line : c->line,
                         "container %s: ports require network = bridge", c->name);
            if (c->net_rate)
                diag_add(d, f, manifest_key_line(c, "net_rate"), "container %s: net_rate requires network = bridge", c->name);
        }
        if (c->net == NET_BRIDGE) {
            const struct network_spec *n = manifest_network_of(m, c);
            if (!n) {
                diag_add(d, f, manifest_key_line(c, "bridge"), "container %s: bridge '%s' names no [network] section", c->name,
                         bridge_name(c));
            } else if (c->ip.s_addr) {
                if (!is_host_addr(n, c->ip))
                    diag_add(d, f, manifest_key_line(c, "ip"), "container %s: ip %s is outside network %s (%s/%u)", c->name,
                             ip_str(c->ip, a), n->name, ip_str(n->subnet, b2), n->prefix);
                else if (c->ip.s_addr == manifest_network_gateway(n).s_addr)
                    diag_add(d, f, manifest_key_line(c, "ip"), "container %s: ip %s is the gateway of network %s", c->name,
                             ip_str(c->ip, a), n->name);
                for (size_t j = 0; j < i; j++) {
                    const struct container_spec *o = &m->containers[j];
                    if (o->net == NET_BRIDGE && o->ip.s_addr == c->ip.s_addr && manifest_network_of(m, o) == n)
                        diag_add(d, f, manifest_key_line(c, "ip"), "container %s: ip %s is already used by container %s "
                                 "(line %d)", c->name, ip_str(c->ip, a), o->name, manifest_key_line(o, "ip"));
                }
            }
            if (c->net_rate / 8 > 0x7fffffffu)
                diag_add(d, f, manifest_key_line(c, "net_rate"), "container %s: net_rate too large (at most 17179869176 bit/s)", c->name);
        }
        if (c->net == NET_CONTAINER) {
            int t = container_index(m, c->net_peer);
            if (t < 0)
                diag_add(d, f, manifest_key_line(c, "network"), "container %s: network = container:%s names no container", c->name,
                         c->net_peer ? c->net_peer : "");
            else if ((size_t)t == i)
                diag_add(d, f, manifest_key_line(c, "network"), "container %s: network = container:%s names itself", c->name, c->name);
            else if (m->containers[t].net == NET_HOST)
                diag_add(d, f, manifest_key_line(c, "network"), "container %s: network = container:%s, but %s uses the host network "
                         "(use network = host)", c->name, c->net_peer, c->net_peer);
            else if (manifest_netns_root(m, (int)i) < 0)
                diag_add(d, f, manifest_key_line(c, "network"), "container %s: network = container:%s forms a cycle", c->name, c->net_peer);
        }
        for (size_t p = 0; p < c->n_ports; p++) {
            const struct port_map *pm = &c->ports[p];
            int line = pm->line ? pm->line : c->line;
            if (pm->host_port == 0 || pm->container_port == 0)
                diag_add(d, f, line, "container %s: port 0 cannot be published", c->name);
            bool reported = false;
            for (size_t j = 0; j <= i && !reported; j++) {
                const struct container_spec *o = &m->containers[j];
                size_t lim = j == i ? p : o->n_ports;
                for (size_t q = 0; q < lim && !reported; q++)
                    if (ports_clash(pm, &o->ports[q])) {
                        diag_add(d, f, line, "container %s: host port %u/%s is already published by "
                                 "container %s (line %d)", c->name, pm->host_port,
                                 pm->proto == IPPROTO_UDP ? "udp" : "tcp", o->name,
                                 o->ports[q].line ? o->ports[q].line : o->line);
                        reported = true;
                    }
            }
        }
    }

    /* address = dhcp: the lease gives the routes. */
    for (size_t i = 0; i < m->n_interfaces; i++) {
        const struct interface_spec *ifs = &m->interfaces[i];
        if (ifs->dhcp && ifs->gateway.s_addr)
            diag_add(d, f, manifest_key_line(ifs, "gateway"),
                     "interface %s: gateway cannot be set with address = dhcp (the lease gives the routes)", ifs->name);
    }
    validate_v6(m, f, d);

    if (d->count == before) {
        struct in_addr ips[m->n_containers ? m->n_containers : 1];
        int failed = -1;
        if (manifest_assign_ips(m, ips, &failed) < 0 && failed >= 0) {
            const struct container_spec *c = &m->containers[failed];
            diag_add(d, f, manifest_key_line(c, "network"), "container %s: no free address left in network %s", c->name,
                     manifest_network_of(m, c)->name);
        }
        struct in6_addr ip6s[m->n_containers ? m->n_containers : 1];
        failed = -1;
        if (manifest_assign_ip6s(m, ip6s, &failed) < 0 && failed >= 0) {
            const struct container_spec *c = &m->containers[failed];
            diag_add(d, f, manifest_key_line(c, "network"), "container %s: no free IPv6 address left in network %s",
                     c->name, manifest_network_of(m, c)->name);
        }
    }
    return d->count == before ? 0 : -EINVAL;
}
