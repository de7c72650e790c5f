/* test_net.c — the pure parts of networking: address allocation, manifest
 * rules, /etc/hosts, the plan text, and the netlink / nf_tables builders. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>

#include "keel/manifest.h"
#include "keel/net.h"
#include "keel/manifest_net.h"
#include "keel/net_msg.h"
#include "keel/nft.h"
#include "keel/nlbuf.h"
#include "keel/util.h"
#include "unit.h"

static struct in_addr A(const char *s)
{
    struct in_addr a = { 0 };
    inet_pton(AF_INET, s, &a);
    return a;
}

static const char *S(struct in_addr a)
{
    static char buf[4][INET_ADDRSTRLEN];
    static int k;
    k = (k + 1) % 4;
    inet_ntop(AF_INET, &a, buf[k], sizeof buf[k]);
    return buf[k];
}

/* --- a manifest built by hand ---------------------------------------------------- */

#define MAXC 8
static struct container_spec cs[MAXC];
static struct network_spec ns[4];
static struct port_map ps[MAXC][4];
static struct manifest man;

static void reset(void)
{
    memset(cs, 0, sizeof cs);
    memset(ns, 0, sizeof ns);
    memset(ps, 0, sizeof ps);
    memset(&man, 0, sizeof man);
    man.path = "test.ini";
    man.containers = cs;
    man.networks = ns;
}

static struct network_spec *net(const char *name, const char *subnet, unsigned prefix);

static struct network_spec *find_net(const char *name)
{
    for (size_t i = 0; i < man.n_networks; i++)
        if (strcmp(ns[i].name, name) == 0)
            return &ns[i];
    return NULL;
}

/* A bridge container is put on keel0, and keel0 is added to the manifest, as
 * manifest_load does: net.c has no default network of its own (a test may
 * then point c->bridge elsewhere). */
static struct container_spec *add(const char *name, enum net_mode mode)
{
    struct container_spec *c = &cs[man.n_containers];
    c->name = (char *)name;
    c->net = mode;
    c->line = 10 * (int)(++man.n_containers);
    c->ports = ps[man.n_containers - 1];
    if (mode == NET_BRIDGE) {
        c->bridge = "keel0";
        if (!find_net("keel0"))
            net("keel0", "172.30.0.0", 24);
    }
    return c;
}

static void port(struct container_spec *c, const char *hip, uint16_t hp, uint16_t cp, int proto)
{
    struct port_map *p = &c->ports[c->n_ports++];
    p->host_ip = A(hip ? hip : "0.0.0.0");
    p->host_port = hp;
    p->container_port = cp;
    p->proto = proto;
    p->line = c->line + (int)c->n_ports;
}

static struct network_spec *net(const char *name, const char *subnet, unsigned prefix)
{
    struct network_spec *n = &ns[man.n_networks++];
    n->name = (char *)name;
    n->subnet = A(subnet);
    n->prefix = prefix;
    n->line = 100 * (int)man.n_networks;
    return n;
}

/* Runs manifest_validate_networks and checks that `want` (NULL: no error) is one of the messages. */
static int validate_has(const char *want)
{
    struct diag d = { 0 };
    int r = manifest_validate_networks(&man, &d);
    int found = 0;
    for (size_t i = 0; i < d.count; i++) {
        if (want && strstr(d.msgs[i], want))
            found = 1;
    }
    if (want && !found)
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "    got: %s\n", d.msgs[i]);
    if (!want && d.count)
        fprintf(stderr, "    unexpected: %s\n", d.msgs[0]);
    int ok = want ? (r == -EINVAL && found) : (r == 0 && d.count == 0);
    diag_free(&d);
    return ok;
}

/* --- allocation ------------------------------------------------------------------ */

TEST(alloc_lowest_free)
{
    struct network_spec n = { .name = "n", .subnet = A("172.30.0.0"), .prefix = 24 };
    struct in_addr out;
    CHECK_INT(manifest_alloc_ip(&n, NULL, 0, &out), 0);
    CHECK_STR(S(out), "172.30.0.2");   /* .0 network, .1 default gateway */
    struct in_addr used[] = { A("172.30.0.2"), A("172.30.0.4") };
    CHECK_INT(manifest_alloc_ip(&n, used, 2, &out), 0);
    CHECK_STR(S(out), "172.30.0.3");
    n.gateway = A("172.30.0.254");
    CHECK_INT(manifest_alloc_ip(&n, NULL, 0, &out), 0);
    CHECK_STR(S(out), "172.30.0.1");   /* the gateway moved: .1 is free */
}

TEST(alloc_exhaustion_and_edges)
{
    struct network_spec n = { .name = "n", .subnet = A("10.0.0.0"), .prefix = 30 };
    struct in_addr out;
    /* /30: .1 gateway, .2 the only host, .3 broadcast. */
    CHECK_INT(manifest_alloc_ip(&n, NULL, 0, &out), 0);
    CHECK_STR(S(out), "10.0.0.2");
    struct in_addr used[] = { A("10.0.0.2") };
    CHECK_INT(manifest_alloc_ip(&n, used, 1, &out), -ENOSPC);
    n.prefix = 31;
    CHECK_INT(manifest_alloc_ip(&n, NULL, 0, &out), -ENOSPC);
    n.prefix = 32;
    CHECK_INT(manifest_alloc_ip(&n, NULL, 0, &out), -ENOSPC);
    /* Never the broadcast address. */
    struct network_spec m = { .name = "m", .subnet = A("10.1.0.0"), .prefix = 29 };
    struct in_addr u6[] = { A("10.1.0.2"), A("10.1.0.3"), A("10.1.0.4"), A("10.1.0.5"), A("10.1.0.6") };
    CHECK_INT(manifest_alloc_ip(&m, u6, 5, &out), -ENOSPC);
}

/* --- manifest_validate_networks ------------------------------------------------------------------- */

TEST(validate_good)
{
    reset();
    struct container_spec *web = add("web", NET_BRIDGE);
    web->ip = A("172.30.0.10");
    port(web, NULL, 8080, 80, IPPROTO_TCP);
    port(web, NULL, 8080, 80, IPPROTO_UDP);          /* same port, other protocol */
    port(web, "127.0.0.1", 8081, 81, IPPROTO_TCP);
    struct container_spec *db = add("db", NET_BRIDGE);
    port(db, "10.0.0.1", 8081, 81, IPPROTO_TCP);     /* other host address */
    add("side", NET_CONTAINER)->net_peer = "web";
    add("chain", NET_CONTAINER)->net_peer = "side";   /* resolves to web */
    add("h", NET_HOST);
    add("n", NET_NONE);
    CHECK(validate_has(NULL));
}

TEST(validate_ports)
{
    reset();
    struct container_spec *a = add("a", NET_BRIDGE), *b = add("b", NET_BRIDGE);
    port(a, NULL, 8080, 80, IPPROTO_TCP);
    port(b, "127.0.0.1", 8080, 81, IPPROTO_TCP);
    CHECK(validate_has("test.ini:21: container b: host port 8080/tcp is already published by container a (line 11)"));

    reset();
    a = add("a", NET_BRIDGE);
    port(a, "10.0.0.1", 53, 53, IPPROTO_UDP);
    port(a, "10.0.0.1", 53, 5353, IPPROTO_UDP);
    CHECK(validate_has("host port 53/udp is already published by container a"));

    reset();
    a = add("a", NET_HOST);
    port(a, NULL, 80, 80, IPPROTO_TCP);
    CHECK(validate_has("test.ini:11: container a: ports require network = bridge"));

    reset();
    a = add("a", NET_BRIDGE);
    port(a, NULL, 0, 80, IPPROTO_TCP);
    CHECK(validate_has("port 0 cannot be published"));
}

