/* logship.h — forwarding of container output and keel's own messages to a
 * syslog collector (`[system] syslog = udp://IP:PORT | tcp://IP:PORT`).
 *
 * Messages are RFC 5424:
 *     <PRI>1 TIMESTAMP HOSTNAME APP-NAME - - - MSG
 * PRI = facility * 8 + severity: container lines are user.info (14; stdout
 * and stderr share one pipe, so they cannot be told apart), keel's own lines
 * daemon.* with the severity of their level (err 3, warning 4, info 6,
 * debug 7).  TIMESTAMP is the time the line was queued (UTC, microseconds),
 * HOSTNAME the system host name when delivery started, APP-NAME the
 * container's name ("keel" for keel's own), cut to 48 bytes.  The text of
 * a message is bounded to LOGSHIP_TEXT_MAX bytes (a longer line is cut
 * there), so that a whole message is at most LOGSHIP_MSG_MAX bytes.
 * On UDP each message is one datagram; on TCP it is framed by octet
 * counting (RFC 6587: "LEN SP MSG").
 *
 * One bounded queue (LOGSHIP_QUEUE_BYTES, allocated once) holds the messages
 * from the first line keel logs until they are delivered: early-boot lines
 * wait there until the network and the collector are up.  When it is full
 * the oldest message is dropped (the newest, while the oldest is half-written
 * on TCP) and counted; once delivery goes on, keel sends a warning saying how
 * many were dropped.  Each queued line is copied once, into the queue; the
 * header is written at send time beside it (sendmsg with an iovec).
 *
 * Nothing here blocks: logship_add() only copies and arms a zero-delay timer
 * of the loop; sends are non-blocking; a TCP connection is made
 * non-blocking and remade with exponential backoff (0.5 s .. 30 s) when it
 * fails or breaks (the message in flight is sent again whole on the new
 * connection).  UDP: a send the kernel refuses (no route yet, the
 * collector's port unreachable) keeps its message queued and is retried
 * with the same backoff; a datagram the network loses is lost.
 *
 * The state is process-wide, as the console's is (log.h): keel's own lines
 * reach it through log_set_sink(), containers' lines from output.c.
 */
#ifndef KEEL_LOGSHIP_H
#define KEEL_LOGSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/err.h"
#include "keel/loop.h"

#define LOGSHIP_MSG_MAX 2048               /* bytes of one message, header included */
#define LOGSHIP_TEXT_MAX 1600              /* bytes of its text: header <= 7+32+255+48+7 */
#define LOGSHIP_QUEUE_BYTES (256 * 1024)   /* the queue: lines and their bookkeeping */
#define LOGSHIP_APP_MAX 48                 /* RFC 5424 APP-NAME */

enum { LOGSHIP_FAC_USER = 1, LOGSHIP_FAC_DAEMON = 3 };
enum { LOGSHIP_SEV_ERR = 3, LOGSHIP_SEV_WARNING = 4, LOGSHIP_SEV_INFO = 6, LOGSHIP_SEV_DEBUG = 7 };

struct logship_stats {
    bool enabled;
    uint64_t queued;      /* messages taken into the queue */
    uint64_t sent;        /* handed to the kernel (UDP) or written whole (TCP) */
    uint64_t dropped;     /* dropped because the queue was full */
    uint64_t pending;     /* in the queue now */
    bool connected;       /* TCP connected, or UDP socket ready */
};

/* Starts queueing (call first thing: lines are kept from then on).  0, or
 * -ENOMEM (then nothing is queued). */
int logship_queue_init(void);
/* Starts delivery to `url` (udp:// or tcp://, numeric IP) from the loop `l`,
 * which must outlive it until logship_stop(). */
int logship_start(struct loop *l, const char *url, struct kerr *err);
/* One best-effort non-blocking flush, then closes and frees everything;
 * logship_add() is a no-op afterwards.  Safe when never started. */
void logship_stop(void);
/* Queues one message (never blocks, never logs).  No-op when not queueing. */
void logship_add(int facility, int severity, const char *app, const char *msg, size_t len);
void logship_get_stats(struct logship_stats *st);

/* --- pure pieces, exposed for tests ------------------------------------- */

/* Writes "<PRI>1 TIMESTAMP HOST APP - - - " (no NUL counted); returns its
 * length, at most n - 1. */
size_t logship_header(char *buf, size_t n, int pri, uint64_t ts_us, const char *host, const char *app);

#endif
