/* test_dhcp.c — the pure DHCPv4 half (dhcp_proto.h): messages keel builds,
 * the parser of server messages (option 121 included), the framing of the
 * packet socket and the state machine's transitions. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>

#include "keel/dhcp_proto.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static struct in_addr ip(const char *s)
{
    struct in_addr a = { 0 };
    inet_pton(AF_INET, s, &a);
    return a;
}

/* A server reply: the BOOTP header, then raw option bytes (with the end). */
static size_t reply(uint8_t *buf, uint32_t xid, const char *yiaddr, const uint8_t *opts, size_t olen)
{
    memset(buf, 0, DHCP_MSG_MAX);
    buf[0] = 2, buf[1] = 1, buf[2] = 6;
    buf[4] = (uint8_t)(xid >> 24), buf[5] = (uint8_t)(xid >> 16), buf[6] = (uint8_t)(xid >> 8), buf[7] = (uint8_t)xid;
    struct in_addr y = ip(yiaddr);
    memcpy(buf + 16, &y.s_addr, 4);
    memcpy(buf + 28, MAC, 6);
    buf[236] = 99, buf[237] = 130, buf[238] = 83, buf[239] = 99;
    memcpy(buf + 240, opts, olen);
    return 240 + olen;
}

/* An ACK (or OFFER) of 10.0.0.5/24 from 10.0.0.1, lease 600 s. */
static const uint8_t ack_opts[] = {
    53, 1, DHCP_ACK, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 2, 88, 1, 4, 255, 255, 255, 0,
    3, 8, 10, 0, 0, 1, 10, 0, 0, 254, 6, 8, 9, 9, 9, 9, 8, 8, 8, 8, 42, 4, 10, 0, 0, 123,
    15, 8, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 26, 2, 0x05, 0xdc, 255,
};

TEST(build_discover)
{
    struct dhcp_send s = { .type = DHCP_DISCOVER, .xid = 0x11223344, .secs = 3, .hostname = "appliance" };
    memcpy(s.mac, MAC, 6);
    uint8_t buf[DHCP_MSG_MAX];
    size_t n = dhcp_build(&s, buf);
    CHECK(n >= 300 && n <= DHCP_MSG_MAX);
    CHECK_INT(buf[0], 1);
    CHECK_INT(buf[4], 0x11);
    CHECK_INT(buf[7], 0x44);
    CHECK_INT(buf[9], 3);
    CHECK(memcmp(buf + 28, MAC, 6) == 0);
    CHECK(buf[240] == 53 && buf[241] == 1 && buf[242] == DHCP_DISCOVER);
    /* Client id (61 = 1 + MAC), host name and the request list are present. */
    const uint8_t cid[] = { 61, 7, 1, 0x02, 0, 0, 0, 0, 0x01 };
    CHECK(memmem(buf + 240, n - 240, cid, sizeof cid) != NULL);
    CHECK(memmem(buf + 240, n - 240, "\x0c\x09" "appliance", 11) != NULL);
    CHECK(memmem(buf + 240, n - 240, "\x37\x0b\x01\x03\x06\x0f\x1a\x2a\x33\x36\x3a\x3b\x79", 13) != NULL);
    /* No requested address or server id in a DISCOVER. */
    CHECK(memmem(buf + 240, n - 240, "\x32\x04", 2) == NULL);
}

