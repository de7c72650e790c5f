/* test_rdnss.c — DNS servers from router advertisement options (RFC 8106)
 * as the kernel passes them in RTM_NEWNDUSEROPT messages. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keel/boot.h"
#include "keel/rdnss.h"
#include "keel/util.h"
#include "unit.h"

/* A message with one RDNSS option (lifetime, addresses) after a source
 * link-layer option of 8 bytes, as an advertisement carries them. */
static size_t ra_msg(uint8_t *buf, size_t cap, uint8_t icmp_type, int ifindex, uint32_t lifetime,
                     const char *const *addrs, size_t n)
{
    memset(buf, 0, cap);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    struct nduseroptmsg *u = NLMSG_DATA(h);
    uint8_t *o = (uint8_t *)(u + 1);
    o[0] = 1;                  /* source link-layer address */
    o[1] = 1;
    uint8_t *r = o + 8;
    r[0] = 25;
    r[1] = (uint8_t)(1 + 2 * n);
    uint32_t be = htonl(lifetime);
    memcpy(r + 4, &be, 4);
    for (size_t i = 0; i < n; i++)
        inet_pton(AF_INET6, addrs[i], r + 8 + 16 * i);
    u->nduseropt_family = AF_INET6;
    u->nduseropt_opts_len = (uint16_t)(8 + 8 * r[1]);
    u->nduseropt_ifindex = ifindex;
    u->nduseropt_icmp_type = icmp_type;
    h->nlmsg_type = RTM_NEWNDUSEROPT;
    h->nlmsg_len = (uint32_t)NLMSG_LENGTH(sizeof *u + u->nduseropt_opts_len);
    return h->nlmsg_len;
}

TEST(rdnss_table)
{
    uint8_t buf[512];
    struct rdnss t = { .n = 0 };
    const char *two[] = { "2001:db8::53", "2001:db8::54" };
    size_t len = ra_msg(buf, sizeof buf, 134, 2, 600, two, 2);
    CHECK_INT(rdnss_apply(&t, buf, len, 1000), 1);
    CHECK_INT((int)t.n, 2);
    CHECK(t.s[0].expires_ms == 1000 + 600000);
    /* The same again: refreshed, not changed. */
    CHECK_INT(rdnss_apply(&t, buf, len, 5000), 0);
    CHECK(t.s[1].expires_ms == 5000 + 600000);
    CHECK(rdnss_next_expiry(&t) == 605000);
    /* Lifetime 0 removes. */
    const char *one[] = { "2001:db8::53" };
    len = ra_msg(buf, sizeof buf, 134, 2, 0, one, 1);
    CHECK_INT(rdnss_apply(&t, buf, len, 6000), 1);
    CHECK_INT((int)t.n, 1);
    char **v = rdnss_servers(&t);
    CHECK(v && v[0] && strcmp(v[0], "2001:db8::54") == 0 && !v[1]);
    char *text = boot_resolv_conf_ra(NULL, v);
    CHECK(text && strstr(text, "nameserver 2001:db8::54\n") && strstr(text, "RDNSS"));
    free(text);
    strv_free(v);
    /* Expiry. */
    CHECK(!rdnss_expire(&t, 604999));
    CHECK(rdnss_expire(&t, 605000));
    CHECK_INT((int)t.n, 0);
    CHECK(rdnss_next_expiry(&t) == UINT64_MAX);
    /* Infinite lifetime; a link-local server names its interface (lo: 1). */
    const char *ll[] = { "fe80::1" };
    len = ra_msg(buf, sizeof buf, 134, 1, 0xffffffffu, ll, 1);
    CHECK_INT(rdnss_apply(&t, buf, len, 0), 1);
    CHECK(t.s[0].expires_ms == UINT64_MAX);
    v = rdnss_servers(&t);
    CHECK(v && v[0] && strcmp(v[0], "fe80::1%lo") == 0);
    strv_free(v);
    /* Unusable servers are ignored; the table is bounded. */
    t.n = 0;
    const char *junk[] = { "::1", "ff02::1", "::", "::ffff:127.0.0.1" };
    len = ra_msg(buf, sizeof buf, 134, 2, 600, junk, 4);
    CHECK_INT(rdnss_apply(&t, buf, len, 0), 0);
    CHECK_INT((int)t.n, 0);
    const char *many[] = { "2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5",
                           "2001:db8::6", "2001:db8::7", "2001:db8::8", "2001:db8::9", "2001:db8::a" };
    len = ra_msg(buf, sizeof buf, 134, 2, 600, many, 10);
    CHECK_INT(rdnss_apply(&t, buf, len, 0), 1);
    CHECK_INT((int)t.n, RDNSS_MAX);
}

