/* net.c — container networking over netlink (see net.h and docs/networking.md).
 *
 * Layout of the work:
 *   pure part    network lookup, address assignment, validation, /etc/hosts
 *                text, the plan text: functions of the manifest only
 *   system part  net_init / net_container_netns / net_container_release /
 *                net_shutdown: namespaces, links, sysctls and nf_tables
 *
 * Speed matters here (issue 9): moving a link between namespaces and deleting
 * a veth each wait for RCU grace periods (15–35 ms each).  So the container's
 * eth0 is created directly inside its namespace (IFLA_NET_NS_FD in the veth
 * peer), all messages of one namespace go in one netlink datagram, and a pair
 * is never deleted by keel: unpinning the namespace lets the kernel destroy
 * it, and the pair with it, in the background.
 */
#include "keel/net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/log.h"
#include "keel/net_msg.h"
#include "keel/nft.h"
#include "keel/nlbuf.h"
#include "keel/util.h"

#define NET_ALIAS_PREFIX "keel:"

/* ===================================================================== */
/* Pure part                                                              */
/* ===================================================================== */

static uint32_t mask_of(unsigned prefix)
{
    return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~0u << (32 - prefix);
}

static bool in_subnet(const struct network_spec *n, struct in_addr a)
{
    uint32_t m = mask_of(n->prefix);
    return (ntohl(a.s_addr) & m) == (ntohl(n->subnet.s_addr) & m);
}

static struct in_addr net_gateway(const struct network_spec *n)
{
    if (n->gateway.s_addr)
        return n->gateway;
    struct in_addr g = { htonl((ntohl(n->subnet.s_addr) & mask_of(n->prefix)) + 1) };
    return g;
}

static unsigned net_mtu(const struct network_spec *n)
{
    return n->mtu ? n->mtu : 1500;
}

static bool is_host_addr(const struct network_spec *n, struct in_addr a)
{
    uint32_t m = mask_of(n->prefix), h = ntohl(a.s_addr);
    return in_subnet(n, a) && (h & ~m) != 0 && (h & ~m) != (~m & 0xffffffffu);
}

/* The network a bridge-mode container is on; NULL when it names none or one
 * the manifest lacks.  There is no fallback here: the default network (keel0)
 * is the manifest's, which adds it and sets c->bridge when a container needs it. */
static const struct network_spec *network_of(const struct manifest *m, const struct container_spec *c)
{
    if (!c->bridge)
        return NULL;
    for (size_t i = 0; i < m->n_networks; i++)
        if (m->networks[i].name && strcmp(m->networks[i].name, c->bridge) == 0)
            return &m->networks[i];
    return NULL;
}

/* c->bridge for messages (NULL only in a manifest not made by manifest_load). */
static const char *bridge_name(const struct container_spec *c)
{
    return c->bridge ? c->bridge : "(unset)";
}