TEST(build_request_and_release)
{
    struct dhcp_send s = { .type = DHCP_REQUEST, .xid = 7, .requested = ip("10.0.0.5"), .server = ip("10.0.0.1") };
    memcpy(s.mac, MAC, 6);
    uint8_t buf[DHCP_MSG_MAX];
    size_t n = dhcp_build(&s, buf);
    CHECK(memmem(buf + 240, n - 240, "\x32\x04\x0a\x00\x00\x05", 6) != NULL);
    CHECK(memmem(buf + 240, n - 240, "\x36\x04\x0a\x00\x00\x01", 6) != NULL);
    struct dhcp_send r = { .type = DHCP_RELEASE, .xid = 8, .ciaddr = ip("10.0.0.5"), .server = ip("10.0.0.1"),
                           .hostname = "h" };
    memcpy(r.mac, MAC, 6);
    n = dhcp_build(&r, buf);
    CHECK(memcmp(buf + 12, "\x0a\x00\x00\x05", 4) == 0);
    CHECK(memmem(buf + 240, n - 240, "\x37", 1) == NULL || memmem(buf + 240, n - 240, "\x37\x0b", 2) == NULL);
    CHECK(memmem(buf + 240, n - 240, "\x0c\x01h", 3) == NULL);
}

TEST(round_trip)
{
    /* What keel builds, read back by keel's own parser (as a reply): every
     * message type, with and without host name, parses to the same fields. */
    static const uint8_t types[] = { DHCP_DISCOVER, DHCP_REQUEST, DHCP_RELEASE };
    for (size_t i = 0; i < ARRAY_LEN(types); i++)
        for (int h = 0; h < 2; h++) {
            struct dhcp_send s = { .type = types[i], .xid = 0xdead0000u + (uint32_t)i, .secs = 9,
                                   .ciaddr = ip("10.0.0.5"), .server = ip("10.0.0.1"),
                                   .hostname = h ? "a-very-long-host-name-that-is-longer-than-sixty-three-bytes-in-all-x" : NULL };
            memcpy(s.mac, MAC, 6);
            uint8_t buf[DHCP_MSG_MAX];
            size_t n = dhcp_build(&s, buf);
            CHECK(n >= 300 && n <= DHCP_MSG_MAX);
            buf[0] = 2;
            struct dhcp_msg m;
            CHECK_INT(dhcp_parse(buf, n, &m), 0);
            CHECK_INT(m.type, types[i]);
            CHECK_INT(m.xid, s.xid);
            CHECK(memcmp(m.chaddr, MAC, 6) == 0);
            CHECK(m.lease.server.s_addr == ip("10.0.0.1").s_addr);
            if (h && types[i] != DHCP_RELEASE)
                CHECK(memmem(buf + 240, n - 240, "\x0c\x3f" "a-very-long", 13) != NULL);   /* cut to 63 */
        }
}

TEST(parse_ack)
{
    uint8_t buf[DHCP_MSG_MAX];
    size_t n = reply(buf, 0xabcdef01, "10.0.0.5", ack_opts, sizeof ack_opts);
    struct dhcp_msg m;
    CHECK_INT(dhcp_parse(buf, n, &m), 0);
    CHECK_INT(m.type, DHCP_ACK);
    CHECK_INT(m.xid, 0xabcdef01);
    CHECK(m.lease.addr.s_addr == ip("10.0.0.5").s_addr);
    CHECK_INT(m.lease.prefix, 24);
    CHECK(m.lease.server.s_addr == ip("10.0.0.1").s_addr);
    CHECK(m.lease.router.s_addr == ip("10.0.0.1").s_addr);
    CHECK_INT(m.lease.n_dns, 2);
    CHECK(m.lease.dns[1].s_addr == ip("8.8.8.8").s_addr);
    CHECK_INT(m.lease.n_ntp, 1);
    CHECK_STR(m.lease.domain, "example");
    CHECK_INT(m.lease.mtu, 1500);
    CHECK_INT(m.lease.lease_s, 600);
    CHECK_INT(m.lease.t1_s, 300);
    CHECK_INT(m.lease.t2_s, 525);
    CHECK(!m.lease.has_routes);
}

