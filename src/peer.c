/* peer.c — peer keys, names and rate-limited refusal messages (peer.h). */
#include "keel/peer.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "keel/util.h"

bool peer_key_eq(const struct peer_key *a, const struct peer_key *b)
{
    return a->family == b->family && memcmp(a->a, b->a, sizeof a->a) == 0;
}

void peer_key_of(const struct sockaddr_storage *ss, struct peer_key *k)
{
    memset(k, 0, sizeof *k);
    k->family = ss->ss_family;
    if (ss->ss_family == AF_INET) {
        memcpy(k->a, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            k->family = AF_INET;
            memcpy(k->a, a6->s6_addr + 12, 4);
        } else {
            /* One host usually owns a whole /64: count them together. */
            memcpy(k->a, a6->s6_addr, 8);
        }
    } else if (ss->ss_family == AF_VSOCK) {
        memcpy(k->a, &((const struct sockaddr_vm *)ss)->svm_cid, sizeof(unsigned));
    }
}

void peer_name(const struct sockaddr_storage *ss, int family, char *buf, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    snprintf(buf, n, "?");
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(buf, n, "%s:%u", ip, ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(buf, n, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else if (ss->ss_family == AF_VSOCK) {
        const struct sockaddr_vm *a = (const struct sockaddr_vm *)ss;
        snprintf(buf, n, "vsock %u:%u", a->svm_cid, a->svm_port);
    } else if (family == AF_UNIX) {
        snprintf(buf, n, "unix");
    }
}

void peer_refusal_log(struct peer_refusals *r, const struct peer_key *k, const char *fmt, ...)
{
    uint64_t now = now_ms(), others = 0;
    struct peer_refusal *e = NULL, *oldest = &r->recent[0];
    for (size_t i = 0; i < ARRAY_SIZE(r->recent); i++) {
        struct peer_refusal *x = &r->recent[i];
        if (x->last_ms && peer_key_eq(&x->key, k))
            e = x;
        if (x->last_ms < oldest->last_ms)
            oldest = x;
    }
    if (e && now - e->last_ms < PEER_REFUSAL_MS) {
        e->suppressed++;
        return;
    }
    if (!log_ratelimit(&r->rl, now, &others)) {
        if (e)
            e->suppressed++;
        return;
    }
    if (!e) {
        e = oldest;
        memset(e, 0, sizeof *e);
        e->key = *k;
    }
    uint64_t mine = e->suppressed;
    e->suppressed = 0;
    e->last_ms = now ? now : 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (mine || others)
        log_warn("%s (not logged: %" PRIu64 " more refusals of this peer, %" PRIu64 " over the overall limit)",
                 msg, mine, others);
    else
        log_warn("%s", msg);
}
