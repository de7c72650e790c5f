/* rdnss.c — DNS servers from IPv6 router advertisements (see rdnss.h). */
#include "keel/rdnss.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keel/nlbuf.h"
#include "keel/util.h"

#define ND_OPT_RDNSS 25        /* RFC 8106 */
#define ICMP6_ROUTER_ADVERT 134

static int find(const struct rdnss *t, const struct in6_addr *a, int ifindex)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i].ifindex == ifindex && memcmp(&t->s[i].addr, a, sizeof *a) == 0)
            return (int)i;
    return -1;
}

static void drop(struct rdnss *t, size_t i)
{
    memmove(&t->s[i], &t->s[i + 1], (t->n - i - 1) * sizeof t->s[0]);
    t->n--;
}

/* One RDNSS option (its bytes, `len` of them): 1 when the set changed. */
static int apply_option(struct rdnss *t, const uint8_t *o, size_t len, int ifindex, uint64_t now_ms)
{
    /* type, length (8-octet units), reserved (2), lifetime (4), addresses. */
    if (len < 8 || (len - 8) % 16 != 0)
        return -EINVAL;
    uint32_t life_be;
    memcpy(&life_be, o + 4, 4);
    uint32_t life = ntohl(life_be);
    uint64_t expires = life == 0xffffffffu ? UINT64_MAX : now_ms + (uint64_t)life * 1000;
    int changed = 0;
    for (size_t off = 8; off + 16 <= len; off += 16) {
        struct in6_addr a;
        memcpy(&a, o + off, 16);
        /* Not a server anyone can use: ignore (RFC 8106 names no such case;
         * a hostile router could try ::1 or multicast). */
        if (IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_MULTICAST(&a) ||
            IN6_IS_ADDR_V4MAPPED(&a))
            continue;
        int i = find(t, &a, ifindex);
        if (life == 0) {
            if (i >= 0) {
                drop(t, (size_t)i);
                changed = 1;
            }
            continue;
        }
        if (i >= 0) {
            t->s[i].expires_ms = expires;
            continue;
        }
        if (t->n == RDNSS_MAX)
            continue;   /* full: the earlier ones keep their places */
        t->s[t->n++] = (struct rdnss_server){ .addr = a, .ifindex = ifindex, .expires_ms = expires };
        changed = 1;
    }
    return changed;
}

int rdnss_apply(struct rdnss *t, const void *msg, size_t len, uint64_t now_ms)
{
    const struct nlmsghdr *h = msg;
    if (len < NLMSG_HDRLEN || h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len)
        return -EINVAL;
    if (h->nlmsg_type != RTM_NEWNDUSEROPT)
        return 0;
    size_t body = h->nlmsg_len - NLMSG_HDRLEN;
    if (body < sizeof(struct nduseroptmsg))
        return -EINVAL;
    const struct nduseroptmsg *u = NLMSG_DATA(h);
    if (u->nduseropt_family != AF_INET6 || u->nduseropt_icmp_type != ICMP6_ROUTER_ADVERT)
        return 0;
    if (u->nduseropt_opts_len > body - sizeof *u)
        return -EINVAL;
    const uint8_t *opts = (const uint8_t *)(u + 1);
    size_t n = u->nduseropt_opts_len;
    /* Validate every option before applying any. */
    for (size_t off = 0; off < n;) {
        if (n - off < 2 || opts[off + 1] == 0 || (size_t)opts[off + 1] * 8 > n - off)
            return -EINVAL;
        if (opts[off] == ND_OPT_RDNSS && (opts[off + 1] < 3 || (opts[off + 1] - 1) % 2 != 0))
            return -EINVAL;   /* at least one address, and whole ones */
        off += (size_t)opts[off + 1] * 8;
    }
    int changed = 0;
    for (size_t off = 0; off < n; off += (size_t)opts[off + 1] * 8) {
        if (opts[off] != ND_OPT_RDNSS)
            continue;
        int r = apply_option(t, opts + off, (size_t)opts[off + 1] * 8, u->nduseropt_ifindex, now_ms);
        if (r < 0)
            return r;
        changed |= r;
    }
    return changed;
}

bool rdnss_apply_datagram(struct rdnss *t, const void *buf, size_t len, uint64_t now_ms)
{
    bool changed = false;
    int left = len > INT_MAX ? INT_MAX : (int)len;
    for (const struct nlmsghdr *h = buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left))
        if (rdnss_apply(t, h, h->nlmsg_len, now_ms) > 0)
            changed = true;
    return changed;
}

bool rdnss_expire(struct rdnss *t, uint64_t now_ms)
{
    bool changed = false;
    for (size_t i = 0; i < t->n;) {
        if (t->s[i].expires_ms <= now_ms) {
            drop(t, i);
            changed = true;
        } else {
            i++;
        }
    }
    return changed;
}

uint64_t rdnss_next_expiry(const struct rdnss *t)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i].expires_ms < next)
            next = t->s[i].expires_ms;
    return next;
}

char **rdnss_servers(const struct rdnss *t)
{
    char **v = calloc(t->n + 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        char a[INET6_ADDRSTRLEN], ifn[IF_NAMESIZE] = "";
        inet_ntop(AF_INET6, &t->s[i].addr, a, sizeof a);
        bool ll = IN6_IS_ADDR_LINKLOCAL(&t->s[i].addr);
        if (ll && !if_indextoname((unsigned)t->s[i].ifindex, ifn))
            snprintf(ifn, sizeof ifn, "%d", t->s[i].ifindex);
        v[i] = ll ? xasprintf("%s%%%s", a, ifn) : strdup(a);
        if (!v[i]) {
            strv_free(v);
            return NULL;
        }
    }
    return v;
}

int rdnss_open(struct kerr *err)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open netlink socket for router advertisements");
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    int group = RTNLGRP_ND_USEROPT;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
        int e = errno;
        close(fd);
        return kerr_set(err, e, "cannot subscribe to router advertisement options");
    }
    return fd;
}

int rdnss_read(int fd, struct rdnss *t, uint64_t now_ms, bool *changed, struct kerr *err)
{
    *changed = false;
    uint8_t buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    /* Bounded: a flood of advertisements cannot hold the loop here. */
    for (int round = 0; round < 64; round++) {
        struct sockaddr_nl from = { 0 };
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
                return 0;
            return kerr_set(err, errno, "cannot read router advertisement options");
        }
        if (fl != sizeof from || from.nl_pid != 0)
            continue;   /* only the kernel speaks on this group */
        if (rdnss_apply_datagram(t, buf, (size_t)n, now_ms))
            *changed = true;
    }
    return 0;
}