static int container_index(const struct manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_containers; i++)
        if (m->containers[i].name && name && strcmp(m->containers[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int index_of(const struct manifest *m, const struct container_spec *c)
{
    if (c >= m->containers && c < m->containers + m->n_containers)
        return (int)(c - m->containers);
    return container_index(m, c->name);
}

/* The container whose namespace `i` ends up in (itself unless container:NAME);
 * -1 for a missing target, a cycle, or host mode at the end of the chain. */
static int root_of(const struct manifest *m, int i)
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

int net_alloc_ip(const struct network_spec *n, const struct in_addr *used, size_t count,
                 struct in_addr *out)
{
    if (n->prefix > 30)
        return -ENOSPC;
    uint32_t m = mask_of(n->prefix);
    uint32_t base = ntohl(n->subnet.s_addr) & m;
    uint32_t last = base | ~m;      /* broadcast */
    uint32_t gw = ntohl(net_gateway(n).s_addr);
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
static int assign_ips(const struct manifest *m, struct in_addr *ips, int *failed)
{
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        ips[i].s_addr = (c->net == NET_BRIDGE) ? c->ip.s_addr : 0;
    }
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (c->net != NET_BRIDGE || ips[i].s_addr)
            continue;
        const struct network_spec *n = network_of(m, c);
        if (!n)
            continue;
        /* Everything already taken on the same network. */
        struct in_addr used[m->n_containers ? m->n_containers : 1];
        size_t nu = 0;
        for (size_t j = 0; j < m->n_containers; j++)
            if (ips[j].s_addr && m->containers[j].net == NET_BRIDGE && network_of(m, &m->containers[j]) == n)
                used[nu++] = ips[j];
        if (net_alloc_ip(n, used, nu, &ips[i]) < 0) {
            if (failed)
                *failed = (int)i;
            return -ENOSPC;
        }
    }
    return 0;
}

static bool ifname_ok(const char *s)
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

/* Host end of a container's veth: "kv" + its name, or "kv" + a hash of the
 * name when that would not make a valid interface name. */
static void veth_name(const char *cname, char out[IFNAMSIZ])
{
    char cand[64];
    snprintf(cand, sizeof cand, "kv%s", cname);
    if (ifname_ok(cand)) {
        memcpy(out, cand, strlen(cand) + 1);
        return;
    }
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const char *p = cname; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    snprintf(out, IFNAMSIZ, "kv%08x", h);
}

static const char *ip_str(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
    inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
    return buf;
}

static bool ports_clash(const struct port_map *a, const struct port_map *b)
{
    return a->proto == b->proto && a->host_port == b->host_port &&
           (a->host_ip.s_addr == htonl(INADDR_ANY) || b->host_ip.s_addr == htonl(INADDR_ANY) ||
            a->host_ip.s_addr == b->host_ip.s_addr);
}

int net_validate(const struct manifest *m, struct diag *d)
{
    const char *f = m->path ? m->path : "manifest";
    size_t before = d->count;
    char a[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];

    for (size_t i = 0; i < m->n_networks; i++) {
        const struct network_spec *n = &m->networks[i];
        if (!ifname_ok(n->name))
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
            const struct network_spec *n = network_of(m, c);
            if (!n) {
                diag_add(d, f, manifest_key_line(c, "bridge"), "container %s: bridge '%s' names no [network] section", c->name,
                         bridge_name(c));
            } else if (c->ip.s_addr) {
                if (!is_host_addr(n, c->ip))
                    diag_add(d, f, manifest_key_line(c, "ip"), "container %s: ip %s is outside network %s (%s/%u)", c->name,
                             ip_str(c->ip, a), n->name, ip_str(n->subnet, b2), n->prefix);
                else if (c->ip.s_addr == net_gateway(n).s_addr)
                    diag_add(d, f, manifest_key_line(c, "ip"), "container %s: ip %s is the gateway of network %s", c->name,
                             ip_str(c->ip, a), n->name);
                for (size_t j = 0; j < i; j++) {
                    const struct container_spec *o = &m->containers[j];
                    if (o->net == NET_BRIDGE && o->ip.s_addr == c->ip.s_addr && network_of(m, o) == n)
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
            else if (root_of(m, (int)i) < 0)
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

    if (d->count == before) {
        struct in_addr ips[m->n_containers ? m->n_containers : 1];
        int failed = -1;
        if (assign_ips(m, ips, &failed) < 0 && failed >= 0) {
            const struct container_spec *c = &m->containers[failed];
            diag_add(d, f, manifest_key_line(c, "network"), "container %s: no free address left in network %s", c->name,
                     network_of(m, c)->name);
        }
    }
    return d->count == before ? 0 : -EINVAL;
}

/* /etc/hosts ------------------------------------------------------------- */

struct strbuf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 512;
        while (ncap <= b->len + (size_t)n)
            ncap *= 2;
        char *ns = realloc(b->s, ncap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
}

static struct in_addr ctx_ip(const struct net_ctx *ctx, const struct manifest *m, int i);

char *net_hosts_file(const struct net_ctx *ctx, const struct manifest *m, const struct container_spec *c)
{
    struct strbuf b = { 0 };
    char a[INET_ADDRSTRLEN];
    int self = index_of(m, c);
    if (self < 0)
        return NULL;
    int root = root_of(m, self);
    const char *host = c->hostname ? c->hostname : c->name;

    sb_printf(&b, "# generated by keel\n127.0.0.1\tlocalhost\n");
    /* IPv6 is off in every namespace keel makes (new_netns): no ::1 there. */
    if (c->net == NET_HOST)
        sb_printf(&b, "::1\tlocalhost ip6-localhost ip6-loopback\n");

    const struct network_spec *mynet = NULL;
    struct in_addr myip = { 0 };
    if (root >= 0 && m->containers[root].net == NET_BRIDGE) {
        mynet = network_of(m, &m->containers[root]);
        myip = ctx_ip(ctx, m, root);
    }
    if (myip.s_addr) {
        if (strcmp(host, c->name) != 0)
            sb_printf(&b, "%s\t%s %s\n", ip_str(myip, a), host, c->name);
        else
            sb_printf(&b, "%s\t%s\n", ip_str(myip, a), c->name);
    } else {
        if (strcmp(host, c->name) != 0)
            sb_printf(&b, "127.0.1.1\t%s %s\n", host, c->name);
        else
            sb_printf(&b, "127.0.1.1\t%s\n", c->name);
    }

    /* The others: containers on the same network (bridge or joined through
     * container:), or, for a host-network container, every bridge container
     * (the host routes to them). */
    for (size_t j = 0; j < m->n_containers; j++) {
        if ((int)j == self)
            continue;
        int r = root_of(m, (int)j);
        if (r < 0 || m->containers[r].net != NET_BRIDGE)
            continue;
        const struct network_spec *n = network_of(m, &m->containers[r]);
        bool visible = c->net == NET_HOST ? true : (mynet && n == mynet);
        struct in_addr ip = ctx_ip(ctx, m, r);
        if (visible && ip.s_addr)
            sb_printf(&b, "%s\t%s\n", ip_str(ip, a), m->containers[j].name);
    }
    if (b.oom) {
        free(b.s);
        errno = ENOMEM;
        return NULL;
    }
    return b.s;
}

int net_resolv_conf(const struct manifest *m, char **out)
{
    *out = NULL;
    if (!m->system.dns || !m->system.dns[0])
        return 1;
    struct strbuf b = { 0 };
    sb_printf(&b, "# generated by keel\n");
    for (size_t i = 0; m->system.dns[i]; i++)
        sb_printf(&b, "nameserver %s\n", m->system.dns[i]);
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    *out = b.s;
    return 0;
}

/* ===================================================================== */
/* System part                                                            */
/* ===================================================================== */

struct net_bridge {
    const struct network_spec *spec;
    char ifname[IFNAMSIZ];
    int ifindex;
    bool created;
};

struct net_slot {
    struct in_addr ip;       /* 0 when none (not bridge, or released) */
    int ns_fd;               /* pinned namespace, -1 when not created */
    int bridge;              /* index into ctx->bridges, -1 */
    char veth[IFNAMSIZ];
    char *pin;               /* RUN_DIR/netns/NAME */
};

struct net_ctx {
    const struct manifest *m;
    char *netns_dir;
    int host_ns;             /* keel's own network namespace */
    int rt;                  /* NETLINK_ROUTE socket in keel's namespace */
    int nft;                 /* NETLINK_NETFILTER socket owning table keel, -1 */
    struct net_bridge *bridges;
    size_t n_bridges;
    struct net_slot *slots;  /* one per container */
    int old_forward;         /* ip_forward before keel changed it, -1 untouched */
    char *forward_file;      /* RUN_DIR/ip_forward.orig: that value, for after a crash */
    struct nlbuf buf;
};

static struct in_addr ctx_ip(const struct net_ctx *ctx, const struct manifest *m, int i)
{
    if (ctx)
        return ctx->slots[i].ip;
    struct in_addr ips[m->n_containers ? m->n_containers : 1];
    if (assign_ips(m, ips, NULL) < 0)
        return (struct in_addr){ 0 };
    return ips[i];
}

struct in_addr net_container_ip(const struct net_ctx *ctx, const struct container_spec *c)
{
    int i = index_of(ctx->m, c);
    int r = i < 0 ? -1 : root_of(ctx->m, i);
    if (r < 0)
        return (struct in_addr){ 0 };
    return ctx->slots[r].ip;
}

static int write_sysctl(const char *path, const char *value)
{
    return write_file_at(AT_FDCWD, path, value);
}

/* Per-interface sysctl; ENOENT (no IPv6 in this kernel) is not an error. */
static int iface_sysctl(const char *family, const char *ifname, const char *key, const char *value, struct kerr *err)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
    int r = write_sysctl(path, value);
    if (r < 0 && !(r == -ENOENT && strcmp(family, "ipv6") == 0))
        return kerr_set(err, -r, "cannot set %s", path);
    return 0;
}

/* Reply handlers ----------------------------------------------------------- */

static int ifindex_cb(size_t index, const struct nlmsghdr *h, void *ud)
{
    if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        ((int *)ud)[index] = ifi->ifi_index;
    }
    return 0;
}

struct stale_links {
    int idx[256];
    size_t n;
};

static int stale_cb(size_t index, const struct nlmsghdr *h, void *ud)
{
    struct stale_links *s = ud;
    if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
        return 0;
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    size_t off = NLMSG_LENGTH(sizeof *ifi);
    off = NLMSG_ALIGN(off);
    while (off + NLA_HDRLEN <= h->nlmsg_len) {
        const struct nlattr *a = (const struct nlattr *)((const uint8_t *)h + off);
        if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len)
            break;
        if ((a->nla_type & NLA_TYPE_MASK) == IFLA_IFALIAS) {
            const char *alias = (const char *)a + NLA_HDRLEN;
            size_t len = a->nla_len - NLA_HDRLEN;
            if (len >= strlen(NET_ALIAS_PREFIX) &&
                memcmp(alias, NET_ALIAS_PREFIX, strlen(NET_ALIAS_PREFIX)) == 0 &&
                s->n < ARRAY_SIZE(s->idx))
                s->idx[s->n++] = ifi->ifi_index;
        }
        off += NLA_ALIGN(a->nla_len);
    }
    return 0;
}

/* Removes what an earlier keel that crashed left behind: namespace pins,
 * links carrying keel's alias, and a table `keel` (an owned table vanishes
 * with its socket; one made without the owner flag would not). */
static int remove_stale(struct net_ctx *ctx, struct kerr *err)
{
    DIR *dir = opendir(ctx->netns_dir);
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir))) {
            if (de->d_name[0] == '.')
                continue;
            _cleanup_free_ char *p = xasprintf("%s/%s", ctx->netns_dir, de->d_name);
            if (!p)
                continue;
            if (umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                log_warn("cannot unmount stale network namespace pin %s: %s", p, strerror(errno));
            if (unlink(p) < 0 && errno != ENOENT)
                log_warn("cannot remove stale network namespace pin %s: %s", p, strerror(errno));
            else
                log_info("removed stale network namespace pin %s", p);
        }
        closedir(dir);
    }

    struct stale_links s = { .n = 0 };
    struct nlbuf *b = &ctx->buf;
    nlbuf_reset(b);
    net_msg_link_dump(b, "list links");
    int r = nlbuf_send(ctx->rt, b, stale_cb, &s, err);
    if (r < 0)
        return r;
    if (s.n) {
        nlbuf_reset(b);
        for (size_t i = 0; i < s.n; i++)
            net_msg_link_del(b, s.idx[i], NULL, "delete a stale keel link");
        struct kerr e;
        if (nlbuf_send(ctx->rt, b, NULL, NULL, &e) < 0)
            log_warn("%s", e.msg);   /* a veth may vanish with its namespace meanwhile */
        log_info("removed %zu stale link(s) of an earlier keel", s.n);
    }
    return 0;
}