TEST(validate_addresses)
{
    reset();
    add("a", NET_BRIDGE)->ip = A("172.31.0.5");
    CHECK(validate_has("test.ini:10: container a: ip 172.31.0.5 is outside network keel0 (172.30.0.0/24)"));

    reset();
    add("a", NET_BRIDGE)->ip = A("172.30.0.255");
    CHECK(validate_has("ip 172.30.0.255 is outside network keel0"));

    reset();
    add("a", NET_BRIDGE)->ip = A("172.30.0.1");
    CHECK(validate_has("ip 172.30.0.1 is the gateway of network keel0"));

    reset();
    add("a", NET_BRIDGE)->ip = A("172.30.0.9");
    add("b", NET_BRIDGE)->ip = A("172.30.0.9");
    CHECK(validate_has("test.ini:20: container b: ip 172.30.0.9 is already used by container a (line 10)"));

    reset();
    add("a", NET_NONE)->ip = A("172.30.0.9");
    CHECK(validate_has("ip requires network = bridge"));

    reset();
    add("a", NET_NONE)->net_rate = 1000;
    CHECK(validate_has("net_rate requires network = bridge"));

    reset();
    net("tiny", "10.9.0.0", 30);
    struct container_spec *a = add("a", NET_BRIDGE), *b = add("b", NET_BRIDGE);
    a->bridge = b->bridge = "tiny";
    CHECK(validate_has("test.ini:20: container b: no free address left in network tiny"));

    reset();
    add("a", NET_BRIDGE)->bridge = "nosuch";
    CHECK(validate_has("bridge 'nosuch' names no [network] section"));

    /* No fallback network in net.c: a manifest without keel0 has no keel0. */
    reset();
    add("a", NET_BRIDGE);
    man.n_networks = 0;
    CHECK(validate_has("test.ini:10: container a: bridge 'keel0' names no [network] section"));

    reset();
    add("a", NET_BRIDGE)->bridge = NULL;   /* only a hand-built manifest has this */
    CHECK(validate_has("container a: bridge '(unset)' names no [network] section"));
}

static void plan_first(FILE *f) { net_plan(&man, &cs[0], f); }
static void plan_machine(FILE *f) { net_plan_machine(&man, f); }
static char *capture(void (*fn)(FILE *));

/* A bridge container on a network the manifest lacks: errors and plain text
 * from every entry point, never a crash, and net_init touches nothing. */
TEST(unknown_network)
{
    reset();
    add("a", NET_BRIDGE)->bridge = "nosuch";
    add("b", NET_BRIDGE);
    add("side", NET_CONTAINER)->net_peer = "a";

    struct net_ctx *ctx = (struct net_ctx *)&man;   /* must be reset to NULL */
    struct kerr err = { 0 };
    CHECK_INT(net_init(&ctx, &man, "/nonexistent/keel-unit", &err), -EINVAL);
    CHECK(ctx == NULL);
    CHECK_STR(err.msg, "cannot set up network of container a: the manifest has no network nosuch");

    cs[0].bridge = NULL;
    CHECK_INT(net_init(&ctx, &man, "/nonexistent/keel-unit", &err), -EINVAL);
    CHECK_STR(err.msg, "cannot set up network of container a: the manifest has no network (unset)");
    cs[0].bridge = "nosuch";

    char *p = capture(plan_first);
    CHECK(p && strstr(p, "network: bridge nosuch (unknown network)"));
    free(p);
    p = capture(plan_machine);
    CHECK(p && strstr(p, "network: bridge keel0, 172.30.0.0/24") && !strstr(p, "nosuch"));
    free(p);

    char *h = net_hosts_file(NULL, &man, &cs[0]);
    CHECK(h && strstr(h, "127.0.1.1\ta\n") && !strstr(h, "\tb\n"));   /* no address, no peers */
    free(h);
    h = net_hosts_file(NULL, &man, &cs[2]);
    CHECK(h && strstr(h, "127.0.1.1\tside\n"));
    free(h);
}

/* The default network comes from the manifest: manifest_load adds keel0 for a
 * bridge container and net.c sees it like any other [network]. */
TEST(default_network_from_manifest)
{
    static const char text[] = "[container web]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\n"
                               "ports = 8080:80\n";
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = manifest_load_buffer("t.ini", text, sizeof text - 1, MANIFEST_NO_FS_CHECKS, &m, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "    %s\n", d.msgs[i]);
    diag_free(&d);
    CHECK_INT(r, 0);
    if (r < 0)
        return;
    CHECK(m->n_networks == 1 && strcmp(m->networks[0].name, "keel0") == 0);
    CHECK_STR(m->containers[0].bridge, "keel0");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    net_plan(m, &m->containers[0], f);
    net_plan_machine(m, f);
    fclose(f);
    CHECK(buf && strstr(buf, "address: 172.30.0.2/24 on eth0; default route via 172.30.0.1"));
    CHECK(buf && strstr(buf, "network: bridge keel0, 172.30.0.0/24 gateway 172.30.0.1, mtu 1500"));
    CHECK(buf && strstr(buf, "meta nfproto ipv4 tcp dport 8080 dnat ip to 172.30.0.2:80"));
    free(buf);
    manifest_free(m);
}

/* host_ports, lan and link_local: parsed, defaulted, refused when wrong. */
TEST(network_policy_keys)
{
    static const char text[] = "[network keel0]\nsubnet = 172.30.0.0/24\nhost_ports = 53/udp, 53/tcp 123/udp\n"
                               "host_ports = 22\nhost_ports = 53/udp\nlan = no\nlink_local = yes\n"
                               "[network other]\nsubnet = 10.5.0.0/24\n"
                               "[container web]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\n";
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = manifest_load_buffer("t.ini", text, sizeof text - 1, MANIFEST_NO_FS_CHECKS, &m, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "    %s\n", d.msgs[i]);
    diag_free(&d);
    CHECK_INT(r, 0);
    if (r < 0)
        return;
    const struct network_spec *k = manifest_find_network(m, "keel0");
    const struct network_spec *o = manifest_find_network(m, "other");
    CHECK(k && k->n_host_ports == 4);   /* the repeated 53/udp once */
    CHECK(k && k->host_ports[0].port == 53 && k->host_ports[0].proto == IPPROTO_UDP);
    CHECK(k && k->host_ports[1].port == 53 && k->host_ports[1].proto == IPPROTO_TCP);
    CHECK(k && k->host_ports[3].port == 22 && k->host_ports[3].proto == IPPROTO_TCP);
    CHECK(k && k->no_lan && k->link_local);
    CHECK(o && o->n_host_ports == 0 && !o->no_lan && !o->link_local);   /* defaults: LAN yes, link-local no */
    manifest_free(m);

    static const char *const bad[] = { "host_ports = 0\n", "host_ports = 65536\n", "host_ports = 53/sctp\n",
                                       "host_ports = ,\n", "host_ports = http\n", "lan = maybe\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[256];
        snprintf(t, sizeof t, "[network keel0]\n%s[container web]\nlayers = /\ncommand = /bin/true\n", bad[i]);
        struct diag d2 = { 0 };
        struct manifest *m2 = NULL;
        CHECK(manifest_load_buffer("t.ini", t, strlen(t), MANIFEST_NO_FS_CHECKS, &m2, &d2) < 0);
        CHECK(d2.count >= 1 && strstr(d2.msgs[0], "t.ini:2:"));
        diag_free(&d2);
        manifest_free(m2);
    }
}

