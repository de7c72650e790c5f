/* nlbuf.h — batched netlink requests: build several messages into one buffer,
 * send them in one sendmsg(), collect every reply.
 *
 * Why: the kernel processes each netlink message synchronously inside the
 * sender's sendmsg() (rtnetlink_rcv and nfnetlink walk every message of the
 * datagram), so waiting for each reply in turn buys nothing and costs a
 * syscall pair per message.  keel puts a container's links, addresses, routes
 * and qdiscs in one datagram, and nf_tables changes in one transaction.
 *
 * Building never fails: an allocation failure is remembered and reported by
 * nlbuf_send() (-ENOMEM), as is a request a builder could not encode
 * (-EINVAL, nlbuf_invalid), so builders can stay straight-line code.
 * Every message built or appended gets NLM_F_REQUEST, a sequence number and a
 * short label ("create veth kvweb") used in the error sentence.
 *
 * nlbuf_send() returns 0 when every message was acknowledged (or its dump
 * finished), or the first error as a negative errno with `err` filled as
 * "cannot LABEL: strerror[ (kernel's extended ack message)]".
 * The buffer owns its memory; nlbuf_free() releases it.
 */
#ifndef KEEL_NLBUF_H
#define KEEL_NLBUF_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/err.h"

#define NLBUF_MAX_MSGS 128
#define NLBUF_MAX_NEST 8

struct nlbuf {
    uint8_t *data;
    size_t len, cap;
    bool oom;                    /* an allocation failed; reported by nlbuf_send */
    bool invalid;                /* a builder was asked for what it cannot encode */
    size_t msg_off;              /* offset of the message being built */
    bool in_msg;
    size_t nest[NLBUF_MAX_NEST]; /* offsets of open nested attributes */
    int depth;
    uint32_t seq0;               /* sequence number of message 0 */
    size_t n_msgs;
    const char *labels[NLBUF_MAX_MSGS];
    uint16_t flags[NLBUF_MAX_MSGS];
    bool acked[NLBUF_MAX_MSGS];  /* message expects an ACK (or a DONE for dumps) */
};

/* Called for each data reply (not ACK/ERROR/DONE): index of the request it
 * answers and the message.  A negative return stops and is returned. */
typedef int (*nlbuf_reply_fn)(size_t index, const struct nlmsghdr *h, void *ud);

void nlbuf_init(struct nlbuf *b);
void nlbuf_reset(struct nlbuf *b);   /* empty it for reuse, keeping the memory */
void nlbuf_free(struct nlbuf *b);

/* Begins a message with the family header `hdr` (copied, hdrlen bytes).
 * `flags` are added to NLM_F_REQUEST; pass NLM_F_ACK to have it acknowledged
 * (nlbuf_send waits for that ACK).  Ends the previous message if still open. */
void nlbuf_begin(struct nlbuf *b, uint16_t type, uint16_t flags, const void *hdr, size_t hdrlen,
                 const char *label);
void nlbuf_end(struct nlbuf *b);
/* For builders: what was asked cannot be encoded; nlbuf_send refuses the
 * whole batch with -EINVAL ("cannot build netlink request"). */
void nlbuf_invalid(struct nlbuf *b);
void nlbuf_put(struct nlbuf *b, uint16_t type, const void *data, size_t len);
void nlbuf_put_u8(struct nlbuf *b, uint16_t type, uint8_t v);
void nlbuf_put_u32(struct nlbuf *b, uint16_t type, uint32_t v);     /* host order */
void nlbuf_put_be32(struct nlbuf *b, uint16_t type, uint32_t v);    /* v in host order, stored big-endian */
void nlbuf_put_str(struct nlbuf *b, uint16_t type, const char *s);  /* with its NUL */
/* Bytes that are not an attribute, padded to 4: a family header inside a
 * nested attribute (VETH_INFO_PEER holds the peer's ifinfomsg). */
void nlbuf_put_raw(struct nlbuf *b, const void *data, size_t len);
void nlbuf_nest_begin(struct nlbuf *b, uint16_t type);              /* sets NLA_F_NESTED */
void nlbuf_nest_end(struct nlbuf *b);

/* Sends the whole buffer as one datagram on `fd` and reads replies until every
 * message that asked for an ACK has one (and every dump its DONE), or an error
 * arrives.  Never blocks longer than about two seconds in total. */
int nlbuf_send(int fd, struct nlbuf *b, nlbuf_reply_fn cb, void *ud, struct kerr *err);

/* Reads the attributes in [data, data + len) into tb[0..max] by type (the
 * last of a type wins; types above max are skipped; nested ones are not
 * entered).  0, or -EINVAL when an attribute overruns the buffer. */
int nlbuf_parse_attrs(const void *data, size_t len, const struct nlattr **tb, uint16_t max);
/* The payload of an attribute and its length. */
static inline const void *nlbuf_attr_data(const struct nlattr *a)
{
    return (const uint8_t *)a + NLA_HDRLEN;
}
static inline size_t nlbuf_attr_len(const struct nlattr *a)
{
    return a->nla_len - NLA_HDRLEN;
}

/* A NETLINK_* socket, O_CLOEXEC, with extended acks and capped acks on. */
int nlbuf_socket(int protocol, struct kerr *err);

#endif