static bool any_bridge(const struct manifest *m)
{
    for (size_t i = 0; i < m->n_containers; i++)
        if (m->containers[i].net == NET_BRIDGE)
            return true;
    return false;
}

static int bridge_index(const struct net_ctx *ctx, const struct network_spec *n)
{
    for (size_t i = 0; i < ctx->n_bridges; i++)
        if (ctx->bridges[i].spec == n)
            return (int)i;
    return -1;
}

static int create_bridges(struct net_ctx *ctx, struct kerr *err)
{
    struct nlbuf *b = &ctx->buf;
    char alias[64];
    int r;
    /* One batch per bridge (there are one or two): so that a link of the
     * same name that is not keel's is told apart and never deleted later. */
    for (size_t i = 0; i < ctx->n_bridges; i++) {
        struct net_bridge *br = &ctx->bridges[i];
        nlbuf_reset(b);
        net_msg_bridge_add(b, br->ifname, net_mtu(br->spec), "create bridge");
        snprintf(alias, sizeof alias, NET_ALIAS_PREFIX "bridge %s", br->spec->name);
        net_msg_link_set(b, br->ifname, 0, 0, 0, alias, false, 0, "set alias of bridge");
        net_msg_link_get(b, br->ifname, "look up bridge");
        int idx[3] = { 0 };
        r = nlbuf_send(ctx->rt, b, ifindex_cb, idx, err);
        if (r == -EEXIST)
            return kerr_msg(err, EEXIST, "cannot create bridge %s: a link of that name exists and is not keel's",
                            br->ifname);
        br->created = idx[2] > 0;
        br->ifindex = idx[2];
        if (r < 0)
            return kerr_prefix(err, "cannot create bridge %s", br->ifname);
    }
    nlbuf_reset(b);
    for (size_t i = 0; i < ctx->n_bridges; i++) {
        struct net_bridge *br = &ctx->bridges[i];
        net_msg_addr_add(b, br->ifindex, net_gateway(br->spec), br->spec->prefix, "add the gateway address to bridge");
    }
    r = nlbuf_send(ctx->rt, b, NULL, NULL, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ctx->n_bridges; i++) {
        const char *ifn = ctx->bridges[i].ifname;
        /* route_localnet lets the host's own 127.0.0.1 connections to a
         * published port leave through the bridge (then masqueraded); the
         * guard chain drops anything else addressed to or from 127/8 that
         * is not from lo.  It is never set on an outward interface.
         * IPv6 is off on the bridge: keel's table is `ip` only, so IPv6 from
         * containers would reach the machine unfiltered (and the container
         * namespaces have it off too, see new_netns). */
        if ((r = iface_sysctl("ipv4", ifn, "route_localnet", "1", err)) < 0 ||
            (r = iface_sysctl("ipv6", ifn, "disable_ipv6", "1", err)) < 0)
            return r;
    }
    return 0;
}

/* The nf_tables view of a network; `ports` has NET_HOST_PORTS_MAX entries
 * and must outlive *nb. */