TEST(validate_networks)
{
    reset();
    net("this-name-is-too-long", "10.0.0.0", 24);
    CHECK(validate_has("test.ini:100: network name 'this-name-is-too-long' is not a valid interface name"));

    reset();
    net("a/b", "10.0.0.0", 24);
    CHECK(validate_has("is not a valid interface name"));

    reset();
    net("n1", "10.0.0.5", 24);
    CHECK(validate_has("network n1: subnet 10.0.0.5/24 has host bits set"));

    reset();
    net("n1", "10.0.0.0", 31);
    CHECK(validate_has("network n1: subnet prefix /31 leaves no room"));

    reset();
    net("n1", "10.0.0.0", 24)->gateway = A("10.0.1.1");
    CHECK(validate_has("network n1: gateway 10.0.1.1 is not a host address of 10.0.0.0/24"));

    reset();
    net("n1", "10.0.0.0", 16);
    net("n2", "10.0.5.0", 24);
    CHECK(validate_has("test.ini:200: network n2: subnet 10.0.5.0/24 overlaps network n1 (line 100)"));

    reset();
    net("n1", "10.0.0.0", 24)->mtu = 20;
    CHECK(validate_has("mtu 20 out of range"));
}

TEST(validate_container_mode)
{
    reset();
    add("b", NET_CONTAINER)->net_peer = "nosuch";
    CHECK(validate_has("test.ini:10: container b: network = container:nosuch names no container"));

    reset();
    add("b", NET_CONTAINER)->net_peer = "b";
    CHECK(validate_has("network = container:b names itself"));

    reset();
    add("a", NET_HOST);
    add("b", NET_CONTAINER)->net_peer = "a";
    CHECK(validate_has("container b: network = container:a, but a uses the host network"));

    reset();
    add("a", NET_CONTAINER)->net_peer = "b";
    add("b", NET_CONTAINER)->net_peer = "a";
    CHECK(validate_has("forms a cycle"));
}

/* --- /etc/hosts ----------------------------------------------------------------------- */

TEST(hosts_file)
{
    reset();
    struct container_spec *web = add("web", NET_BRIDGE);
    web->ip = A("172.30.0.10");
    web->hostname = "www";
    add("db", NET_BRIDGE);
    add("side", NET_CONTAINER)->net_peer = "web";
    net("other", "10.5.0.0", 24);
    add("far", NET_BRIDGE)->bridge = "other";
    add("h", NET_HOST);
    add("n", NET_NONE);

    char *h = net_hosts_file(NULL, &man, web);
    CHECK(h && strstr(h, "127.0.0.1\tlocalhost\n"));
    CHECK(h && strstr(h, "172.30.0.10\twww web\n"));
    CHECK(h && strstr(h, "172.30.0.2\tdb\n"));
    CHECK(h && strstr(h, "172.30.0.10\tside\n"));   /* shares web's address */
    CHECK(h && !strstr(h, "far"));                   /* another network */
    CHECK(h && !strstr(h, "\th\n") && !strstr(h, "\tn\n"));
    free(h);

    h = net_hosts_file(NULL, &man, &cs[2]);   /* side */
    CHECK(h && strstr(h, "172.30.0.10\tside\n"));
    CHECK(h && strstr(h, "172.30.0.10\tweb\n"));
    free(h);

    h = net_hosts_file(NULL, &man, &cs[4]);   /* host mode sees every bridge container */
    CHECK(h && strstr(h, "127.0.1.1\th\n"));
    CHECK(h && strstr(h, "10.5.0.2\tfar\n") && strstr(h, "172.30.0.2\tdb\n"));
    free(h);

    h = net_hosts_file(NULL, &man, &cs[5]);   /* none: only itself */
    CHECK(h && strstr(h, "127.0.1.1\tn\n") && !strstr(h, "db"));
    free(h);

    /* IPv6 is off in the namespaces keel makes: ::1 only for host mode. */
    h = net_hosts_file(NULL, &man, web);
    CHECK(h && !strstr(h, "::1"));
    free(h);
    h = net_hosts_file(NULL, &man, &cs[4]);
    CHECK(h && strstr(h, "::1\tlocalhost"));
    free(h);
}

TEST(resolv_conf)
{
    reset();
    char *out = (char *)"x";
    CHECK_INT(net_resolv_conf(&man, &out), 1);
    CHECK(out == NULL);
    char *dns[] = { "192.0.2.53", "198.51.100.1", NULL };
    man.system.dns = dns;
    CHECK_INT(net_resolv_conf(&man, &out), 0);
    CHECK_STR(out, "# generated by keel\nnameserver 192.0.2.53\nnameserver 198.51.100.1\n");
    free(out);
}

/* --- plan text ------------------------------------------------------------------------ */

static char *capture(void (*fn)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f);
    fclose(f);
    return buf;
}

static void plan_web(FILE *f) { net_plan(&man, &cs[0], f); }
static void plan_long(FILE *f) { net_plan(&man, &cs[1], f); }
static void plan_side(FILE *f) { net_plan(&man, &cs[2], f); }
static void plan_sys(FILE *f) { net_plan_machine(&man, f); }