TEST(parse_t1_t2_options)
{
    uint8_t o[] = { 53, 1, DHCP_ACK, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 0, 120, 58, 4, 0, 0, 0, 3, 59, 4, 0, 0, 0, 6, 255 };
    uint8_t buf[DHCP_MSG_MAX];
    struct dhcp_msg m;
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", o, sizeof o), &m), 0);
    CHECK_INT(m.lease.t1_s, 3);
    CHECK_INT(m.lease.t2_s, 6);
    CHECK_INT(m.lease.prefix, 8);   /* no mask: the class's */
    /* T2 beyond the lease and T1 beyond T2 fall back to 7/8 and 1/2. */
    o[20] = 0, o[26] = 200, o[23] = 0;
    o[17] = 0, o[18] = 0, o[19] = 0, o[20] = 250;
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", o, sizeof o), &m), 0);
    CHECK_INT(m.lease.t2_s, 105);
    CHECK_INT(m.lease.t1_s, 60);
}

TEST(routes_121)
{
    /* RFC 3442's examples: 0/0 via 10.0.0.1, 10/8 via 10.0.0.6, 10.17.0.0/16, 10.27.129.0/24, 10.229.0.128/25,
     * and 192.168.1.0/24 on the link (router 0.0.0.0). */
    const uint8_t p[] = { 0, 10, 0, 0, 1,   8, 10, 10, 0, 0, 6,   16, 10, 17, 10, 0, 0, 7,
                          24, 10, 27, 129, 10, 0, 0, 8,   25, 10, 229, 0, 128, 10, 0, 0, 9,
                          24, 192, 168, 1, 0, 0, 0, 0 };
    struct dhcp_route r[DHCP_MAX_ROUTES];
    CHECK_INT(dhcp_parse_routes(p, sizeof p, r, DHCP_MAX_ROUTES), 6);
    CHECK(r[0].dst.s_addr == 0 && r[0].prefix == 0 && r[0].gw.s_addr == ip("10.0.0.1").s_addr);
    CHECK(r[1].dst.s_addr == ip("10.0.0.0").s_addr && r[1].prefix == 8);
    CHECK(r[2].dst.s_addr == ip("10.17.0.0").s_addr && r[2].prefix == 16);
    CHECK(r[3].dst.s_addr == ip("10.27.129.0").s_addr && r[3].prefix == 24);
    CHECK(r[4].dst.s_addr == ip("10.229.0.128").s_addr && r[4].prefix == 25 && r[4].gw.s_addr == ip("10.0.0.9").s_addr);
    CHECK(r[5].gw.s_addr == 0);
    /* Only the first `max` are kept. */
    CHECK_INT(dhcp_parse_routes(p, sizeof p, r, 2), 2);
    /* Truncated, a prefix above 32, bits beyond the prefix: refused. */
    CHECK_INT(dhcp_parse_routes(p, sizeof p - 1, r, DHCP_MAX_ROUTES), -EINVAL);
    const uint8_t wide[] = { 33, 10, 0, 0, 0, 0, 10, 0, 0, 1 };
    CHECK_INT(dhcp_parse_routes(wide, sizeof wide, r, DHCP_MAX_ROUTES), -EINVAL);
    const uint8_t bits[] = { 7, 11, 10, 0, 0, 1 };   /* 11 = 0000101|1: a bit beyond /7 */
    CHECK_INT(dhcp_parse_routes(bits, sizeof bits, r, DHCP_MAX_ROUTES), -EINVAL);
    /* In a message: 121 is kept and flagged (it overrides option 3). */
    uint8_t o[64] = { 53, 1, DHCP_ACK, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 2, 88, 3, 4, 10, 0, 0, 1, 121, 11 };
    memcpy(o + 23, p, 11);
    o[34] = 255;
    uint8_t buf[DHCP_MSG_MAX];
    struct dhcp_msg m;
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", o, 35), &m), 0);
    CHECK(m.lease.has_routes);
    CHECK_INT(m.lease.n_routes, 2);
    /* A bad 121 refuses the whole message. */
    o[23] = 40;
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", o, 35), &m), -EINVAL);
}

