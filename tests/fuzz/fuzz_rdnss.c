/* fuzz_rdnss.c — what a router on the uplink's link sends keel in boot mode
 * with `address6 = auto`: the RDNSS options of its advertisements, handed on
 * by the kernel as RTM_NEWNDUSEROPT messages (rdnss.h).  One table lives
 * through a whole input, fed datagram after datagram as time passes, as the
 * daemon's does.
 *
 * fuzz-requires: src/rdnss.c
 *
 * Input: 8 bytes of the starting clock (ms), then records of
 *     STEP (1 byte: the clock moves 2^(STEP%40) ms, or not at all when 0xff)
 *     LEN (2 bytes, big-endian) and LEN bytes of one datagram
 * Each datagram is read both as one message (rdnss_apply) and as the socket
 * delivers it, messages back to back (rdnss_apply_datagram).
 *
 * Invariants beyond "no crash, no leak": the table never holds more than
 * RDNSS_MAX servers, never one twice (address and interface), never the
 * unspecified, loopback, multicast or v4-mapped address; a lifetime ends
 * after now and at most 2^32-2 s later, or never; a refused message
 * (-EINVAL) changes nothing; a change of the set of servers is reported;
 * rdnss_next_expiry is the earliest end; rdnss_expire leaves only servers
 * that outlive now and says whether it dropped any; rdnss_servers lists
 * each server once, its address readable back, "%IF" exactly on a
 * link-local one.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <errno.h>

#include "keel/rdnss.h"
#include "keel/util.h"

#define LIFE_MAX_MS (0xfffffffeULL * 1000)

static bool has(const struct rdnss *t, const struct rdnss_server *s)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i].ifindex == s->ifindex && memcmp(&t->s[i].addr, &s->addr, sizeof s->addr) == 0)
            return true;
    return false;
}

/* The same servers, whatever their order and lifetimes. */
static bool same_set(const struct rdnss *a, const struct rdnss *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!has(b, &a->s[i]))
            return false;
    return true;
}

static void check_table(const struct rdnss *t, uint64_t now)
{
    FUZZ_ASSERT(t->n <= RDNSS_MAX);
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < t->n; i++) {
        const struct in6_addr *a = &t->s[i].addr;
        FUZZ_ASSERT(!IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_MULTICAST(a) &&
                    !IN6_IS_ADDR_V4MAPPED(a));
        for (size_t j = i + 1; j < t->n; j++)
            FUZZ_ASSERT(t->s[i].ifindex != t->s[j].ifindex || memcmp(a, &t->s[j].addr, sizeof *a) != 0);
        uint64_t e = t->s[i].expires_ms;
        FUZZ_ASSERT(e == UINT64_MAX || (e > now && e <= now + LIFE_MAX_MS));
        if (e < next)
            next = e;
    }
    FUZZ_ASSERT(rdnss_next_expiry(t) == next);
}

static void check_servers(const struct rdnss *t)
{
    char **v = rdnss_servers(t);
    FUZZ_ASSERT(v != NULL);
    size_t n = 0;
    for (; v[n]; n++) {
        FUZZ_ASSERT(n < t->n);
        const struct in6_addr *want = &t->s[n].addr;
        char *pct = strchr(v[n], '%');
        FUZZ_ASSERT((pct != NULL) == IN6_IS_ADDR_LINKLOCAL(want));
        if (pct)
            *pct = '\0';
        struct in6_addr got;
        FUZZ_ASSERT(inet_pton(AF_INET6, v[n], &got) == 1 && memcmp(&got, want, sizeof got) == 0);
        FUZZ_ASSERT(!pct || (pct[1] != '\0' && !strchr(pct + 1, '\n') && !strchr(pct + 1, ' ')));
    }
    FUZZ_ASSERT(n == t->n);
    strv_free(v);
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* One datagram `d` (heap, exactly len bytes: aligned, and ASan sees an
 * over-read) at time `now`. */
static void feed(struct rdnss *t, const uint8_t *d, size_t len, uint64_t now)
{
    /* Whole, as one message. */
    struct rdnss before = *t, one = *t;
    int r = rdnss_apply(&one, d, len, now);
    FUZZ_ASSERT(r == 0 || r == 1 || r == -EINVAL);
    if (r == -EINVAL)
        FUZZ_ASSERT(one.n == before.n && memcmp(one.s, before.s, sizeof one.s) == 0);
    if (!same_set(&one, &before))
        FUZZ_ASSERT(r == 1);
    check_table(&one, now);
    /* As the socket delivers it. */
    bool changed = rdnss_apply_datagram(t, d, len, now);
    if (!same_set(t, &before))
        FUZZ_ASSERT(changed);
    check_table(t, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    /* Below 2^62 ms (146 million years of uptime): the clock cannot wrap. */
    uint64_t now = get_be(data, 8) & ((1ULL << 62) - 1);
    data += 8, size -= 8;
    struct rdnss t = { .n = 0 };
    while (size >= 3) {
        uint8_t step = data[0];
        size_t len = (size_t)get_be(data + 1, 2);
        data += 3, size -= 3;
        if (len > size)
            len = size;
        if (step != 0xff) {
            now += 1ULL << (step % 40);
            struct rdnss before = t;
            bool dropped = rdnss_expire(&t, now);
            FUZZ_ASSERT(dropped == (t.n < before.n));
            check_table(&t, now);
        }
        uint8_t *d = (uint8_t *)fuzz_exact(data, len);
        feed(&t, d, len, now);
        free(d);
        data += len, size -= len;
    }
    check_servers(&t);
    return 0;
}