TEST(plan_text)
{
    reset();
    struct container_spec *web = add("web", NET_BRIDGE);
    port(web, NULL, 8080, 80, IPPROTO_TCP);
    port(web, "127.0.0.1", 9090, 90, IPPROTO_UDP);
    web->net_rate = 10000000;
    add("a-rather-long-container-name", NET_BRIDGE);
    add("side", NET_CONTAINER)->net_peer = "web";

    char *p = capture(plan_web);
    CHECK(p && strstr(p, "network: bridge keel0"));
    CHECK(p && strstr(p, "link: veth kvweb"));
    CHECK(p && strstr(p, "address: 172.30.0.2/24 on eth0; default route via 172.30.0.1"));
    CHECK(p && strstr(p, "qdisc: tbf rate 10000000 bit/s"));
    CHECK(p && strstr(p, "nat: meta nfproto ipv4 tcp dport 8080 dnat ip to 172.30.0.2:80"));
    CHECK(p && strstr(p, "nat: ip daddr 127.0.0.1 udp dport 9090 dnat ip to 172.30.0.2:90"));
    free(p);

    p = capture(plan_long);
    CHECK(p && strstr(p, "link: veth kv") && !strstr(p, "kva-rather"));   /* hashed: fits IFNAMSIZ */
    char *v = p ? strstr(p, "veth kv") : NULL;
    CHECK(v && strcspn(v + 5, " ") <= 15);
    free(p);

    p = capture(plan_side);
    CHECK(p && strstr(p, "joins /run/keel/netns/web"));
    free(p);

    p = capture(plan_sys);
    CHECK(p && strstr(p, "table inet keel"));
    CHECK(p && strstr(p, "ip saddr 172.30.0.0/24 oifname != \"keel0\" masquerade"));
    CHECK(p && strstr(p, "iifname != \"lo\" ip daddr 127.0.0.0/8 drop"));
    CHECK(p && strstr(p, "iifname != \"lo\" ip saddr 127.0.0.0/8 drop"));
    CHECK(p && strstr(p, "policy drop"));
    CHECK(p && strstr(p, "meta nfproto ipv4 tcp dport 8080 dnat ip to 172.30.0.2:80"));
    /* The input policy: closed, ping open, nothing else by default. */
    CHECK(p && strstr(p, "chain in { type filter hook input priority 0; policy accept;"));
    CHECK(p && strstr(p, "iifname \"keel0\" icmp type echo-request accept\n    iifname \"keel0\" drop"));
    CHECK(p && !strstr(p, "dport 53 accept"));
    /* Egress defaults: link-local closed, the LAN open. */
    CHECK(p && strstr(p, "iifname \"keel0\" ip daddr 169.254.0.0/16 drop"));
    CHECK(p && !strstr(p, "ip daddr 10.0.0.0/8 drop"));
    CHECK(p && strstr(p, "IPv6 off"));
    free(p);

    /* host_ports, lan = no, link_local = yes, isolate = yes. */
    struct network_spec *k0 = find_net("keel0");
    k0->host_ports[0] = (struct host_port){ .port = 53, .proto = IPPROTO_UDP };
    k0->host_ports[1] = (struct host_port){ .port = 123, .proto = IPPROTO_UDP };
    k0->n_host_ports = 2;
    k0->no_lan = true;
    k0->link_local = true;
    k0->isolate = true;
    p = capture(plan_sys);
    CHECK(p && strstr(p, "iifname \"keel0\" ip daddr 172.30.0.1 udp dport 53 accept"));
    CHECK(p && strstr(p, "iifname \"keel0\" ip daddr 172.30.0.1 udp dport 123 accept"));
    CHECK(p && !strstr(p, "169.254.0.0/16 drop"));
    CHECK(p && strstr(p, "iifname \"keel0\" ip daddr 10.0.0.0/8 drop"));
    CHECK(p && strstr(p, "iifname \"keel0\" ip daddr 192.168.0.0/16 drop"));
    /* Isolation before the published-port accept: no hairpin to a neighbour. */
    const char *iso = p ? strstr(p, "iifname \"keel0\" oifname \"keel0\" drop") : NULL;
    const char *pub = p ? strstr(p, "oifname \"keel0\" ct status dnat accept") : NULL;
    CHECK(iso && pub && iso < pub);
    CHECK(p && !strstr(p, "iifname \"keel0\" oifname \"keel0\" accept"));
    free(p);
}

/* --- netlink builders --------------------------------------------------------------------- */

/* Walks attributes in [p, p+len), recursing into nested ones; 1 if consistent. */
static int attrs_ok(const uint8_t *p, size_t len, int depth, size_t *count)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < NLA_HDRLEN)
            return 0;
        const struct nlattr *a = (const struct nlattr *)(p + off);
        if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
            return 0;
        (*count)++;
        if ((a->nla_type & NLA_F_NESTED) && depth < 10 &&
            !attrs_ok(p + off + NLA_HDRLEN, a->nla_len - NLA_HDRLEN, depth + 1, count))
            return 0;
        off += NLA_ALIGN(a->nla_len);
    }
    return off == len;
}

struct walk {
    size_t msgs, attrs, rules, chains, tables, delrules;
    int first_type, last_type, owner_flag, bad;
};

static void walk(const struct nlbuf *b, size_t hdrlen, struct walk *w)
{
    memset(w, 0, sizeof *w);
    size_t off = 0;
    while (off < b->len) {
        const struct nlmsghdr *h = (const struct nlmsghdr *)(b->data + off);
        if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > b->len || (h->nlmsg_len & 3)) {
            w->bad = 1;
            return;
        }
        if (!(h->nlmsg_flags & NLM_F_REQUEST))
            w->bad = 1;
        if (w->msgs == 0)
            w->first_type = h->nlmsg_type;
        w->last_type = h->nlmsg_type;
        int t = h->nlmsg_type & 0xff;
        if (h->nlmsg_type >> 8 == NFNL_SUBSYS_NFTABLES) {
            w->rules += t == NFT_MSG_NEWRULE;
            w->chains += t == NFT_MSG_NEWCHAIN;
            w->tables += t == NFT_MSG_NEWTABLE;
            w->delrules += t == NFT_MSG_DELRULE;
        }
        size_t body = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);
        if (h->nlmsg_len < body || !attrs_ok((const uint8_t *)h + body, h->nlmsg_len - body, 0, &w->attrs))
            w->bad = 1;
        /* The owner flag on the created table. */
        if (t == NFT_MSG_NEWTABLE && (h->nlmsg_flags & NLM_F_EXCL)) {
            const uint8_t *p = (const uint8_t *)h + body;
            for (size_t o = 0; o + NLA_HDRLEN <= h->nlmsg_len - body;) {
                const struct nlattr *a = (const struct nlattr *)(p + o);
                if (a->nla_type == NFTA_TABLE_FLAGS && a->nla_len == 8) {
                    uint32_t v;
                    memcpy(&v, p + o + NLA_HDRLEN, 4);
                    w->owner_flag = ntohl(v) == NFT_TABLE_F_OWNER;
                }
                o += NLA_ALIGN(a->nla_len);
            }
        }
        w->msgs++;
        off += NLMSG_ALIGN(h->nlmsg_len);
    }
}

TEST(nlbuf_builder)
{
    struct nlbuf b;
    nlbuf_init(&b);
    uint32_t hdr = 7;
    nlbuf_begin(&b, 100, NLM_F_ACK, &hdr, sizeof hdr, "one");
    nlbuf_put_str(&b, 1, "abc");
    nlbuf_nest_begin(&b, 2);
    nlbuf_put_u8(&b, 3, 9);
    nlbuf_put_be32(&b, 4, 0x01020304);
    nlbuf_nest_end(&b);
    nlbuf_begin(&b, 101, 0, &hdr, sizeof hdr, "two");   /* ends "one" */
    nlbuf_end(&b);
    CHECK(!b.oom);
    CHECK_INT(b.n_msgs, 2);
    CHECK(b.acked[0] && !b.acked[1]);
    CHECK_STR(b.labels[1], "two");
    struct walk w;
    walk(&b, sizeof hdr, &w);
    CHECK_INT(w.bad, 0);
    CHECK_INT(w.msgs, 2);
    CHECK_INT(w.attrs, 4);
    /* "abc\0" padded: 4 + 4; nest 4 + (8 + 8) */
    const struct nlmsghdr *h = (const struct nlmsghdr *)b.data;
    CHECK_INT(h->nlmsg_len, 16 + 4 + 8 + 20);
    const uint8_t *be = b.data + 16 + 4 + 8 + 4 + 8 + 4;
    CHECK(be[0] == 1 && be[1] == 2 && be[2] == 3 && be[3] == 4);

    /* Unbalanced nesting is refused, never sent half-built. */
    nlbuf_reset(&b);
    nlbuf_begin(&b, 100, 0, NULL, 0, "x");
    nlbuf_nest_begin(&b, 1);
    nlbuf_end(&b);
    CHECK(b.oom);
    struct kerr e = { 0 };
    CHECK_INT(nlbuf_send(-1, &b, NULL, NULL, &e), -ENOMEM);
    CHECK(strstr(e.msg, "cannot build netlink request") != NULL);
    nlbuf_free(&b);
}

/* The one message in `b` as the harness printed libnl's: its type, its
 * flags without REQUEST and ACK, its length, and the bytes after the netlink
 * header in hex, one space every four bytes. */