static void nft_bridge_of(const struct network_spec *n, struct nft_bridge *nb, struct nft_port *ports)
{
    *nb = (struct nft_bridge){ .subnet = n->subnet, .prefix = n->prefix, .gateway = net_gateway(n),
                               .isolate = n->isolate, .no_lan = n->no_lan, .link_local = n->link_local,
                               .host_ports = ports, .n_host_ports = n->n_host_ports };
    snprintf(nb->ifname, IFNAMSIZ, "%s", n->name);
    for (size_t p = 0; p < n->n_host_ports && p < NET_HOST_PORTS_MAX; p++)
        ports[p] = (struct nft_port){ .port = n->host_ports[p].port, .proto = n->host_ports[p].proto };
}

static int collect_dnat(const struct net_ctx *ctx, struct nft_dnat **out, size_t *n)
{
    const struct manifest *m = ctx->m;
    size_t total = 0;
    for (size_t i = 0; i < m->n_containers; i++)
        if (ctx->slots[i].ns_fd >= 0 && m->containers[i].net == NET_BRIDGE)
            total += m->containers[i].n_ports;
    struct nft_dnat *d = calloc(total ? total : 1, sizeof *d);
    if (!d)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (ctx->slots[i].ns_fd < 0 || c->net != NET_BRIDGE)
            continue;
        for (size_t p = 0; p < c->n_ports; p++) {
            d[k].host_ip = c->ports[p].host_ip;
            d[k].host_port = c->ports[p].host_port;
            d[k].proto = (uint8_t)c->ports[p].proto;
            d[k].dest = ctx->slots[i].ip;
            d[k].dest_port = c->ports[p].container_port;
            k++;
        }
    }
    *out = d;
    *n = k;
    return 0;
}

static int update_ports(struct net_ctx *ctx, struct kerr *err)
{
    if (ctx->nft < 0)
        return 0;
    _cleanup_free_ struct nft_dnat *d = NULL;
    size_t n = 0;
    if (collect_dnat(ctx, &d, &n) < 0)
        return kerr_set(err, ENOMEM, "cannot update published ports");
    struct nlbuf *b = &ctx->buf;
    nlbuf_reset(b);
    nft_batch_begin(b);
    nft_build_ports(b, d, n);
    nft_batch_end(b);
    int r = nft_commit(ctx->nft, b, err);
    return r < 0 ? kerr_prefix(err, "cannot update published ports") : 0;
}

/* Deletes the conntrack entries naming an address of `nets`.  A failure is
 * logged, not returned: the caller (a release, a start) goes on. */
static void forget_flows(struct net_ctx *ctx, const struct nft_net *nets, size_t n, const char *whose)
{
    if (ctx->nft < 0)
        return;
    size_t deleted = 0;
    struct kerr e = { 0 };
    if (nft_ct_forget(ctx->nft, nets, n, &deleted, &e) < 0)
        log_error("cannot forget the connections of %s: %s (without module nf_conntrack_netlink, "
                  "a container given its address later may receive them)", whose, e.msg);
    else if (deleted)
        log_debug("forgot %zu connection(s) of %s", deleted, whose);
}

static int install_table(struct net_ctx *ctx, struct kerr *err)
{
    struct nft_bridge nb[ctx->n_bridges ? ctx->n_bridges : 1];
    struct nft_port ports[ctx->n_bridges ? ctx->n_bridges : 1][NET_HOST_PORTS_MAX];
    for (size_t i = 0; i < ctx->n_bridges; i++)
        nft_bridge_of(ctx->bridges[i].spec, &nb[i], ports[i]);
    struct nft_config cfg = { .bridges = nb, .n_bridges = ctx->n_bridges,
                              .forward_drop = ctx->old_forward == 0 };
    struct nlbuf *b = &ctx->buf;
    nlbuf_reset(b);
    nft_batch_begin(b);
    nft_build_delete(b);   /* a table left by an earlier keel, if any */
    nft_build_install(b, &cfg);
    nft_batch_end(b);
    int r = nft_commit(ctx->nft, b, err);
    if (r == -EPERM)
        return kerr_prefix(err, "cannot install nf_tables table ip keel (is another keel running?)");
    return r < 0 ? kerr_prefix(err, "cannot install nf_tables table ip keel") : 0;
}

/* Turns IPv4 forwarding on, remembering the value it had in RUN_DIR so that
 * a keel restarted after a crash (which finds it on) still restores it. */
static int enable_forwarding(struct net_ctx *ctx, struct kerr *err)
{
    _cleanup_free_ char *cur = NULL, *saved = NULL;
    int r = read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_forward", 64, &cur, NULL);
    if (r < 0)
        return kerr_set(err, -r, "cannot read /proc/sys/net/ipv4/ip_forward");
    if (read_file_at(AT_FDCWD, ctx->forward_file, 64, &saved, NULL) == 0 && saved[0] == '0') {
        ctx->old_forward = 0;   /* an earlier keel turned it on and crashed */
    } else if (cur[0] == '0') {
        int fd = open(ctx->forward_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || write_all(fd, "0\n", 2) < 0) {
            r = errno;
            close_safe(fd);
            return kerr_set(err, r, "cannot write %s", ctx->forward_file);
        }
        close(fd);
        ctx->old_forward = 0;
    }
    if (cur[0] == '1')
        return 0;
    r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
    if (r < 0)
        return kerr_set(err, -r, "cannot enable IPv4 forwarding");
    return 0;
}

static void restore_forwarding(struct net_ctx *ctx)
{
    if (ctx->old_forward != 0)
        return;
    int r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "0");
    if (r < 0)
        log_warn("cannot restore /proc/sys/net/ipv4/ip_forward: %s", strerror(-r));
    else if (unlink(ctx->forward_file) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", ctx->forward_file, strerror(errno));
}

/* Every bridge container's network is in the manifest (net_validate says so
 * too, but net_init must not trust its caller to have run it). */
static int check_networks(const struct manifest *m, struct kerr *err)
{
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (c->net == NET_BRIDGE && !network_of(m, c))
            return kerr_msg(err, EINVAL, "cannot set up network of container %s: the manifest has no network %s",
                            c->name, bridge_name(c));
    }
    return 0;
}