TEST(rdnss_malformed)
{
    uint8_t buf[512];
    struct rdnss t = { .n = 0 };
    const char *one[] = { "2001:db8::53" };
    /* Not from a router advertisement, or not a user-option message: ignored. */
    size_t len = ra_msg(buf, sizeof buf, 133, 2, 600, one, 1);
    CHECK_INT(rdnss_apply(&t, buf, len, 0), 0);
    len = ra_msg(buf, sizeof buf, 134, 2, 600, one, 1);
    ((struct nlmsghdr *)buf)->nlmsg_type = RTM_NEWLINK;
    CHECK_INT(rdnss_apply(&t, buf, len, 0), 0);
    /* An option running past the options, a zero-length option, an
     * options length past the message, a short message: refused, nothing applied. */
    len = ra_msg(buf, sizeof buf, 134, 2, 600, one, 1);
    struct nduseroptmsg *u = NLMSG_DATA((struct nlmsghdr *)buf);
    uint8_t *o = (uint8_t *)(u + 1);
    o[9] = 40;
    CHECK_INT(rdnss_apply(&t, buf, len, 0), -EINVAL);
    o[9] = 3;
    o[1] = 0;
    CHECK_INT(rdnss_apply(&t, buf, len, 0), -EINVAL);
    o[1] = 1;
    u->nduseropt_opts_len = 400;
    CHECK_INT(rdnss_apply(&t, buf, len, 0), -EINVAL);
    CHECK_INT(rdnss_apply(&t, buf, 8, 0), -EINVAL);
    /* An RDNSS option whose length leaves half an address. */
    len = ra_msg(buf, sizeof buf, 134, 2, 600, one, 1);
    u = NLMSG_DATA((struct nlmsghdr *)buf);
    o = (uint8_t *)(u + 1);
    o[9] = 2;   /* 16 bytes: header + 8 bytes of address */
    u->nduseropt_opts_len = 8 + 16;
    CHECK_INT(rdnss_apply(&t, buf, len, 0), -EINVAL);
    CHECK_INT((int)t.n, 0);
}

/* One datagram, several messages (rdnss_read's unit): each is applied on
 * its own, a malformed one does not stop the next, a trailing fragment ends
 * the walk. */
TEST(rdnss_datagram)
{
    uint8_t dgram[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
    uint8_t m[256];
    struct rdnss t = { .n = 0 };
    const char *a[] = { "2001:db8::a" }, *b[] = { "2001:db8::b" };
    size_t off = 0, len;
    len = ra_msg(m, sizeof m, 134, 2, 600, a, 1);
    struct nduseroptmsg *u = NLMSG_DATA((struct nlmsghdr *)m);
    u->nduseropt_opts_len = 400;   /* malformed: options past the message */
    memcpy(dgram + off, m, len);
    off += NLMSG_ALIGN(len);
    len = ra_msg(m, sizeof m, 134, 2, 600, b, 1);
    memcpy(dgram + off, m, len);
    off += NLMSG_ALIGN(len);
    len = ra_msg(m, sizeof m, 134, 2, 600, a, 1);
    memcpy(dgram + off, m, len);
    off += NLMSG_ALIGN(len);
    CHECK(rdnss_apply_datagram(&t, dgram, off, 0));
    CHECK_INT((int)t.n, 2);
    char **v = rdnss_servers(&t);
    CHECK(v && v[0] && v[1] && strcmp(v[0], "2001:db8::b") == 0 && strcmp(v[1], "2001:db8::a") == 0);
    strv_free(v);
    /* Again: nothing new.  A message cut by the end of the datagram is not read. */
    CHECK(!rdnss_apply_datagram(&t, dgram, off, 0));
    t.n = 0;
    CHECK(!rdnss_apply_datagram(&t, dgram + off - NLMSG_ALIGN(len), len - 1, 0));
    CHECK(!rdnss_apply_datagram(&t, dgram, 0, 0));
    CHECK_INT((int)t.n, 0);
}

int main(void)
{
    RUN(rdnss_table);
    RUN(rdnss_malformed);
    RUN(rdnss_datagram);
    return unit_done();
}