static const char *msg_text(struct nlbuf *b, char *out, size_t cap)
{
    nlbuf_end(b);
    if (b->oom || b->invalid || b->n_msgs != 1)
        return "(not one message)";
    const struct nlmsghdr *h = (const struct nlmsghdr *)b->data;
    size_t n = (size_t)snprintf(out, cap, "type=%u flags=%#x len=%u:", h->nlmsg_type,
                                h->nlmsg_flags & ~(NLM_F_REQUEST | NLM_F_ACK), h->nlmsg_len);
    for (uint32_t i = NLMSG_HDRLEN; i < h->nlmsg_len && n + 4 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%02x", (i - NLMSG_HDRLEN) % 4 ? "" : " ", b->data[i]);
    CHECK(h->nlmsg_flags & NLM_F_ACK);
    nlbuf_reset(b);
    return out;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* The rtnetlink requests keel built with libnl-route-3 (3.7) until net_msg
 * replaced it: the expected texts are libnl's own output for the same
 * arguments, so the kernel sees the same bytes as before. */
TEST(net_msg_as_libnl)
{
    struct nlbuf b;
    nlbuf_init(&b);
    char t[4096];

    net_msg_addr_add(&b, 7, A("172.30.0.10"), 24, "a");
    CHECK_STR(msg_text(&b, t, sizeof t), "type=20 flags=0x500 len=48: 02180000 07000000 08000200 ac1e000a "
                                         "08000100 ac1e000a 08000400 ac1e00ff");
    net_msg_addr_add(&b, 3, A("10.0.0.1"), 31, "a");   /* no broadcast on /31 and /32 */
    CHECK_STR(msg_text(&b, t, sizeof t), "type=20 flags=0x500 len=40: 021f0000 03000000 08000200 0a000001 "
                                         "08000100 0a000001");
    net_msg_addr_add(&b, 2, A("10.9.8.7"), 32, "a");
    CHECK_STR(msg_text(&b, t, sizeof t), "type=20 flags=0x500 len=40: 02200000 02000000 08000200 0a090807 "
                                         "08000100 0a090807");
    /* libnl refused a /0 (no prefix length); so does net_msg. */
    net_msg_addr_add(&b, 5, A("10.0.0.1"), 0, "a");
    struct kerr e = { 0 };
    CHECK_INT(nlbuf_send(-1, &b, NULL, NULL, &e), -EINVAL);
    nlbuf_reset(&b);

    net_msg_route_default(&b, 7, A("172.30.0.1"), "r");
    CHECK_STR(msg_text(&b, t, sizeof t), "type=24 flags=0x500 len=60: 02000000 fe040001 00000000 08000f00 "
                                         "fe000000 08000100 00000000 08000500 ac1e0001 08000400 07000000");

    static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
    net_msg_bridge_add(&b, "keel0", 1500, mac, "b");
    CHECK_STR(msg_text(&b, t, sizeof t), "type=16 flags=0x600 len=80: 00000000 00000000 01000000 01000000 "
                                         "08000400 dc050000 0a000300 6b65656c 30000000 0a000100 02112233 "
                                         "44550000 10001280 0b000100 62726964 67650000");

    static const uint8_t eth0_mac[6] = { 0x02, 0x4b, 0xac, 0x1e, 0x00, 0x02 };
    net_msg_veth_add(&b, "kvweb", 5, 1500, "eth0", eth0_mac, 9, "v");
    /* The peer's IFLA_ADDRESS (0a000100 024bac1e 0002....) between its name and its namespace. */
    CHECK_STR(msg_text(&b, t, sizeof t), "type=16 flags=0x600 len=140: 00000000 00000000 01000000 01000000 "
                                         "08000400 dc050000 0a000300 6b767765 62000000 08000a00 05000000 "
                                         "50001280 09000100 76657468 00000000 40000280 3c000180 00000000 "
                                         "00000000 00000000 00000000 08000400 dc050000 09000300 65746830 "
                                         "00000000 0a000100 024bac1e 00020000 08001c00 09000000");

    /* keel's exit: its links given one group, the group deleted at once (IFLA_GROUP = 27). */
    net_msg_link_group(&b, "kvweb", 0x12345678, "g");
    CHECK_STR(msg_text(&b, t, sizeof t), "type=16 flags=0 len=52: 00000000 00000000 00000000 00000000 "
                                         "0a000300 6b767765 62000000 08001b00 78563412");
    net_msg_group_del(&b, 0x12345678, "d");
    CHECK_STR(msg_text(&b, t, sizeof t), "type=17 flags=0 len=40: 00000000 00000000 00000000 00000000 "
                                         "08001b00 78563412");

    /* tbf: the parameters in full, the 1 KiB rate table by hash (libnl's
     * text hashed the same way), at an ordinary rate, the smallest (1 byte/s:
     * times beyond INT_MAX), a small mtu, and 0 bit/s with mtu 0. */
    static const struct {
        uint64_t bits;
        unsigned mtu;
        const char *head;
        uint64_t hash;
    } tbf[] = {
        { 10000000, 1500, "03000000 ffff0000 d0121300 00000000 00000000 00000000 f8240100 5a620200 00000000",
          0x04fb89dcf9df78cdull },
        { 8, 9000, "06000000 ffff0000 01000000 00000000 00000000 00000000 a2690000 000000d0 00000000",
          0xf855accc2fe2cb66ull },
        { 1000, 68, "00000000 ffff0000 7d000000", 0x73247248696af618ull },
        { 123456789, 1400, "03000000 ffff0000 a279eb00", 0x3036307f35066111ull },
        { 0, 0, "03000000 ffff0000 01000000", 0x302129697dc1aea9ull },
    };
    for (size_t i = 0; i < ARRAY_SIZE(tbf); i++) {
        net_msg_tbf_add(&b, 4, tbf[i].bits, tbf[i].mtu, "q");
        const char *s = msg_text(&b, t, sizeof t);
        const char *pre = "type=36 flags=0x500 len=1116: 00000000 04000000 00000100 ffffffff 00000000 "
                          "08000100 74626600 30040280 28000100 ";
        CHECK(strncmp(s, pre, strlen(pre)) == 0);
        CHECK(strncmp(s + strlen(pre), tbf[i].head, strlen(tbf[i].head)) == 0);
        /* libnl's harness hashed the hex without spaces. */
        char flat[4096];
        size_t k = 0;
        for (const char *c = strchr(s, ':') + 1; *c && k + 1 < sizeof flat; c++)
            if (*c != ' ')
                flat[k++] = *c;
        flat[k] = '\0';
        if (fnv1a(flat) != tbf[i].hash)
            fprintf(stderr, "  tbf %" PRIu64 " bit/s mtu %u: %s\n", tbf[i].bits, tbf[i].mtu, s);
        CHECK(fnv1a(flat) == tbf[i].hash);
    }
    nlbuf_free(&b);
}

TEST(nft_install_batch)
{
    struct nft_bridge br[2] = {
        { .ifname = "keel0", .subnet = A("172.30.0.0"), .prefix = 24 },
        { .ifname = "iso", .subnet = A("172.31.0.0"), .prefix = 24, .isolate = true },
    };
    struct nft_config cfg = { .bridges = br, .n_bridges = 2, .forward_drop = true };
    struct nlbuf b;
    nlbuf_init(&b);
    nft_batch_begin(&b);
    nft_build_delete(&b);
    nft_build_install(&b, &cfg);
    nft_batch_end(&b);
    struct walk w;
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.bad, 0);
    CHECK_INT(w.first_type, NFNL_MSG_BATCH_BEGIN);
    CHECK_INT(w.last_type, NFNL_MSG_BATCH_END);
    CHECK_INT(w.tables, 2);   /* add (for the delete) + create */
    CHECK_INT(w.chains, 7);
    CHECK(w.owner_flag);
    /* guard 2 + 4 (IPv6 loopback) + in (1 + per bridge ping and drop) + pre/out 2 + post 3 per
     * bridge + fwd 2 + the isolated bridge's own pair 1 + per bridge
     * (published, link-local, outbound, inbound) + the other pairs 3. */
    CHECK_INT(w.rules, 2 + 4 + (1 + 2 * 2) + 2 + 3 * 2 + 2 + 1 + 2 * 4 + 3);
    nlbuf_free(&b);

    /* host_ports add one rule each; lan = no four; link_local = yes one less. */
    struct nft_port hp[2] = { { 53, IPPROTO_UDP }, { 22, IPPROTO_TCP } };
    br[0].host_ports = hp;
    br[0].n_host_ports = 2;
    br[0].no_lan = true;
    br[0].link_local = true;
    nlbuf_init(&b);
    nft_build_install(&b, &cfg);
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.bad, 0);
    CHECK_INT(w.rules, 2 + 4 + (1 + 2 * 2) + 2 + 3 * 2 + 2 + 1 + 2 * 4 + 3 + 2 + 4 - 1);
    nlbuf_free(&b);
}

