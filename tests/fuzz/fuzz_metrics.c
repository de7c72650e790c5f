/* fuzz_metrics.c — what a client of the metrics endpoint (`[system]
 * metrics = tcp://IP:PORT`, anyone who can reach it) sends keel: the request
 * head, judged by metrics_http_judge; and the label-value escaping of the
 * exposition text (metrics_label_value), fed the same bytes.
 *
 * fuzz-requires: src/metrics.c
 *
 * Invariants beyond "no crash, no leak, no read past the head": the verdict
 * is 200, 400, 404 or 405 and depends on the request line alone (whatever
 * follows its newline changes nothing); 200 only for "GET" or "HEAD", a
 * target of /metrics (a query allowed) and a version HTTP/1.0 or HTTP/1.1;
 * *head only for HEAD, and never with 405.  A label value holds no raw
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
    free(req);
    char *s = fuzz_str(data, size);
    check_label(s);
    free(s);
    return 0;
}