int net_init(struct net_ctx **out, const struct manifest *m, const char *run_dir, struct kerr *err)
{
    struct in_addr *ips = NULL;
    *out = NULL;
    int r = check_networks(m, err);   /* before anything is touched */
    if (r < 0)
        return r;
    struct net_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return kerr_set(err, ENOMEM, "cannot set up networking");
    ctx->m = m;
    ctx->host_ns = ctx->rt = ctx->nft = -1;
    ctx->old_forward = -1;
    nlbuf_init(&ctx->buf);
    ctx->slots = calloc(m->n_containers ? m->n_containers : 1, sizeof *ctx->slots);
    ctx->netns_dir = xasprintf("%s/netns", run_dir);
    ctx->forward_file = xasprintf("%s/ip_forward.orig", run_dir);
    if (!ctx->slots || !ctx->netns_dir || !ctx->forward_file) {
        r = kerr_set(err, ENOMEM, "cannot set up networking");
        goto fail;
    }
    for (size_t i = 0; i < m->n_containers; i++) {
        ctx->slots[i].ns_fd = -1;
        ctx->slots[i].bridge = -1;
    }

    ctx->host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ctx->host_ns < 0) {
        r = kerr_set(err, errno, "cannot open keel's network namespace");
        goto fail;
    }
    if ((r = mkdir_p(ctx->netns_dir, 0700)) < 0) {
        r = kerr_set(err, -r, "cannot create %s", ctx->netns_dir);
        goto fail;
    }
    if ((r = nlbuf_socket(NETLINK_ROUTE, err)) < 0)
        goto fail;
    ctx->rt = r;
    /* keel's table first: a live keel owns it (EPERM for anyone else), and
     * then nothing here may be touched; one left by a crashed keel goes. */
    /* Without a bridge network keel needs no table, and none of a dead keel
     * can be left: the table is made with the owner flag, so the kernel
     * removes it with its keel's socket.  (Saves a nf_tables transaction.) */
    r = any_bridge(m) ? nft_open(err) : 0;
    if (r == 0) {
        kerr_clear(err);
    } else if (r < 0) {
        if (r == -EPROTONOSUPPORT)
            kerr_prefix(err, "bridge networking needs nf_tables (modules nf_tables nft_chain_nat nft_nat ...)");
        goto fail;
    } else {
        ctx->nft = r;
        nlbuf_reset(&ctx->buf);
        nft_batch_begin(&ctx->buf);
        nft_build_delete(&ctx->buf);
        nft_batch_end(&ctx->buf);
        r = nft_commit(ctx->nft, &ctx->buf, err);
    }
    if (r == -EPERM) {
        r = kerr_msg(err, EBUSY, "cannot set up networking: another keel owns nf_tables table ip keel");
        close(TAKE_FD(ctx->nft));
        goto fail;
    }
    if (r < 0)
        goto fail;
    if ((r = remove_stale(ctx, err)) < 0)
        goto fail;

    /* Addresses for every bridge container, decided now so that /etc/hosts
     * can name containers that are not started yet. */
    /* Not a cleanup variable: the gotos above jump past this point. */
    ips = calloc(m->n_containers ? m->n_containers : 1, sizeof *ips);
    int failed = -1;
    if (!ips) {
        r = kerr_set(err, ENOMEM, "cannot set up networking");
        goto fail;
    }
    if (assign_ips(m, ips, &failed) < 0) {
        r = kerr_msg(err, ENOSPC, "cannot allocate an address for container %s: network full",
                     m->containers[failed].name);
        goto fail;
    }

    if (!any_bridge(m)) {
        /* No table of ours is needed; still undo what a crashed keel left. */
        _cleanup_free_ char *saved = NULL;
        if (read_file_at(AT_FDCWD, ctx->forward_file, 64, &saved, NULL) == 0 && saved[0] == '0') {
            ctx->old_forward = 0;
            restore_forwarding(ctx);
            ctx->old_forward = -1;
        }
        if (ctx->nft >= 0)
            close(TAKE_FD(ctx->nft));
        free(ips);
        *out = ctx;
        return 0;
    }

    ctx->bridges = calloc(m->n_networks + 1, sizeof *ctx->bridges);
    if (!ctx->bridges) {
        r = kerr_set(err, ENOMEM, "cannot set up networking");
        goto fail;
    }
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (c->net != NET_BRIDGE)
            continue;
        const struct network_spec *n = network_of(m, c);   /* not NULL: checked on entry */
        int bi = bridge_index(ctx, n);
        if (bi < 0) {
            if (!ifname_ok(n->name)) {
                r = kerr_msg(err, EINVAL, "cannot create bridge %s: not a valid interface name", n->name);
                goto fail;
            }
            bi = (int)ctx->n_bridges++;
            ctx->bridges[bi].spec = n;
            snprintf(ctx->bridges[bi].ifname, IFNAMSIZ, "%s", n->name);
        }
        ctx->slots[i].bridge = bi;
        ctx->slots[i].ip = ips[i];
        veth_name(c->name, ctx->slots[i].veth);
    }

    if ((r = create_bridges(ctx, err)) < 0)
        goto fail;
    if ((r = enable_forwarding(ctx, err)) < 0)
        goto fail;
    if ((r = install_table(ctx, err)) < 0)
        goto fail;
    /* Flows of keel's subnets that an earlier keel (crashed, killed) left in
     * conntrack would reach whichever container now gets their address. */
    {
        struct nft_net nets[ctx->n_bridges];
        for (size_t i = 0; i < ctx->n_bridges; i++)
            nets[i] = (struct nft_net){ .addr = ctx->bridges[i].spec->subnet, .prefix = ctx->bridges[i].spec->prefix };
        forget_flows(ctx, nets, ctx->n_bridges, "keel's networks");
    }
    free(ips);
    *out = ctx;
    return 0;

fail:
    free(ips);
    net_shutdown(ctx);
    return r;
}

/* Creating a namespace ------------------------------------------------------ */

