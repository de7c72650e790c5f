/* fuzz_metrics.c — what a client of the metrics endpoint (`[system]
 * metrics = tcp://IP:PORT`, anyone who can reach it) sends keel: the request
 * head, judged by metrics_http_judge; its framing as it comes in pieces
 * (metrics_head_framed: the blank line, 431 past the bound); and the
 * label-value escaping of the exposition text (metrics_label_value), fed
 * the same bytes.
 *
 * fuzz-requires: src/metrics.c
 *
 * Invariants beyond "no crash, no leak, no read past the head": the verdict
 * is 200, 400, 404 or 405 and depends on the request line alone (whatever
 * follows its newline changes nothing); 200 only for "GET" or "HEAD", a
 * target of /metrics (a query allowed) and a version HTTP/1.0 or HTTP/1.1;
 * *head only for HEAD, and never with 405.  Fed in pieces (their sizes from
 * the bytes, into a buffer of a bound from the first byte and of
 * METRICS_HEAD_MAX), the framing answers at the first piece that completes
 * the first blank line, with the verdict on everything read so far, or 431
 * when the buffer is full without one, and never before: as a scan of the
 * whole input finds it, wherever the pieces cut it.  A label value holds no raw
 * newline and no unescaped '"', and unescaping it gives back the string.
 */
#include "fuzz.h"

#include "keel/json.h"
#include "keel/metrics.h"

static bool starts(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s, p, pl) == 0;
}

static bool ends(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s + n - pl, p, pl) == 0;
}

static void check_judge(const char *req, size_t len)
{
    bool head = true;
    int r = metrics_http_judge(req, len, &head);
    FUZZ_ASSERT(r == 200 || r == 400 || r == 404 || r == 405);
    const char *eol = memchr(req, '\n', len);
    size_t line = eol ? (size_t)(eol - req) : len;
    /* The request line alone: the same verdict. */
    bool head1 = !head;
    FUZZ_ASSERT(metrics_http_judge(req, line, &head1) == r && head1 == head);
    size_t l = line && req[line - 1] == '\r' ? line - 1 : line;
    if (head)
        FUZZ_ASSERT(starts(req, l, "HEAD ") && r != 405);
    if (r == 200) {
        FUZZ_ASSERT(starts(req, l, "GET /metrics") || starts(req, l, "HEAD /metrics"));
        size_t after = strlen(head ? "HEAD /metrics" : "GET /metrics");
        FUZZ_ASSERT(l > after && (req[after] == ' ' || req[after] == '?'));
        FUZZ_ASSERT(ends(req, l, " HTTP/1.1") || ends(req, l, " HTTP/1.0"));
    }
}

/* The end of the first blank line in s[0..n), or 0 when there is none. */
static size_t blank_line_end(const char *s, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (s[i] == '\n' && (s[i - 1] == '\n' || (i >= 3 && memcmp(s + i - 3, "\r\n\r", 3) == 0)))
            return i + 1;
    return 0;
}

static void check_framing(const char *data, size_t size, size_t cap)
{
    char *in = malloc(cap);
    FUZZ_ASSERT(in != NULL);
    size_t n = size < cap ? size : cap;
    size_t end = blank_line_end(data, n);
    size_t len = 0;
    while (len < n) {
        size_t piece = 1 + (unsigned char)data[len] % 13;
        if (piece > n - len)
            piece = n - len;
        memcpy(in + len, data + len, piece);
        size_t seen = len;
        len += piece;
        bool head = false, head1 = false;
        int r = metrics_head_framed(in, seen, len, cap, &head);
        if (end && len >= end) {
            FUZZ_ASSERT(r == metrics_http_judge(in, len, &head1) && head == head1);
            break;
        }
        FUZZ_ASSERT(r == (len == cap ? 431 : 0));
        if (r)
            break;
    }
    free(in);
}

static void check_label(const char *s)
{
    struct json_writer w;
    json_writer_init(&w);
    metrics_label_value(&w, s);
    if (json_writer_error(&w)) {
        json_writer_free(&w);
        return;
    }
    const char *o = w.buf ? w.buf : "";
    size_t n = w.len, k = 0;
    FUZZ_ASSERT(!memchr(o, '\n', n));
    for (size_t i = 0; i < n; i++, k++) {
        char c = o[i];
        FUZZ_ASSERT(c != '"');   /* an unescaped quote would end the value */
        if (c == '\\') {
            FUZZ_ASSERT(i + 1 < n);
            char e = o[++i];
            FUZZ_ASSERT(e == '\\' || e == '"' || e == 'n');
            c = e == 'n' ? '\n' : e;
        }
        FUZZ_ASSERT(s[k] == c);
    }
    FUZZ_ASSERT(s[k] == '\0');
    json_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly `size` bytes, no NUL after them: a read past the head is caught. */
    char *req = fuzz_exact(data, size);
    check_judge(req, size);
    if (size) {
        check_framing(req, size, 8 + (unsigned char)req[0]);
        check_framing(req, size, METRICS_HEAD_MAX);
    }
    free(req);
    char *s = fuzz_str(data, size);
    check_label(s);
    free(s);
    return 0;
}
