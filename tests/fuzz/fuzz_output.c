/* fuzz_output.c — what a container writes to its stdout and stderr, on its
 * way to a terminal: keel's echo of each line ("NAME | line", output.c) and
 * `keel logs` (client.c) pass it through output_escape when the other end is
 * a terminal, which obeys what it is sent.  (The log file and the syslog
 * forwarder take the bytes as they are: RFC 6587 octet counting frames them.)
 *
 * The same bytes are split into lines as the echo and the syslog forwarder
 * split them (output_lines), fed whole and in pieces whose sizes come from
 * the bytes.
 *
 * fuzz-requires: src/output.c
 *
 * Input: the line; its first byte also picks the cap (0..4n) of a second run.
 *
 * Invariants beyond "no crash, no write past cap": with room for everything
 * (4 bytes per input byte, as both callers give) the whole input is written,
 * each byte either as itself or as "\xNN" of its value; printable ASCII and
 * tab are never escaped; the result holds no C0 control but tab, no DEL, no
 * C1 control (U+0080..U+009F) and is well-formed UTF-8.  With less room the
 * result is a prefix of that one, at most cap bytes, ending at the end of a
 * byte's rendering: never a partial escape.  The lines: the same ones
 * however the input is cut; none holds a newline or passes OUTPUT_LINE_MAX;
 * together with what is left they are the input without its newlines; a
 * line of L bytes ended by a newline comes out as max(1, ceil(L / MAX))
 * pieces, an unended one as (L - 1) / MAX pieces and the rest left.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "keel/output.h"

/* The length of the well-formed UTF-8 character at s (n bytes left), or 0:
 * written independently of output.c's, from RFC 3629's table. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] == 0xe0)
        len = 3, lo = 0xa0;
    else if ((s[0] >= 0xe1 && s[0] <= 0xec) || s[0] == 0xee || s[0] == 0xef)
        len = 3;
    else if (s[0] == 0xed)
        len = 3, hi = 0x9f;
    else if (s[0] == 0xf0)
        len = 4, lo = 0x90;
    else if (s[0] >= 0xf1 && s[0] <= 0xf3)
        len = 4;
    else if (s[0] == 0xf4)
        len = 4, hi = 0x8f;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static void check_terminal_safe(const unsigned char *o, size_t n)
{
    for (size_t i = 0; i < n;) {
        FUZZ_ASSERT((o[i] >= 0x20 || o[i] == '\t') && o[i] != 0x7f);
        size_t len = utf8_char(o + i, n - i);
        FUZZ_ASSERT(len > 0);
        FUZZ_ASSERT(!(len == 2 && o[i] == 0xc2 && o[i + 1] < 0xa0));   /* C1 */
        i += len;
    }
}

/* Walks the input against the output: each input byte is there as itself or
 * as its escape.  Returns the output bytes matched (stops at the output's
 * end, which must fall between two renderings), and the input bytes in *used. */
static size_t walk(const unsigned char *in, size_t n, const char *o, size_t olen, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0, i = 0;
    for (; i < n && j < olen; i++) {
        if ((unsigned char)o[j] == in[i]) {
            j++;
            continue;
        }
        FUZZ_ASSERT(!((in[i] >= 0x20 && in[i] < 0x7f) || in[i] == '\t'));   /* printable: never escaped */
        FUZZ_ASSERT(j + 4 <= olen);                                         /* never a partial escape */
        FUZZ_ASSERT(o[j] == '\\' && o[j + 1] == 'x' && o[j + 2] == hex[in[i] >> 4] && o[j + 3] == hex[in[i] & 15]);
        j += 4;
    }
    *used = i;
    return j;
}

/* What output_lines emitted: the lines' bytes one after the other, and
 * where each ends. */
struct lines {
    char *bytes;
    size_t len;
    size_t *ends;
    size_t n;
};

static void collect(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;
    FUZZ_ASSERT(len <= OUTPUT_LINE_MAX && !memchr(line, '\n', len));
    l->bytes = realloc(l->bytes, l->len + len + 1);
    l->ends = realloc(l->ends, (l->n + 1) * sizeof *l->ends);
    FUZZ_ASSERT(l->bytes && l->ends);
    memcpy(l->bytes + l->len, line, len);
    l->len += len;
    l->ends[l->n++] = l->len;
}

/* Feeds in[0..n) to output_lines in pieces (sizes from the bytes, or whole). */
static size_t split(const char *in, size_t n, bool pieces, char *line, struct lines *out)
{
    size_t len = 0;
    for (size_t at = 0; at < n;) {
        size_t piece = pieces ? 1 + (size_t)(unsigned char)in[at] * 37 : n;
        if (piece > n - at)
            piece = n - at;
        output_lines(line, &len, in + at, piece, collect, out);
        at += piece;
    }
    return len;
}

static void check_lines(const char *in, size_t n)
{
    static char line_a[OUTPUT_LINE_MAX], line_b[OUTPUT_LINE_MAX];
    struct lines a = { 0 }, b = { 0 };
    size_t left_a = split(in, n, false, line_a, &a), left_b = split(in, n, true, line_b, &b);
    FUZZ_ASSERT(left_a == left_b && memcmp(line_a, line_b, left_a) == 0);
    FUZZ_ASSERT(a.n == b.n && a.len == b.len && (!a.len || memcmp(a.bytes, b.bytes, a.len) == 0));
    FUZZ_ASSERT(!a.n || memcmp(a.ends, b.ends, a.n * sizeof *a.ends) == 0);
    /* The input without its newlines, and the count of pieces. */
    size_t k = 0, pieces = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\n') {
            pieces += run ? (run + OUTPUT_LINE_MAX - 1) / OUTPUT_LINE_MAX : 1;
            run = 0;
            continue;
        }
        run++;
        FUZZ_ASSERT(k < a.len ? a.bytes[k] == in[i] : line_a[k - a.len] == in[i]);
        k++;
    }
    if (run)
        pieces += (run - 1) / OUTPUT_LINE_MAX;
    FUZZ_ASSERT(k == a.len + left_a && a.n == pieces);
    FUZZ_ASSERT(left_a == (run ? run - (run - 1) / OUTPUT_LINE_MAX * OUTPUT_LINE_MAX : 0));
    free(a.bytes);
    free(a.ends);
    free(b.bytes);
    free(b.ends);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    size_t big = 4 * size + 1;
    char *full = malloc(big), *part = malloc(big);
    FUZZ_ASSERT(in && full && part);
    if (size)
        memcpy(in, data, size);
    else
        in[0] = '\0';   /* never read: its length is 0 */

    size_t flen = output_escape(in, size, full, big);
    FUZZ_ASSERT(flen <= 4 * size);
    size_t used;
    FUZZ_ASSERT(walk((const unsigned char *)in, size, full, flen, &used) == flen && used == size);
    check_terminal_safe((const unsigned char *)full, flen);

    size_t cap = size ? (data[0] * 7u) % big : 0;
    size_t plen = output_escape(in, size, part, cap);
    FUZZ_ASSERT(plen <= cap && plen <= flen && memcmp(part, full, plen) == 0);
    FUZZ_ASSERT(walk((const unsigned char *)in, size, part, plen, &used) == plen);
    check_lines(in, size);
    free(in);
    free(full);
    free(part);
    return 0;
}