/* A ctnetlink dump message as the kernel writes it. */
static void ct_entry(struct nlbuf *b, const char *osrc, const char *odst, const char *rsrc, const char *rdst,
                     uint16_t zone)
{
    struct nfgenmsg g = { .nfgen_family = AF_INET, .version = NFNETLINK_V0 };
    nlbuf_begin(b, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, 0, &g, sizeof g, "entry");
    const char *addrs[2][2] = { { osrc, odst }, { rsrc, rdst } };
    for (int t = 0; t < 2; t++) {
        nlbuf_nest_begin(b, t == 0 ? CTA_TUPLE_ORIG : CTA_TUPLE_REPLY);
        nlbuf_nest_begin(b, CTA_TUPLE_IP);
        struct in_addr s1 = A(addrs[t][0]), d1 = A(addrs[t][1]);
        nlbuf_put(b, CTA_IP_V4_SRC, &s1, 4);
        nlbuf_put(b, CTA_IP_V4_DST, &d1, 4);
        nlbuf_nest_end(b);
        nlbuf_nest_begin(b, CTA_TUPLE_PROTO);
        nlbuf_put_u8(b, CTA_PROTO_NUM, IPPROTO_UDP);
        uint16_t sp = htons(45678), dp = htons(9999);
        nlbuf_put(b, CTA_PROTO_SRC_PORT, t == 0 ? &sp : &dp, 2);
        nlbuf_put(b, CTA_PROTO_DST_PORT, t == 0 ? &dp : &sp, 2);
        nlbuf_nest_end(b);
        nlbuf_nest_end(b);
    }
    nlbuf_put_be32(b, CTA_ID, 0x1234);
    if (zone) {
        uint16_t z = htons(zone);
        nlbuf_put(b, CTA_ZONE, &z, 2);
    }
    nlbuf_end(b);
}

TEST(conntrack_forget)
{
    struct nft_net freed = { .addr = A("172.30.0.2"), .prefix = 32 };
    struct nft_net subnet = { .addr = A("172.30.0.0"), .prefix = 24 };
    struct nlbuf b;
    nlbuf_init(&b);
    /* 0: DNAT'ed to the freed address (reply source); 1: masqueraded flow it
     * started (original source); 2: another container's; 3: in a zone. */
    ct_entry(&b, "10.99.0.2", "10.99.0.1", "172.30.0.2", "10.99.0.2", 0);
    ct_entry(&b, "172.30.0.2", "10.99.0.2", "10.99.0.2", "10.99.0.1", 0);
    ct_entry(&b, "10.99.0.2", "10.99.0.1", "172.30.0.3", "10.99.0.2", 0);
    ct_entry(&b, "10.99.0.2", "172.30.0.2", "172.30.0.2", "10.99.0.2", 7);
    nlbuf_end(&b);
    CHECK(!b.oom);
    const struct nlmsghdr *h[4];
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        h[i] = (const struct nlmsghdr *)(b.data + off);
        off += NLMSG_ALIGN(h[i]->nlmsg_len);
    }
    struct nft_ct_entry e;
    CHECK_INT(nft_ct_match(h[0], &freed, 1, &e), 1);
    CHECK(e.has_id && ntohl(e.id_be) == 0x1234 && !e.has_zone);
    CHECK_INT(nft_ct_match(h[1], &freed, 1, &e), 1);
    CHECK_INT(nft_ct_match(h[2], &freed, 1, &e), 0);
    CHECK_INT(nft_ct_match(h[2], &subnet, 1, &e), 1);   /* net_init: the whole subnet */
    CHECK_INT(nft_ct_match(h[3], &freed, 1, &e), 1);
    CHECK(e.has_zone && ntohs(e.zone_be) == 7);

    /* The delete carries the original tuple as the kernel sent it. */
    struct nlbuf d;
    nlbuf_init(&d);
    nft_ct_build_delete(&d, &e);
    nlbuf_end(&d);
    CHECK(!d.oom && d.acked[0]);
    const struct nlmsghdr *dh = (const struct nlmsghdr *)d.data;
    CHECK_INT(dh->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE);
    size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
    const struct nlattr *tb[CTA_MAX + 1];
    CHECK_INT(nlbuf_parse_attrs((const uint8_t *)dh + hdr, dh->nlmsg_len - hdr, tb, CTA_MAX), 0);
    CHECK(tb[CTA_TUPLE_ORIG] && (tb[CTA_TUPLE_ORIG]->nla_type & NLA_F_NESTED));
    CHECK(tb[CTA_TUPLE_ORIG] && nlbuf_attr_len(tb[CTA_TUPLE_ORIG]) == e.orig_len &&
          memcmp(nlbuf_attr_data(tb[CTA_TUPLE_ORIG]), e.orig, e.orig_len) == 0);
    CHECK(tb[CTA_ID] && tb[CTA_ZONE] && !tb[CTA_TUPLE_REPLY]);
    nlbuf_free(&d);

    /* Not conntrack, or malformed: never a delete. */
    struct nlmsghdr bogus = { .nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW };
    CHECK(nft_ct_match(&bogus, &freed, 1, &e) < 0);
    bogus.nlmsg_type = RTM_NEWLINK;
    CHECK_INT(nft_ct_match(&bogus, &freed, 1, &e), 0);
    uint8_t bad[64] = { 0 };
    struct nlmsghdr *bh = (struct nlmsghdr *)bad;
    bh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
    bh->nlmsg_len = sizeof bad;
    ((struct nfgenmsg *)NLMSG_DATA(bh))->nfgen_family = AF_INET;
    struct nlattr *a = (struct nlattr *)(bad + NLMSG_HDRLEN + 4);
    a->nla_type = CTA_TUPLE_ORIG | NLA_F_NESTED;
    a->nla_len = 200;   /* overruns the message */
    CHECK(nft_ct_match(bh, &freed, 1, &e) < 0);
    nlbuf_free(&b);
}

