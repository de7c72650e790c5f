/* fuzz_words.c — the value parsers of parse.h (manifest values, CLI and
 * control arguments): every parser gets the same input string.
 *
 * Invariants beyond "no crash, no leak":
 *  - a failure returns -EINVAL or -ERANGE and leaves a non-empty reason,
 *    NUL-terminated within PARSE_WHY_MAX bytes;
 *  - results are in their documented ranges (durations at most a week,
 *    cpus 0.01..4096, rates above zero, signals 1..SIGRTMAX, prefixes <= 32);
 *  - split_words round-trips: its words, each single-quoted again, split back
 *    to the same words; and a signal's name parses back to the signal.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>

#include "keel/manifest.h"
#include "keel/parse.h"

static void check_why(int r, const char *why)
{
    if (r == 0)
        return;
    FUZZ_ASSERT(r == -EINVAL || r == -ERANGE || r == -ENOMEM);
    FUZZ_ASSERT(memchr(why, '\0', PARSE_WHY_MAX) != NULL);
    FUZZ_ASSERT(why[0] != '\0');
}

/* Fresh reason buffer with no NUL in it, so a missing terminator shows. */
#define WHY(w) (memset((w), 'x', PARSE_WHY_MAX), (w))

/* Single-quotes each word ('\'' for a quote inside) and joins them with blanks. */
static char *requote(char **v)
{
    size_t cap = 1;
    for (size_t i = 0; v[i]; i++)
        cap += strlen(v[i]) * 4 + 3;
    char *s = malloc(cap), *o = s;
    FUZZ_ASSERT(s != NULL);
    for (size_t i = 0; v[i]; i++) {
        if (i)
            *o++ = ' ';
        *o++ = '\'';
        for (const char *p = v[i]; *p; p++) {
            if (*p == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *p;
            }
        }
        *o++ = '\'';
    }
    *o = '\0';
    return s;
}

static void free_words(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void fuzz_split(const char *s)
{
    char why[PARSE_WHY_MAX];
    char **v = NULL;
    int r = split_words(s, &v, WHY(why));
    check_why(r, why);
    if (r < 0) {
        FUZZ_ASSERT(v == NULL);
        return;
    }
    FUZZ_ASSERT(v != NULL);
    size_t n = 0, chars = 0;
    for (; v[n]; n++)
        chars += strlen(v[n]);
    FUZZ_ASSERT(chars <= strlen(s));
    FUZZ_ASSERT(n <= strlen(s) / 2 + 1);
    char *q = requote(v);
    char **w = NULL;
    FUZZ_ASSERT(split_words(q, &w, NULL) == 0);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(w[i] && strcmp(v[i], w[i]) == 0);
    FUZZ_ASSERT(w[n] == NULL);
    free_words(w);
    free(q);
    free_words(v);
}

static void fuzz_values(const char *s)
{
    char why[PARSE_WHY_MAX];
    int r;

    int64_t size;
    r = parse_size(s, &size, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(size >= 0);

    uint64_t ms;
    r = parse_duration_ms(s, &ms, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(ms <= 7ull * 24 * 3600 * 1000);

    int64_t quota, period;
    r = parse_cpus(s, &quota, &period, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(period == 100000 && quota >= 1000 && quota <= 4096 * period);

    uint64_t bits;
    r = parse_rate_bits(s, &bits, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(bits > 0);

    int sig;
    r = parse_signal(s, &sig, WHY(why));
    check_why(r, why);
    if (r == 0) {
        FUZZ_ASSERT(sig >= 1 && sig <= SIGRTMAX);
        const char *name = signal_name(sig);
        FUZZ_ASSERT(name != NULL);
        if (strcmp(name, "SIG?") != 0) {
            int back;
            char copy[32];
            snprintf(copy, sizeof copy, "%s", name);
            FUZZ_ASSERT(parse_signal(copy, &back, NULL) == 0 && back == sig);
        }
    }

    struct in_addr a;
    unsigned prefix;
    r = parse_cidr(s, &a, &prefix, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(prefix <= 32);

    r = parse_ipv4(s, &a, WHY(why));
    check_why(r, why);
    if (r == 0) {
        char text[INET_ADDRSTRLEN];
        FUZZ_ASSERT(inet_ntop(AF_INET, &a, text, sizeof text) != NULL);
        FUZZ_ASSERT(strcmp(text, s) == 0 || strchr(s, '0'));   /* only leading zeros may differ */
    }

    uint32_t id;
    r = parse_id(s, &id, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(id != UINT32_MAX);

    uint64_t u;
    r = parse_u64(s, 1, 1000, &u, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(u >= 1 && u <= 1000);

    int64_t i;
    r = parse_i64(s, -1000, 1000, &i, WHY(why));
    check_why(r, why);
    if (r == 0)
        FUZZ_ASSERT(i >= -1000 && i <= 1000);

    bool b;
    r = parse_bool(s, &b, WHY(why));
    check_why(r, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    fuzz_split(s);
    fuzz_values(s);
    free(s);
    return 0;
}