TEST(malformed_rejected)
{
    uint8_t buf[DHCP_MSG_MAX + 64];
    struct dhcp_msg m;
    size_t n = reply(buf, 1, "10.0.0.5", ack_opts, sizeof ack_opts);
    /* Each truncation of the options is refused (the end option is required). */
    for (size_t cut = 240; cut < n; cut++)
        CHECK_INT(dhcp_parse(buf, cut, &m), -EINVAL);
    /* An option length running past the end. */
    uint8_t over[] = { 53, 1, DHCP_ACK, 6, 200, 1, 2, 3, 4 };
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", over, sizeof over), &m), -EINVAL);
    /* Wrong lengths for fixed-size options. */
    uint8_t badlen[] = { 53, 2, DHCP_ACK, 0, 255 };
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", badlen, sizeof badlen), &m), -EINVAL);
    uint8_t badmask[] = { 53, 1, DHCP_ACK, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 2, 88, 1, 4, 255, 0, 255, 0, 255 };
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", badmask, sizeof badmask), &m), -EINVAL);
    uint8_t dns5[] = { 53, 1, DHCP_ACK, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 2, 88, 6, 5, 1, 2, 3, 4, 5, 255 };
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", dns5, sizeof dns5), &m), -EINVAL);
    /* An ACK without lease time or server id, or with an unusable address. */
    uint8_t nolease[] = { 53, 1, DHCP_ACK, 54, 4, 10, 0, 0, 1, 255 };
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", nolease, sizeof nolease), &m), -EINVAL);
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "127.0.0.1", ack_opts, sizeof ack_opts), &m), -EINVAL);
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "255.255.255.255", ack_opts, sizeof ack_opts), &m), -EINVAL);
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "0.0.0.0", ack_opts, sizeof ack_opts), &m), -EINVAL);
    /* Oversized message, a request (op 1), a bad cookie. */
    n = reply(buf, 1, "10.0.0.5", ack_opts, sizeof ack_opts);
    CHECK_INT(dhcp_parse(buf, DHCP_MSG_MAX + 1, &m), -EINVAL);
    buf[0] = 1;
    CHECK_INT(dhcp_parse(buf, n, &m), -EINVAL);
    buf[0] = 2, buf[236] = 0;
    CHECK_INT(dhcp_parse(buf, n, &m), -EINVAL);
    /* A domain that would add a line to resolv.conf is dropped, the rest kept. */
    uint8_t evil[] = { 53, 1, DHCP_ACK, 54, 4, 10, 0, 0, 1, 51, 4, 0, 0, 2, 88, 15, 7, 'a', '\n', 'n', 's', ' ', '1', '2', 255 };
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "10.0.0.5", evil, sizeof evil), &m), 0);
    CHECK_STR(m.lease.domain, "");
    /* A NAK needs no address. */
    uint8_t nak[] = { 53, 1, DHCP_NAK, 255 };
    CHECK_INT(dhcp_parse(buf, reply(buf, 1, "0.0.0.0", nak, sizeof nak), &m), 0);
    CHECK_INT(m.type, DHCP_NAK);
}

TEST(frame_round_trip)
{
    uint8_t payload[DHCP_MSG_MAX], frame[DHCP_FRAME_MAX];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t n = dhcp_frame(payload, 300, frame);
    CHECK_INT(n, 328);
    /* Our own frame goes 68 -> 67: swap the ports to read it as a reply. */
    uint8_t t = frame[20];
    frame[20] = frame[22], frame[22] = t;
    t = frame[21];
    frame[21] = frame[23], frame[23] = t;
    const uint8_t *p;
    size_t plen;
    CHECK_INT(dhcp_unframe(frame, n, true, &p, &plen), 0);
    CHECK_INT(plen, 300);
    CHECK(p == frame + 28 && memcmp(p, payload, 300) == 0);
    /* A flipped payload byte breaks the UDP checksum; a fragment, a short frame are refused. */
    frame[100] ^= 1;
    CHECK_INT(dhcp_unframe(frame, n, true, &p, &plen), -EINVAL);
    /* ... unless the kernel says the checksum is not computed yet (a veth's partial checksum). */
    CHECK_INT(dhcp_unframe(frame, n, false, &p, &plen), 0);
    frame[100] ^= 1;
    CHECK_INT(dhcp_unframe(frame, 27, true, &p, &plen), -EINVAL);
    CHECK_INT(dhcp_unframe(frame, n - 1, true, &p, &plen), -EINVAL);
    frame[6] |= 0x20;
    CHECK_INT(dhcp_unframe(frame, n, true, &p, &plen), -EINVAL);
}