TEST(nft_ports_batch)
{
    struct nft_dnat d[3] = {
        { .host_port = 8080, .proto = IPPROTO_TCP, .dest = A("172.30.0.2"), .dest_port = 80 },
        { .host_ip = A("127.0.0.1"), .host_port = 53, .proto = IPPROTO_UDP, .dest = A("172.30.0.3"), .dest_port = 53 },
        { .host_port = 1, .proto = IPPROTO_TCP, .dest = A("172.30.0.4"), .dest_port = 65535 },
    };
    struct nlbuf b;
    nlbuf_init(&b);
    nft_batch_begin(&b);
    nft_build_ports(&b, d, 3);
    nft_batch_end(&b);
    struct walk w;
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.bad, 0);
    CHECK_INT(w.delrules, 1);   /* the flush */
    CHECK_INT(w.rules, 3);
    CHECK_INT(w.msgs, 1 + 1 + 3 + 1);
    nlbuf_reset(&b);
    nft_batch_begin(&b);
    nft_build_ports(&b, NULL, 0);   /* release of the last: just a flush */
    nft_batch_end(&b);
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.rules, 0);
    CHECK_INT(w.delrules, 1);
    nlbuf_free(&b);

    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    nft_describe_dnat(&d[1], f);
    fclose(f);
    CHECK_STR(txt, "ip daddr 127.0.0.1 udp dport 53 dnat ip to 172.30.0.3:53");
    free(txt);
}


/* IPv6 (issue 16): the keys parse, the rules refuse, the plan says it. */
static int load_text(const char *text, struct manifest **m, struct diag *d)
{
    return manifest_load_buffer("t.ini", text, strlen(text), MANIFEST_NO_FS_CHECKS, m, d);
}

static bool diag_has(const struct diag *d, const char *want)
{
    for (size_t i = 0; i < d->count; i++)
        if (strstr(d->msgs[i], want))
            return true;
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "    got: %s\n", d->msgs[i]);
    return false;
}

TEST(ipv6_manifest)
{
    static const char good[] =
        "[network keel0]\nsubnet = 172.30.0.0/24\nsubnet6 = fd00:30::/64\n"
        "[container a]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\nports = 8080:80\n"
        "[container b]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\nip6 = fd00:30::2\n";
    struct manifest *m = NULL;
    struct diag d = { 0 };
    CHECK_INT(load_text(good, &m, &d), 0);
    diag_free(&d);
    if (m) {
        struct in6_addr ips[2];
        CHECK_INT(manifest_assign_ip6s(m, ips, NULL), 0);
        char a[INET6_ADDRSTRLEN];
        /* b's explicit ::2 is taken first; a gets the next free (::1 is the gateway). */
        CHECK_STR(inet_ntop(AF_INET6, &ips[0], a, sizeof a), "fd00:30::3");
        CHECK_STR(inet_ntop(AF_INET6, &ips[1], a, sizeof a), "fd00:30::2");
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        net_plan(m, &m->containers[0], f);
        net_plan_machine(m, f);
        fclose(f);
        CHECK(buf && strstr(buf, "address6: fd00:30::3/64 on eth0; IPv6 default route via fd00:30::1"));
        CHECK(buf && strstr(buf, "IPv6 fd00:30::/64 gateway6 fd00:30::1, accept_ra 0"));
        CHECK(buf && strstr(buf, "dnat ip6 to [fd00:30::3]:80"));
        CHECK(buf && strstr(buf, "iifname \"keel0\" meta nfproto ipv6 drop"));
        CHECK(buf && strstr(buf, "iifname \"keel0\" ip6 daddr fd00:ec2::254 drop"));
        CHECK(buf && strstr(buf, "net.ipv6.conf.all.forwarding = 1"));
        free(buf);
        char *h = net_hosts_file(NULL, m, &m->containers[0]);
        CHECK(h && strstr(h, "::1\tlocalhost") && strstr(h, "fd00:30::3\ta\n") && strstr(h, "fd00:30::2\tb\n"));
        free(h);
        manifest_free(m);
        m = NULL;
    }

    static const struct { const char *text, *want; } bad[] = {
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00::/48\n", "prefix /48 must be between /64 and /120" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00::1/64\n", "has host bits set" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fe80::/64\n", "is not a unicast prefix" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = 10.0.0.0/64\n", "is not an IPv6 prefix" },
        { "[network n]\nsubnet = 10.0.0.0/24\ngateway6 = fd00::1\n", "t.ini:3: network n: gateway6 requires subnet6" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00:1::/64\ngateway6 = fd00:2::1\n",
          "t.ini:4: network n: gateway6 fd00:2::1 is not a host address of fd00:1::/64" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00:1::/64\n[network o]\nsubnet = 10.1.0.0/24\nsubnet6 = fd00:1::80/121\n",
          "prefix /121" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00:1::/64\n[network o]\nsubnet = 10.1.0.0/24\nsubnet6 = fd00:1::100/120\n",
          "t.ini:6: network o: subnet6 fd00:1::100/120 overlaps network n (line 3)" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00:1::/64\n"
          "[container c]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\nbridge = n\nip6 = fd00:2::5\n",
          "t.ini:9: container c: ip6 fd00:2::5 is outside network n (fd00:1::/64)" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00:1::/64\n"
          "[container c]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\nbridge = n\nip6 = fd00:1::1\n",
          "ip6 fd00:1::1 is the gateway6 of network n" },
        { "[network n]\nsubnet = 10.0.0.0/24\n"
          "[container c]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\nbridge = n\nip6 = fd00:1::5\n",
          "t.ini:8: container c: ip6 requires subnet6 on network n" },
        { "[network n]\nsubnet = 10.0.0.0/24\nsubnet6 = fd00:1::/64\n"
          "[container c]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\nbridge = n\nip6 = fd00:1::5\n"
          "[container e]\nlayers = /\ncommand = /bin/true\nnetwork = bridge\nbridge = n\nip6 = fd00:1::5\n",
          "container e: ip6 fd00:1::5 is already used by container c (line 9)" },
        { "[container c]\nlayers = /\ncommand = /bin/true\nnetwork = none\nip6 = fd00:1::5\n",
          "container c: ip6 requires network = bridge" },
        { "[interface eth0]\naddress6 = nonsense\n", "is neither auto nor an IPv6 ADDRESS/len" },
        { "[interface eth0]\naddress6 = auto\ngateway6 = fe80::1\n", "t.ini:3: interface eth0: gateway6 requires a static address6" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        d = (struct diag){ 0 };
        m = NULL;
        int r = load_text(bad[i].text, &m, &d);
        CHECK(r < 0);
        if (!diag_has(&d, bad[i].want))
            fprintf(stderr, "  case %zu: wanted %s\n", i, bad[i].want);
        CHECK(diag_has(&d, bad[i].want));
        diag_free(&d);
        manifest_free(m);
    }
    /* The uplink keys that are right. */
    d = (struct diag){ 0 };
    m = NULL;
    CHECK_INT(load_text("[interface eth0]\naddress6 = 2001:db8::5/64\ngateway6 = 2001:db8::1\n"
                        "[interface eth1]\naddress6 = auto\n", &m, &d), 0);
    if (m) {
        CHECK(m->interfaces[0].has_address6 && m->interfaces[0].prefix6 == 64 && m->interfaces[0].has_gateway6);
        CHECK(m->interfaces[1].address6_auto && !m->interfaces[1].has_address6);
    }
    diag_free(&d);
    manifest_free(m);
}

