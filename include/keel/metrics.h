/* metrics.h — the Prometheus metrics endpoint (`[system] metrics =
 * tcp://IP:PORT`), in keel's one loop.
 *
 * Plain HTTP/1.x, read-only: GET (or HEAD) /metrics answers 200 with the
 * text exposition format 0.0.4 (every name is in docs/operations.md); any
 * other method 405, any other path 404, a malformed request 400, a request
 * head over METRICS_HEAD_MAX bytes 431.  One request per connection
 * (Connection: close).  The figures are what the control server's
 * `ps` and `stats` read (struct control_backend): nothing here writes.
 *
 * Bounded like the control server, with its per-source code (peer.h):
 * at most max_clients connections (beyond it they wait in the backlog),
 * at most max_per_peer from one source address (IPv6: /64; beyond it they
 * get 503 and are closed), an absolute deadline from accept for the whole
 * exchange (bytes dribbled in do not extend it), a bounded number of
 * accepts per loop turn, non-blocking sockets, rate-limited refusal
 * messages.  Out of fds, the listener pauses and tries again shortly.
 *
 * Contract: 0 / negative errno with `struct kerr` filled (err.h).
 */
#ifndef KEEL_METRICS_H
#define KEEL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/control.h"
#include "keel/err.h"
#include "keel/json.h"
#include "keel/log.h"
#include "keel/logship.h"
#include "keel/loop.h"

#define METRICS_HEAD_MAX 8192   /* bytes of a request's line and headers */

/* keel's own figures, asked for at each scrape. */
struct metrics_keel {
    uint64_t uptime_ms;
    uint64_t control_accepted, control_refused;
    uint64_t metrics_accepted, metrics_refused;   /* filled by the endpoint itself */
    const struct log_stage_time *stages;
    size_t n_stages;
    struct logship_stats syslog;
};
typedef void (*metrics_keel_fn)(void *data, struct metrics_keel *k);

struct metrics_opts {
    unsigned max_clients;     /* default 16 */
    unsigned max_per_peer;    /* default 4 */
    unsigned deadline_ms;     /* default 10000: from accept to the response sent */
};

struct metrics;

/* Listens on `url` (tcp://IP:PORT).  `be` is copied; its supervisor and
 * cgroup root, and keel_data, must outlive the endpoint.  opts may be NULL. */
int metrics_new(struct metrics **out, struct loop *l, const char *url, const struct control_backend *be,
                metrics_keel_fn keel, void *keel_data, const struct metrics_opts *opts, struct kerr *err);
/* Closes the listener and every connection.  Safe on NULL. */
void metrics_free(struct metrics *m);

/* --- pure pieces, exposed for tests ------------------------------------- */

/* The exposition text of every container's figures and keel's own. */
void metrics_render(struct json_writer *w, const struct control_backend *be, const struct metrics_keel *k);
/* Writes `s` as a label value ('\\', '"' and newline escaped). */
void metrics_label_value(struct json_writer *w, const char *s);
/* Judges a request head (up to and without the blank line): 200 for GET
 * or HEAD of /metrics (*head set for HEAD), else 400, 404 or 405. */
int metrics_http_judge(const char *req, size_t len, bool *head);

/* A request head's framing as its bytes come in: IN holds LEN bytes, the
 * first SEEN of them already looked at (no blank line among them).  0: read
 * on; else the status to answer: metrics_http_judge of all LEN bytes once
 * a blank line ("\r\n\r\n" or "\n\n") is in, 431 when CAP bytes hold none. */
int metrics_head_framed(const char *in, size_t seen, size_t len, size_t cap, bool *head);

#endif
