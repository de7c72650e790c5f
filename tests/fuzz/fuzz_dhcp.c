/* fuzz_dhcp.c — what a DHCP server (or anyone on the uplink's link) sends
 * keel: the IPv4/UDP frame of the packet socket (dhcp_unframe), the message
 * (dhcp_parse, option 121 included) and the state machine fed with it
 * (dhcp_step), then the resolv.conf made from the lease.
 *
 * fuzz-requires: src/dhcp_proto.c
 *
 * Invariants beyond "no crash, no leak": an accepted offer or ack has a host
 * address (not 0/8, 127/8, multicast or above), a prefix of 1..32, a server
 * id, T1 <= T2 <= lease (or all infinite), lists within their bounds, a
 * domain of [A-Za-z0-9._-] only; every classless route has a prefix <= 32
 * and no bit beyond it; an accepted frame's payload lies inside the frame;
 * the state machine never binds a lease the parser did not accept, the
 * routes keel would apply hold no loopback, multicast or keel0 destination
 * (on-link ones first), and the resolv.conf text has one line per entry and
 * no other.
 */
#include "fuzz.h"

#include <arpa/inet.h>

#include "keel/dhcp_proto.h"

static void check_lease(const struct dhcp_lease *l)
{
    uint32_t h = ntohl(l->addr.s_addr);
    FUZZ_ASSERT((h >> 24) != 0 && (h >> 24) != 127 && h < 0xe0000000u);
    FUZZ_ASSERT(l->prefix >= 1 && l->prefix <= 32);
    FUZZ_ASSERT(l->server.s_addr != 0);
    FUZZ_ASSERT(l->t1_s <= l->t2_s && l->t2_s <= l->lease_s);
    FUZZ_ASSERT(l->n_dns <= DHCP_MAX_DNS && l->n_ntp <= DHCP_MAX_NTP && l->n_routes <= DHCP_MAX_ROUTES);
    FUZZ_ASSERT(strlen(l->domain) <= DHCP_DOMAIN_MAX);
    FUZZ_ASSERT(strspn(l->domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                strlen(l->domain));
    FUZZ_ASSERT(l->mtu == 0 || l->mtu >= 576);
    for (size_t i = 0; i < l->n_routes; i++) {
        FUZZ_ASSERT(l->routes[i].prefix <= 32);
        if (l->routes[i].prefix < 32)
            FUZZ_ASSERT((ntohl(l->routes[i].dst.s_addr) & (0xffffffffu >> l->routes[i].prefix)) == 0);
    }
    /* What keel would apply: never loopback, multicast or inside keel0. */
    struct dhcp_route keel0 = { .prefix = 24 };
    inet_pton(AF_INET, "172.30.0.0", &keel0.dst);
    struct dhcp_route out[DHCP_MAX_ROUTES];
    size_t dropped;
    size_t n_out = dhcp_lease_routes(l, &keel0, 1, out, &dropped);
    FUZZ_ASSERT(n_out + dropped == (l->has_routes ? l->n_routes : l->router.s_addr != 0));
    for (size_t i = 0; i < n_out; i++) {
        uint32_t d = ntohl(out[i].dst.s_addr), g = ntohl(out[i].gw.s_addr);
        FUZZ_ASSERT(out[i].prefix == 0 || ((d >> 24) != 127 && (d >> 24) != 0 && d < 0xe0000000u));
        FUZZ_ASSERT(g == 0 || ((g >> 24) != 127 && (g >> 24) != 0 && g < 0xe0000000u));
        FUZZ_ASSERT(out[i].prefix < 24 || !dhcp_prefixes_overlap(out[i].dst, out[i].prefix, keel0.dst, 24));
        if (i > 0 && out[i - 1].gw.s_addr != 0)
            FUZZ_ASSERT(out[i].gw.s_addr != 0);   /* on-link routes first */
    }
    char conf[2048];
    int n = dhcp_resolv_conf(l, "eth0", conf, sizeof conf);
    FUZZ_ASSERT(n >= 0);
    if (n > 0) {
        size_t lines = 0;
        for (int i = 0; i < n; i++)
            lines += conf[i] == '\n';
        FUZZ_ASSERT(lines == 1 + (l->domain[0] != '\0') + l->n_dns);
    }
}

static void message(const uint8_t *p, size_t len)
{
    struct dhcp_msg m;
    if (dhcp_parse(p, len, &m) < 0)
        return;
    if (m.type == DHCP_OFFER || m.type == DHCP_ACK)
        check_lease(&m.lease);
    /* Drive a machine through SELECTING and REQUESTING with this message as
     * the offer and as the answer: whatever it binds is what was parsed. */
    static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
    memcpy(m.chaddr, mac, 6);
    struct dhcp_machine dm;
    struct dhcp_step st;
    dhcp_machine_init(&dm);
    struct dhcp_input in = { .ev = DHCP_EV_START, .now_ms = 1000, .rand = m.xid };
    dhcp_step(&dm, &in, mac, "h", &st);
    in = (struct dhcp_input){ .ev = DHCP_EV_MSG, .now_ms = 2000, .msg = &m };
    dhcp_step(&dm, &in, mac, "h", &st);
    uint8_t keep = m.type;
    m.type = DHCP_ACK;
    dhcp_step(&dm, &in, mac, "h", &st);
    if (st.bound) {
        FUZZ_ASSERT(keep == DHCP_OFFER && dm.has_lease);
        FUZZ_ASSERT(memcmp(&dm.lease, &m.lease, sizeof m.lease) == 0);
        for (int i = 0; i < 8; i++) {   /* renew, rebind, expire: never a timer in the past */
            in = (struct dhcp_input){ .ev = DHCP_EV_TIMER, .now_ms = st.timer_at_ms, .rand = (uint32_t)i };
            uint64_t before = in.now_ms;
            if (!st.timer_at_ms)
                break;
            dhcp_step(&dm, &in, mac, "h", &st);
            FUZZ_ASSERT(st.timer_at_ms == 0 || st.timer_at_ms >= before);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = (uint8_t *)fuzz_exact(data, size);
    message(copy, size);
    const uint8_t *p;
    size_t plen;
    for (int ready = 0; ready < 2; ready++)
        if (dhcp_unframe(copy, size, ready, &p, &plen) == 0) {
            FUZZ_ASSERT(p >= copy && p + plen <= copy + size);
            message(p, plen);
        }
    struct dhcp_route r[DHCP_MAX_ROUTES];
    int n = dhcp_parse_routes(copy, size, r, DHCP_MAX_ROUTES);
    FUZZ_ASSERT(n >= -22 && n <= DHCP_MAX_ROUTES);
    free(copy);
    return 0;
}