TEST(ipv6_batches)
{
    struct nft_bridge br[1] = { { .ifname = "keel0", .subnet = A("172.30.0.0"), .prefix = 24 } };
    struct nft_port hp[1] = { { 53, IPPROTO_UDP } };
    struct nft_config cfg = { .bridges = br, .n_bridges = 1, .forward_drop = true };
    struct nlbuf b;
    struct walk w;
    nlbuf_init(&b);
    nft_build_install(&b, &cfg);
    walk(&b, sizeof(struct nfgenmsg), &w);
    size_t v4_rules = w.rules;
    nlbuf_free(&b);
    /* Dual stack adds: guard 3 source accepts + 1 spoof drop; in: the host
     * port on gateway6 + 3 ICMPv6; post: hairpin + masquerade; fwd: the
     * metadata address. */
    br[0].has_v6 = true;
    inet_pton(AF_INET6, "fd00:30::", &br[0].subnet6);
    inet_pton(AF_INET6, "fd00:30::1", &br[0].gateway6);
    br[0].prefix6 = 64;
    br[0].host_ports = hp;
    br[0].n_host_ports = 1;
    nlbuf_init(&b);
    nft_build_install(&b, &cfg);
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.bad, 0);
    CHECK_INT(w.rules, v4_rules + 1 /* v4 host port */ + 4 + 1 + 3 + 2 + 1);
    nlbuf_free(&b);
    /* lan = no adds fc00::/7; link_local = yes drops the metadata rule; a
     * keel-made IPv6 forwarding on a routing host: one more drop. */
    br[0].no_lan = true;
    br[0].link_local = true;
    cfg.forward_drop = false;
    cfg.forward_drop6 = true;
    nlbuf_init(&b);
    nft_build_install(&b, &cfg);
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.rules, v4_rules + 1 + 4 + 1 + 3 + 2 + 4 /* v4 lan */ - 1 /* v4 link-local */ + 1 + 1);
    nlbuf_free(&b);

    /* Policy drop (keel turned IPv4 forwarding on) on a machine that routed
     * IPv6 before: its IPv6 routing goes on (one accept at the end). */
    cfg.forward_drop = true;
    cfg.forward_drop6 = false;
    cfg.forward_accept6 = true;
    nlbuf_init(&b);
    nft_build_install(&b, &cfg);
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.rules, v4_rules + 1 + 4 + 1 + 3 + 2 + 4 - 1 + 1 + 1);
    nlbuf_free(&b);

    /* Conntrack: an IPv6 entry naming a freed IPv6 address is matched, and
     * deleted in its own family; an IPv4 net does not match it. */
    nlbuf_init(&b);
    struct nfgenmsg g = { .nfgen_family = AF_INET6, .version = NFNETLINK_V0 };
    nlbuf_begin(&b, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, 0, &g, sizeof g, "entry");
    struct in6_addr o6, c6;
    inet_pton(AF_INET6, "2001:db8:99::2", &o6);
    inet_pton(AF_INET6, "fd00:30::2", &c6);
    for (int t = 0; t < 2; t++) {
        nlbuf_nest_begin(&b, t == 0 ? CTA_TUPLE_ORIG : CTA_TUPLE_REPLY);
        nlbuf_nest_begin(&b, CTA_TUPLE_IP);
        nlbuf_put(&b, CTA_IP_V6_SRC, t == 0 ? &o6 : &c6, 16);
        nlbuf_put(&b, CTA_IP_V6_DST, t == 0 ? &o6 : &o6, 16);
        nlbuf_nest_end(&b);
        nlbuf_nest_end(&b);
    }
    nlbuf_end(&b);
    struct nft_net freed6 = { .v6 = true, .addr6 = c6, .prefix = 128 };
    struct nft_net v4net = { .addr = A("172.30.0.0"), .prefix = 16 };
    struct nft_ct_entry e;
    const struct nlmsghdr *ch = (const struct nlmsghdr *)b.data;
    CHECK_INT(nft_ct_match(ch, &freed6, 1, &e), 1);
    CHECK_INT(e.family, AF_INET6);
    CHECK_INT(nft_ct_match(ch, &v4net, 1, &e), 0);
    struct nlbuf del;
    nlbuf_init(&del);
    CHECK_INT(nft_ct_match(ch, &freed6, 1, &e), 1);
    nft_ct_build_delete(&del, &e);
    nlbuf_end(&del);
    CHECK_INT(((const struct nfgenmsg *)NLMSG_DATA((const struct nlmsghdr *)del.data))->nfgen_family, AF_INET6);
    nlbuf_free(&del);
    nlbuf_free(&b);

    /* A published port with an IPv6 destination: two rules; with HOST_IP one. */
    struct nft_dnat d[2] = {
        { .host_port = 8080, .proto = IPPROTO_TCP, .dest = A("172.30.0.2"), .dest_port = 80, .has_dest6 = true },
        { .host_ip = A("10.0.0.1"), .host_port = 8081, .proto = IPPROTO_TCP, .dest = A("172.30.0.2"), .dest_port = 81,
          .has_dest6 = true },
    };
    inet_pton(AF_INET6, "fd00:30::2", &d[0].dest6);
    d[1].dest6 = d[0].dest6;
    nlbuf_init(&b);
    nft_build_ports(&b, d, 2);
    walk(&b, sizeof(struct nfgenmsg), &w);
    CHECK_INT(w.bad, 0);
    CHECK_INT(w.rules, 3);
    nlbuf_free(&b);

    /* net_msg: the IPv6 address (NODAD on keel's links, DAD on the uplink) and route. */
    struct in6_addr a6;
    inet_pton(AF_INET6, "fd00:30::2", &a6);
    nlbuf_init(&b);
    net_msg_addr6_add(&b, 7, &a6, 64, false, "a");
    net_msg_addr6_add(&b, 7, &a6, 64, true, "b");
    net_msg_route6_default(&b, 7, &a6, "c");
    nlbuf_end(&b);
    CHECK(!b.oom);
    const struct nlmsghdr *h = (const struct nlmsghdr *)b.data;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    CHECK_INT(h->nlmsg_type, RTM_NEWADDR);
    CHECK(ifa->ifa_family == AF_INET6 && ifa->ifa_prefixlen == 64 && ifa->ifa_flags == IFA_F_NODAD && ifa->ifa_index == 7);
    h = (const struct nlmsghdr *)(b.data + NLMSG_ALIGN(h->nlmsg_len));
    ifa = NLMSG_DATA(h);
    CHECK(ifa->ifa_flags == 0);
    h = (const struct nlmsghdr *)((const uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len));
    const struct rtmsg *rtm = NLMSG_DATA(h);
    CHECK_INT(h->nlmsg_type, RTM_NEWROUTE);
    CHECK(rtm->rtm_family == AF_INET6 && rtm->rtm_dst_len == 0);
    nlbuf_free(&b);
    nlbuf_init(&b);
    net_msg_addr6_add(&b, 7, &a6, 129, false, "bad");
    CHECK(b.invalid);
    nlbuf_free(&b);
}

int main(void)
{
    RUN(alloc_lowest_free);
    RUN(alloc_exhaustion_and_edges);
    RUN(validate_good);
    RUN(validate_ports);
    RUN(validate_addresses);
    RUN(validate_networks);
    RUN(network_policy_keys);
    RUN(validate_container_mode);
    RUN(unknown_network);
    RUN(default_network_from_manifest);
    RUN(hosts_file);
    RUN(resolv_conf);
    RUN(plan_text);
    RUN(nlbuf_builder);
    RUN(net_msg_as_libnl);
    RUN(nft_install_batch);
    RUN(nft_ports_batch);
    RUN(conntrack_forget);
    RUN(ipv6_manifest);
    RUN(ipv6_batches);
    return unit_done();
}
