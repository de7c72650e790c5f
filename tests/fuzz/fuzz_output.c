/* fuzz_output.c — what a container writes to its stdout and stderr, on its
 * way to a terminal: keel's echo of each line ("NAME | line", output.c) and
 * `keel logs` (client.c) pass it through output_escape when the other end is
 * a terminal, which obeys what it is sent.  (The log file and the syslog
 * forwarder take the bytes as they are: RFC 6587 octet counting frames them.)
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
 * byte's rendering: never a partial escape.
 */
#include "fuzz.h"

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
    free(in);
    free(full);
    free(part);
    return 0;
}