TEST(backoff)
{
    CHECK(dhcp_backoff_ms(0, 0) == 3000 && dhcp_backoff_ms(0, 2000) == 5000);
    CHECK(dhcp_backoff_ms(1, 1000) == 8000);
    CHECK(dhcp_backoff_ms(3, 1000) == 32000);
    CHECK(dhcp_backoff_ms(4, 1000) == 64000 && dhcp_backoff_ms(30, 1000) == 64000);
}

static struct dhcp_msg msg_of(uint8_t type, uint32_t xid, const char *addr, uint32_t lease, uint32_t t1, uint32_t t2)
{
    struct dhcp_msg m = { .type = type, .xid = xid };
    memcpy(m.chaddr, MAC, 6);
    m.lease.addr = ip(addr);
    m.lease.prefix = 24;
    m.lease.server = ip("10.0.0.1");
    m.lease.lease_s = lease, m.lease.t1_s = t1, m.lease.t2_s = t2;
    return m;
}

static void step(struct dhcp_machine *m, enum dhcp_event ev, uint64_t now, uint32_t rnd, const struct dhcp_msg *msg,
                 struct dhcp_step *out)
{
    struct dhcp_input in = { .ev = ev, .now_ms = now, .rand = rnd, .msg = msg };
    dhcp_step(m, &in, MAC, "h", out);
}