static void unpin(struct net_slot *s)
{
    if (s->pin) {
        if (umount2(s->pin, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
            log_warn("cannot unmount %s: %s", s->pin, strerror(errno));
        if (unlink(s->pin) < 0 && errno != ENOENT)
            log_warn("cannot remove %s: %s", s->pin, strerror(errno));
        free(s->pin);
        s->pin = NULL;
    }
    close_safe(s->ns_fd);
    s->ns_fd = -1;
}

/* Makes a new network namespace, pinned at `pin`, with keel's sysctls, and a
 * NETLINK_ROUTE socket bound inside it — without keel leaving its own
 * namespace for more than these few steps. */
static int new_netns(struct net_ctx *ctx, const char *pin, int *ns_fd, int *sock, struct kerr *err)
{
    int fd = open(pin, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create %s", pin);
    close(fd);

    if (unshare(CLONE_NEWNET) < 0) {
        int e = errno;
        unlink(pin);
        return kerr_set(err, e, "cannot create a network namespace");
    }
    int r = 0;
    *ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*ns_fd < 0)
        r = kerr_set(err, errno, "cannot open the new network namespace");
    if (r == 0 && (r = nlbuf_socket(NETLINK_ROUTE, err)) >= 0) {
        *sock = r;
        r = 0;
    }
    if (r == 0 && mount("/proc/thread-self/ns/net", pin, NULL, MS_BIND, NULL) < 0)
        r = kerr_set(err, errno, "cannot pin the network namespace at %s", pin);
    if (r == 0) {
        /* IPv6 off before eth0 exists (interfaces made later inherit
         * "default"; "all" covers lo): keel's filter is IPv4 only, and a
         * container could otherwise reach the machine over the bridge's
         * link-local address and send with any IPv6 source (IPV6_FREEBIND +
         * IPV6_PKTINFO need no capability).  ENOENT: a kernel without IPv6. */
        static const char *const v6[] = { "/proc/sys/net/ipv6/conf/all/disable_ipv6",
                                          "/proc/sys/net/ipv6/conf/default/disable_ipv6" };
        for (size_t i = 0; i < ARRAY_SIZE(v6) && r == 0; i++) {
            int w = write_sysctl(v6[i], "1");
            if (w < 0 && w != -ENOENT)
                r = kerr_set(err, -w, "cannot set %s", v6[i]);
        }
    }
    if (r == 0) {
        /* ping works without CAP_NET_RAW through ICMP sockets (Docker does
         * the same). */
        (void)write_sysctl("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
        /* Any port may be bound, as in Docker: a container's root in a user
         * namespace has no CAP_NET_BIND_SERVICE over this namespace, which
         * keel's user namespace owns. */
        (void)write_sysctl("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0");
    }
    /* Back home before anything else: every later step runs in keel's namespace. */
    if (setns(ctx->host_ns, CLONE_NEWNET) < 0) {
        int e = errno;
        log_error("cannot return to keel's network namespace: %s", strerror(e));
        if (r == 0)
            r = kerr_set(err, e, "cannot return to keel's network namespace");
    }
    if (r < 0) {
        umount2(pin, MNT_DETACH | UMOUNT_NOFOLLOW);
        unlink(pin);
        close_safe(*ns_fd);
        close_safe(*sock);
        *ns_fd = *sock = -1;
    }
    return r;
}

static int configure_bridge_netns(struct net_ctx *ctx, int i, int ns_fd, int sock, struct kerr *err)
{
    const struct container_spec *c = &ctx->m->containers[i];
    struct net_slot *s = &ctx->slots[i];
    struct net_bridge *br = &ctx->bridges[s->bridge];
    unsigned mtu = net_mtu(br->spec);
    char label[96], alias[96];
    struct nlbuf *b = &ctx->buf;

    if (!s->ip.s_addr) {
        /* Released earlier and now started again: take the lowest free one. */
        struct in_addr used[ctx->m->n_containers + 1];
        size_t nu = 0;
        for (size_t j = 0; j < ctx->m->n_containers; j++)
            if (ctx->slots[j].ip.s_addr && ctx->slots[j].bridge == s->bridge)
                used[nu++] = ctx->slots[j].ip;
        if (c->ip.s_addr)
            s->ip = c->ip;
        else if (net_alloc_ip(br->spec, used, nu, &s->ip) < 0)
            return kerr_msg(err, ENOSPC, "cannot allocate an address for container %s: network %s full",
                            c->name, br->spec->name);
    }

    /* 1. In keel's namespace: the pair, its host end on the bridge, the peer
     *    created directly inside the container's namespace as eth0. */
    for (int attempt = 0; attempt < 2; attempt++) {
        nlbuf_reset(b);
        /* No IFF_UP on the peer here: veth_open() refuses (ENOTCONN) until
         * the pair is linked, which happens after the peer is configured.
         * eth0 goes up inside the namespace below. */
        snprintf(label, sizeof label, "create veth %s for container %s", s->veth, c->name);
        net_msg_veth_add(b, s->veth, br->ifindex, mtu, "eth0", ns_fd, label);
        snprintf(alias, sizeof alias, NET_ALIAS_PREFIX "container %s", c->name);
        net_msg_link_set(b, s->veth, 0, 0, 0, alias, br->spec->isolate, 0, "set alias and port flags of veth");
        int r = nlbuf_send(ctx->rt, b, NULL, NULL, err);
        if (r == -EEXIST && attempt == 0) {
            /* The pair of an earlier run of this container, whose namespace
             * the kernel is still tearing down: remove it now. */
            nlbuf_reset(b);
            net_msg_link_del(b, 0, s->veth, "delete an old veth");
            struct kerr e;
            (void)nlbuf_send(ctx->rt, b, NULL, NULL, &e);
            continue;
        }
        if (r < 0)
            return r;
        break;
    }
    /* The host end is a bridge port: no address of its own, and no IPv6. */
    int r = iface_sysctl("ipv6", s->veth, "disable_ipv6", "1", err);
    if (r < 0)
        return r;

    /* 2. Inside the container's namespace, through the socket opened there:
     *    lo up and eth0's index, then address, route and rate limit. */
    nlbuf_reset(b);
    net_msg_link_set(b, NULL, 1 /* lo is always ifindex 1 */, IFF_UP, IFF_UP, NULL, false, 0, "bring lo up");
    net_msg_link_get(b, "eth0", "look up eth0");
    int idx[4] = { 0 };
    if ((r = nlbuf_send(sock, b, ifindex_cb, idx, err)) < 0)
        return r;
    int eth0 = idx[1];
    if (eth0 <= 0)
        return kerr_msg(err, ENODEV, "cannot find eth0 in the namespace of container %s", c->name);
    nlbuf_reset(b);
    char a[INET_ADDRSTRLEN];
    snprintf(label, sizeof label, "add address %s/%u to eth0 of container %s", ip_str(s->ip, a),
             br->spec->prefix, c->name);
    net_msg_addr_add(b, eth0, s->ip, br->spec->prefix, label);
    net_msg_link_set(b, NULL, eth0, IFF_UP, IFF_UP, NULL, false, 0, "bring eth0 up");
    net_msg_route_default(b, eth0, net_gateway(br->spec), "add the default route of eth0");
    if (c->net_rate)
        net_msg_tbf_add(b, eth0, c->net_rate, mtu, "add the tbf rate limit to eth0");
    return nlbuf_send(sock, b, NULL, NULL, err);
}

static int lo_up_with(int sock, struct nlbuf *b, struct kerr *err)
{
    nlbuf_reset(b);
    net_msg_link_set(b, NULL, 1, IFF_UP, IFF_UP, NULL, false, 0, "bring lo up");
    return nlbuf_send(sock, b, NULL, NULL, err);
}

static int ensure_netns(struct net_ctx *ctx, int i, struct kerr *err)
{
    struct net_slot *s = &ctx->slots[i];
    const struct container_spec *c = &ctx->m->containers[i];
    if (s->ns_fd >= 0)
        return 0;   /* a restart: the pinned namespace is still configured */
    uint64_t t0 = now_ns();
    s->pin = xasprintf("%s/%s", ctx->netns_dir, c->name);
    if (!s->pin)
        return kerr_set(err, ENOMEM, "cannot set up network of container %s", c->name);
    int ns_fd = -1, sock = -1;
    int r = new_netns(ctx, s->pin, &ns_fd, &sock, err);
    if (r < 0) {
        free(s->pin);
        s->pin = NULL;
        return kerr_prefix(err, "cannot set up network of container %s", c->name);
    }
    s->ns_fd = ns_fd;
    if (c->net == NET_BRIDGE)
        r = configure_bridge_netns(ctx, i, ns_fd, sock, err);
    else
        r = lo_up_with(sock, &ctx->buf, err);
    close(sock);
    if (r == 0 && c->net == NET_BRIDGE && c->n_ports)
        r = update_ports(ctx, err);
    if (r < 0) {
        unpin(s);
        if (c->n_ports) {
            struct kerr e;
            (void)update_ports(ctx, &e);
        }
        return kerr_prefix(err, "cannot set up network of container %s", c->name);
    }
    log_debug("network of %s ready in %.3f ms", c->name, (double)(now_ns() - t0) / 1e6);
    return 0;
}

int net_container_netns(struct net_ctx *ctx, const struct container_spec *c, int *fd, struct kerr *err)
{
    *fd = -1;
    int i = index_of(ctx->m, c);
    if (i < 0)
        return kerr_msg(err, ENOENT, "cannot set up network of container %s: not in the manifest", c->name);
    if (c->net == NET_HOST)
        return 0;
    int root = root_of(ctx->m, i);
    if (root < 0)
        return kerr_msg(err, EINVAL, "cannot set up network of container %s: network = container:%s "
                        "does not lead to a container namespace", c->name, c->net_peer ? c->net_peer : "");
    int r = ensure_netns(ctx, root, err);
    if (r < 0)
        return r;
    int d = fcntl(ctx->slots[root].ns_fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0)
        return kerr_set(err, errno, "cannot set up network of container %s", c->name);
    *fd = d;
    return 0;
}

void net_container_release(struct net_ctx *ctx, const struct container_spec *c)
{
    if (!ctx)
        return;
    int i = index_of(ctx->m, c);
    if (i < 0 || c->net == NET_HOST || c->net == NET_CONTAINER)
        return;   /* a container: joiner owns nothing of the namespace it joined */
    struct net_slot *s = &ctx->slots[i];
    if (s->ns_fd < 0)
        return;
    unpin(s);   /* ns_fd < 0 from here: its ports leave the next ruleset */
    if (c->net == NET_BRIDGE && c->n_ports) {
        struct kerr e;
        if (update_ports(ctx, &e) < 0)
            log_error("%s", e.msg);
    }
    /* After its DNAT rules are gone (so no new flow is made for it): the
     * flows of the address go too, or the next container given it would
     * receive them (a client's UDP stream to a published port lives on in
     * conntrack as long as the client keeps sending). */
    if (c->net == NET_BRIDGE && s->ip.s_addr) {
        struct nft_net freed = { .addr = s->ip, .prefix = 32 };
        forget_flows(ctx, &freed, 1, c->name);
    }
    s->ip.s_addr = 0;   /* freed: a later start takes the lowest free address */
}

void net_shutdown(struct net_ctx *ctx)
{
    if (!ctx)
        return;
    /* The table first (one transaction), then the namespaces (the kernel
     * destroys them and their veth pairs in the background), then bridges. */
    if (ctx->nft >= 0) {
        nlbuf_reset(&ctx->buf);
        nft_batch_begin(&ctx->buf);
        nft_build_delete(&ctx->buf);
        nft_batch_end(&ctx->buf);
        struct kerr e;
        if (nft_commit(ctx->nft, &ctx->buf, &e) < 0)
            log_warn("%s (it goes away with keel's socket)", e.msg);
        close(ctx->nft);
        ctx->nft = -1;
    }
    if (ctx->slots)
        for (size_t i = 0; i < ctx->m->n_containers; i++)
            unpin(&ctx->slots[i]);
    if (ctx->rt >= 0 && ctx->n_bridges) {
        nlbuf_reset(&ctx->buf);
        for (size_t i = 0; i < ctx->n_bridges; i++)
            if (ctx->bridges[i].created)
                net_msg_link_del(&ctx->buf, 0, ctx->bridges[i].ifname, "delete bridge");
        struct kerr e;
        if (nlbuf_send(ctx->rt, &ctx->buf, NULL, NULL, &e) < 0)
            log_warn("%s", e.msg);
    }
    restore_forwarding(ctx);
    close_safe(ctx->rt);
    close_safe(ctx->host_ns);
    nlbuf_free(&ctx->buf);
    free(ctx->bridges);
    if (ctx->slots)
        for (size_t i = 0; i < ctx->m->n_containers; i++)
            free(ctx->slots[i].pin);
    free(ctx->slots);
    free(ctx->netns_dir);
    free(ctx->forward_file);
    free(ctx);
}

/* Boot mode ------------------------------------------------------------------ */

int net_loopback_up(struct kerr *err)
{
    int sock = nlbuf_socket(NETLINK_ROUTE, err);
    if (sock < 0)
        return sock;
    struct nlbuf b;
    nlbuf_init(&b);
    int r = lo_up_with(sock, &b, err);
    nlbuf_free(&b);
    close(sock);
    return r;
}

int net_interface_configure(const struct interface_spec *ifs, struct kerr *err)
{
    int sock = nlbuf_socket(NETLINK_ROUTE, err);
    if (sock < 0)
        return sock;
    struct nlbuf b;
    nlbuf_init(&b);
    char label[96];
    int idx[2] = { 0 };
    snprintf(label, sizeof label, "find interface %s", ifs->name);
    net_msg_link_get(&b, ifs->name, label);
    int r = nlbuf_send(sock, &b, ifindex_cb, idx, err);
    if (r == 0 && idx[0] <= 0)
        r = kerr_msg(err, ENODEV, "cannot find interface %s", ifs->name);
    if (r == 0) {
        char a[INET_ADDRSTRLEN];
        nlbuf_reset(&b);
        snprintf(label, sizeof label, "bring interface %s up", ifs->name);
        net_msg_link_set(&b, NULL, idx[0], IFF_UP, IFF_UP, NULL, false, ifs->mtu, label);
        if (ifs->has_address) {
            snprintf(label, sizeof label, "add address %s/%u to %s", ip_str(ifs->address, a), ifs->prefix,
                     ifs->name);
            net_msg_addr_add(&b, idx[0], ifs->address, ifs->prefix, label);
        }
        if (ifs->gateway.s_addr) {
            snprintf(label, sizeof label, "add the default route via %s on %s", ip_str(ifs->gateway, a),
                     ifs->name);
            net_msg_route_default(&b, idx[0], ifs->gateway, label);
        }
        r = nlbuf_send(sock, &b, NULL, NULL, err);
    }
    nlbuf_free(&b);
    close(sock);
    return r;
}

/* keel check --plan ------------------------------------------------------------ */

void net_plan(const struct manifest *m, const struct container_spec *c, FILE *out)
{
    int i = index_of(m, c);
    if (i < 0)
        return;
    char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN], v[IFNAMSIZ];
    switch (c->net) {
    case NET_HOST:
        fprintf(out, "  network: host (keel's network namespace; nothing created)\n");
        return;
    case NET_NONE:
        fprintf(out, "  network: none\n");
        fprintf(out, "    netns: new, pinned at /run/keel/netns/%s; lo up; IPv6 off\n", c->name);
        return;
    case NET_CONTAINER: {
        int r = root_of(m, i);
        fprintf(out, "  network: container:%s\n", c->net_peer ? c->net_peer : "?");
        if (r >= 0)
            fprintf(out, "    netns: joins /run/keel/netns/%s (same addresses and ports)\n", m->containers[r].name);
        return;
    }
    case NET_BRIDGE:
        break;
    }
    const struct network_spec *n = network_of(m, c);
    if (!n) {
        fprintf(out, "  network: bridge %s (unknown network)\n", bridge_name(c));
        return;
    }
    struct in_addr ip = ctx_ip(NULL, m, i);
    veth_name(c->name, v);
    fprintf(out, "  network: bridge %s\n", n->name);
    fprintf(out, "    netns: new, pinned at /run/keel/netns/%s; lo up; IPv6 off\n", c->name);
    fprintf(out, "    link: veth %s (keel's namespace, port of bridge %s%s) <-> eth0 (created in the netns), mtu %u\n",
            v, n->name, n->isolate ? ", isolated" : "", net_mtu(n));
    fprintf(out, "    address: %s/%u on eth0; default route via %s\n", ip.s_addr ? ip_str(ip, a) : "(none free)",
            n->prefix, ip_str(net_gateway(n), g));
    if (c->net_rate)
        fprintf(out, "    qdisc: tbf rate %llu bit/s on eth0 (egress)\n", (unsigned long long)c->net_rate);
    for (size_t p = 0; p < c->n_ports; p++) {
        struct nft_dnat d = { .host_ip = c->ports[p].host_ip, .host_port = c->ports[p].host_port,
                              .proto = (uint8_t)c->ports[p].proto, .dest = ip,
                              .dest_port = c->ports[p].container_port };
        fprintf(out, "    nat: ");
        nft_describe_dnat(&d, out);
        fprintf(out, " (table ip keel, chain ports, from prerouting and output)\n");
    }
}

void net_plan_machine(const struct manifest *m, FILE *out)
{
    if (!any_bridge(m)) {
        fprintf(out, "network: no bridge containers: no bridge, no nf_tables table, forwarding untouched\n");
        return;
    }
    const struct network_spec *seen[m->n_networks + 1];
    struct nft_bridge nb[m->n_networks + 1];
    struct nft_port ports[m->n_networks + 1][NET_HOST_PORTS_MAX];
    size_t ns = 0;
    char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        const struct network_spec *n = c->net == NET_BRIDGE ? network_of(m, c) : NULL;
        bool dup = false;
        for (size_t j = 0; j < ns && !dup; j++)
            dup = seen[j] == n;
        if (!n || dup)
            continue;
        seen[ns] = n;
        nft_bridge_of(n, &nb[ns], ports[ns]);
        ns++;
        fprintf(out, "network: bridge %s, %s/%u gateway %s, mtu %u, isolate %s, lan %s, link_local %s, "
                "route_localnet 1, IPv6 off\n",
                n->name, ip_str(n->subnet, a), n->prefix, ip_str(net_gateway(n), g), net_mtu(n),
                n->isolate ? "yes" : "no", n->no_lan ? "no" : "yes", n->link_local ? "yes" : "no");
    }
    fprintf(out, "network: net.ipv4.ip_forward = 1 (restored at exit; forward policy drop if it was 0)\n");
    struct in_addr ips[m->n_containers ? m->n_containers : 1];
    if (assign_ips(m, ips, NULL) < 0)
        memset(ips, 0, sizeof ips);
    size_t total = 0;
    for (size_t i = 0; i < m->n_containers; i++)
        if (m->containers[i].net == NET_BRIDGE)
            total += m->containers[i].n_ports;
    struct nft_dnat d[total ? total : 1];
    size_t k = 0;
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (c->net != NET_BRIDGE)
            continue;
        for (size_t p = 0; p < c->n_ports; p++)
            d[k++] = (struct nft_dnat){ .host_ip = c->ports[p].host_ip, .host_port = c->ports[p].host_port,
                                        .proto = (uint8_t)c->ports[p].proto, .dest = ips[i],
                                        .dest_port = c->ports[p].container_port };
    }
    struct nft_config cfg = { .bridges = nb, .n_bridges = ns, .forward_drop = true };
    nft_describe(&cfg, d, k, out);
}