TEST(machine_lease_cycle)
{
    struct dhcp_machine m;
    struct dhcp_step s;
    dhcp_machine_init(&m);
    step(&m, DHCP_EV_START, 1000, 0x1234, NULL, &s);
    CHECK_INT(m.state, DHCP_S_SELECTING);
    CHECK_INT(s.send.type, DHCP_DISCOVER);
    CHECK_INT(s.send.xid, 0x1234);
    CHECK(s.timer_at_ms >= 4000 && s.timer_at_ms <= 6000);
    /* No offer: retransmit with a longer wait. */
    step(&m, DHCP_EV_TIMER, 5000, 1000, NULL, &s);
    CHECK_INT(s.send.type, DHCP_DISCOVER);
    CHECK_INT(s.send.xid, 0x1234);
    CHECK_INT(s.send.secs, 4);
    CHECK_INT(s.timer_at_ms, 13000);
    /* An offer with another xid or MAC is ignored; ours is requested. */
    struct dhcp_msg offer = msg_of(DHCP_OFFER, 0x9999, "10.0.0.5", 100, 50, 80);
    step(&m, DHCP_EV_MSG, 6000, 0, &offer, &s);
    CHECK(m.state == DHCP_S_SELECTING && s.send.type == 0 && s.timer_at_ms == 0);
    offer.xid = 0x1234;
    offer.chaddr[5] = 9;
    step(&m, DHCP_EV_MSG, 6000, 0, &offer, &s);
    CHECK(m.state == DHCP_S_SELECTING && s.send.type == 0);
    offer.chaddr[5] = MAC[5];
    step(&m, DHCP_EV_MSG, 6000, 0, &offer, &s);
    CHECK_INT(m.state, DHCP_S_REQUESTING);
    CHECK_INT(s.send.type, DHCP_REQUEST);
    CHECK(s.send.requested.s_addr == ip("10.0.0.5").s_addr && s.send.server.s_addr == ip("10.0.0.1").s_addr);
    CHECK(!s.unicast && !s.broadcast_udp);
    /* An ACK from another server is not for us; the right one binds. */
    struct dhcp_msg ack = msg_of(DHCP_ACK, 0x1234, "10.0.0.5", 100, 50, 80);
    ack.lease.server = ip("10.0.0.2");
    step(&m, DHCP_EV_MSG, 6500, 0, &ack, &s);
    CHECK(m.state == DHCP_S_REQUESTING && !s.bound);
    ack.lease.server = ip("10.0.0.1");
    step(&m, DHCP_EV_MSG, 6500, 0, &ack, &s);
    CHECK_INT(m.state, DHCP_S_BOUND);
    CHECK(s.bound && !s.lost && m.has_lease);
    CHECK_INT(s.timer_at_ms, 6000 + 50000);   /* T1 counts from the REQUEST */
    /* A duplicate ACK in BOUND changes nothing. */
    step(&m, DHCP_EV_MSG, 6600, 0, &ack, &s);
    CHECK(!s.bound && s.timer_at_ms == 0);
    /* T1: renew, unicast, new xid, ciaddr set, no server id. */
    step(&m, DHCP_EV_TIMER, 56000, 0x5555, NULL, &s);
    CHECK_INT(m.state, DHCP_S_RENEWING);
    CHECK(s.send.type == DHCP_REQUEST && s.unicast && s.send.xid == 0x5555);
    CHECK(s.send.ciaddr.s_addr == ip("10.0.0.5").s_addr && s.send.requested.s_addr == 0 && s.send.server.s_addr == 0);
    CHECK_INT(s.timer_at_ms, 56000 + 30000);   /* T2 is 30 s away: capped there */
    /* The renewal's ACK binds again, times from the renewal's REQUEST. */
    ack.xid = 0x5555;
    step(&m, DHCP_EV_MSG, 57000, 0, &ack, &s);
    CHECK(m.state == DHCP_S_BOUND && s.bound && !s.lost);
    CHECK_INT(s.timer_at_ms, 56000 + 50000);
    /* No answer: T2 rebinds (broadcast from the address), expiry loses it. */
    step(&m, DHCP_EV_TIMER, 106000, 0x6666, NULL, &s);
    CHECK_INT(m.state, DHCP_S_RENEWING);
    step(&m, DHCP_EV_TIMER, 136000, 0x6666, NULL, &s);
    CHECK_INT(m.state, DHCP_S_REBINDING);
    CHECK(s.send.type == DHCP_REQUEST && s.broadcast_udp && !s.unicast);
    CHECK_INT(s.timer_at_ms, 156000);   /* expiry at 56 + 100 s */
    step(&m, DHCP_EV_TIMER, 156000, 7, NULL, &s);
    CHECK_INT(m.state, DHCP_S_INIT);
    CHECK(s.lost && s.old.addr.s_addr == ip("10.0.0.5").s_addr && !m.has_lease && s.send.type == 0);
    CHECK(s.timer_at_ms > 156000 && s.timer_at_ms <= 159000);
    step(&m, DHCP_EV_TIMER, s.timer_at_ms, 8, NULL, &s);
    CHECK(m.state == DHCP_S_SELECTING && s.send.type == DHCP_DISCOVER);
}

static void bind_at(struct dhcp_machine *m, const char *addr)
{
    struct dhcp_step s;
    dhcp_machine_init(m);
    step(m, DHCP_EV_START, 0, 1, NULL, &s);
    struct dhcp_msg o = msg_of(DHCP_OFFER, 1, addr, 100, 50, 80);
    step(m, DHCP_EV_MSG, 10, 0, &o, &s);
    o.type = DHCP_ACK;
    step(m, DHCP_EV_MSG, 20, 0, &o, &s);
}

TEST(machine_nak_change_release)
{
    struct dhcp_machine m;
    struct dhcp_step s;
    /* NAK while requesting: back to INIT after a pause, nothing to remove. */
    dhcp_machine_init(&m);
    step(&m, DHCP_EV_START, 0, 1, NULL, &s);
    struct dhcp_msg o = msg_of(DHCP_OFFER, 1, "10.0.0.5", 100, 50, 80);
    step(&m, DHCP_EV_MSG, 10, 0, &o, &s);
    struct dhcp_msg nak = { .type = DHCP_NAK, .xid = 1 };
    memcpy(nak.chaddr, MAC, 6);
    step(&m, DHCP_EV_MSG, 20, 0, &nak, &s);
    CHECK(m.state == DHCP_S_INIT && !s.lost && s.send.type == 0 && s.timer_at_ms >= 1020);
    /* REQUESTING gives up after four tries and discovers again. */
    bind_at(&m, "10.0.0.5");
    CHECK_INT(m.state, DHCP_S_BOUND);
    dhcp_machine_init(&m);
    step(&m, DHCP_EV_START, 0, 1, NULL, &s);
    step(&m, DHCP_EV_MSG, 10, 0, &o, &s);
    for (int i = 0; i < 3; i++) {
        step(&m, DHCP_EV_TIMER, 1000 * (uint64_t)(i + 1), 0, NULL, &s);
        CHECK(m.state == DHCP_S_REQUESTING && s.send.type == DHCP_REQUEST);
    }
    step(&m, DHCP_EV_TIMER, 5000, 42, NULL, &s);
    CHECK(m.state == DHCP_S_SELECTING && s.send.type == DHCP_DISCOVER && s.send.xid == 42);
    /* NAK while renewing: the lease is lost. */
    bind_at(&m, "10.0.0.5");
    step(&m, DHCP_EV_TIMER, 50010, 9, NULL, &s);
    nak.xid = 9;
    step(&m, DHCP_EV_MSG, 50020, 0, &nak, &s);
    CHECK(m.state == DHCP_S_INIT && s.lost && s.old.addr.s_addr == ip("10.0.0.5").s_addr);
    /* A renewal that gives another address: the old one is removed, the new bound. */
    bind_at(&m, "10.0.0.5");
    step(&m, DHCP_EV_TIMER, 50010, 9, NULL, &s);
    struct dhcp_msg other = msg_of(DHCP_ACK, 9, "10.0.0.6", 100, 50, 80);
    step(&m, DHCP_EV_MSG, 50020, 0, &other, &s);
    CHECK(m.state == DHCP_S_BOUND && s.lost && s.bound && s.old.addr.s_addr == ip("10.0.0.5").s_addr &&
          m.lease.addr.s_addr == ip("10.0.0.6").s_addr);
    /* Stop while bound: RELEASE unicast to the server with ciaddr, lease removed. */
    step(&m, DHCP_EV_STOP, 60000, 77, NULL, &s);
    CHECK(m.state == DHCP_S_STOPPED && s.send.type == DHCP_RELEASE && s.unicast && s.lost);
    CHECK(s.send.ciaddr.s_addr == ip("10.0.0.6").s_addr && s.send.server.s_addr == ip("10.0.0.1").s_addr);
    step(&m, DHCP_EV_TIMER, 70000, 0, NULL, &s);
    CHECK(s.send.type == 0 && s.timer_at_ms == 0);
    /* Stop without a lease: nothing to send. */
    dhcp_machine_init(&m);
    step(&m, DHCP_EV_START, 0, 1, NULL, &s);
    step(&m, DHCP_EV_STOP, 10, 2, NULL, &s);
    CHECK(m.state == DHCP_S_STOPPED && s.send.type == 0 && !s.lost);
    /* An infinite lease arms no renewal. */
    dhcp_machine_init(&m);
    step(&m, DHCP_EV_START, 0, 1, NULL, &s);
    struct dhcp_msg inf = msg_of(DHCP_OFFER, 1, "10.0.0.5", DHCP_INFINITE, DHCP_INFINITE, DHCP_INFINITE);
    step(&m, DHCP_EV_MSG, 10, 0, &inf, &s);
    inf.type = DHCP_ACK;
    step(&m, DHCP_EV_MSG, 20, 0, &inf, &s);
    CHECK(m.state == DHCP_S_BOUND && s.bound && s.timer_at_ms == 0);
}

TEST(lease_routes_filtered)
{
    struct dhcp_lease l = { .router = ip("10.0.0.1") };
    struct dhcp_route out[DHCP_MAX_ROUTES];
    size_t dropped;
    /* No option 121: the default route via option 3. */
    CHECK_INT(dhcp_lease_routes(&l, NULL, 0, out, &dropped), 1);
    CHECK(out[0].dst.s_addr == 0 && out[0].prefix == 0 && out[0].gw.s_addr == ip("10.0.0.1").s_addr && dropped == 0);
    /* Option 121 replaces it; on-link routes first; what a server must not set is dropped. */
    struct dhcp_route r[] = {
        { ip("0.0.0.0"), 0, ip("10.0.0.2") },        /* kept: the default */
        { ip("10.88.0.0"), 16, ip("10.0.0.2") },     /* kept */
        { ip("192.168.1.0"), 24, ip("0.0.0.0") },    /* kept, first: on the link */
        { ip("127.0.0.0"), 8, ip("10.0.0.2") },      /* loopback */
        { ip("224.0.0.0"), 4, ip("10.0.0.2") },      /* multicast */
        { ip("10.99.0.0"), 16, ip("127.0.0.1") },    /* a loopback gateway */
        { ip("172.30.0.0"), 25, ip("10.0.0.2") },    /* inside keel0 */
        { ip("172.30.0.0"), 24, ip("10.0.0.2") },    /* keel0 itself */
        { ip("172.16.0.0"), 12, ip("10.0.0.2") },    /* kept: wider than keel0, which stays more specific */
    };
    l.has_routes = true;
    l.n_routes = ARRAY_LEN(r);
    memcpy(l.routes, r, sizeof r);
    struct dhcp_route keel0 = { ip("172.30.0.0"), 24, { 0 } };
    size_t n = dhcp_lease_routes(&l, &keel0, 1, out, &dropped);
    CHECK_INT(n, 4);
    CHECK_INT(dropped, 5);
    CHECK(out[0].dst.s_addr == ip("192.168.1.0").s_addr && out[0].gw.s_addr == 0);
    CHECK(out[1].prefix == 0 && out[2].dst.s_addr == ip("10.88.0.0").s_addr && out[3].prefix == 12);
    /* An empty option 121 means no routes at all, not option 3's. */
    l.n_routes = 0;
    CHECK_INT(dhcp_lease_routes(&l, NULL, 0, out, &dropped), 0);
    CHECK(dhcp_prefixes_overlap(ip("172.30.0.5"), 24, ip("172.30.0.0"), 24));
    CHECK(!dhcp_prefixes_overlap(ip("172.31.0.5"), 24, ip("172.30.0.0"), 24));
    CHECK(dhcp_prefixes_overlap(ip("10.0.0.5"), 8, ip("10.200.0.0"), 16));
}

TEST(renew_floor)
{
    /* T1 = 0 from a hostile server: the renewal still waits a second. */
    struct dhcp_machine m;
    struct dhcp_step s;
    dhcp_machine_init(&m);
    step(&m, DHCP_EV_START, 0, 1, NULL, &s);
    struct dhcp_msg o = msg_of(DHCP_OFFER, 1, "10.0.0.5", 1, 0, 0);
    step(&m, DHCP_EV_MSG, 10, 0, &o, &s);
    o.type = DHCP_ACK;
    step(&m, DHCP_EV_MSG, 5000, 0, &o, &s);
    CHECK(s.bound && s.timer_at_ms == 6000);
}

int main(void)
{
    RUN(build_discover);
    RUN(build_request_and_release);
    RUN(round_trip);
    RUN(parse_ack);
    RUN(parse_t1_t2_options);
    RUN(routes_121);
    RUN(malformed_rejected);
    RUN(frame_round_trip);
    RUN(backoff);
    RUN(machine_lease_cycle);
    RUN(machine_nak_change_release);
    RUN(lease_routes_filtered);
    RUN(renew_floor);
    return unit_done();
}
