/* fuzz_notify.c — what a container sends on its sd_notify socket (`ready =
 * notify`, /dev/keel-notify, open to every uid in the container): each
 * datagram goes through health_notify_says_ready, which alone decides
 * whether it marks the container ready.  keel reads nothing else of it
 * (STATUS=, MAINPID=, WATCHDOG=... are ignored).
 *
 * fuzz-requires: src/health.c
 *
 * Input: one datagram (health_notify_read reads at most 4096 bytes of one;
 * longer inputs are judged whole, and also cut there, as keel would).
 *
 * Invariants beyond "no crash, no read past the datagram": the answer is
 * true exactly when one of the assignments separated by newlines or CRs (as
 * systemd splits them) is "READY=1" itself (checked against a second
 * formulation: an occurrence of "READY=1" with a separator or an end on both
 * sides); a datagram is ready when any of two datagrams split from it at a
 * separator is; no NUL or other byte makes a
 * "READY=10", "XREADY=1" or "STATUS=READY=1" count.
 */
#include "fuzz.h"

#include "keel/health.h"

static bool separator(char c)
{
    return c == '\n' || c == '\r';
}

/* The reference: READY=1 bounded by the ends or separators. */
static bool ready_ref(const char *m, size_t n)
{
    for (size_t p = 0; p + 7 <= n; p++)
        if (memcmp(m + p, "READY=1", 7) == 0 && (p == 0 || separator(m[p - 1])) && (p + 7 == n || separator(m[p + 7])))
            return true;
    return false;
}

static void check(const uint8_t *data, size_t size)
{
    char *m = fuzz_exact(data, size);
    bool r = health_notify_says_ready(m, size);
    FUZZ_ASSERT(r == ready_ref(m, size));
    /* Split at the first separator: the halves are judged as two datagrams. */
    const char *nl = NULL;
    for (size_t k = 0; k < size && !nl; k++)
        if (separator(m[k]))
            nl = m + k;
    if (nl) {
        size_t a = (size_t)(nl - m);
        char *x = fuzz_exact(data, a), *y = fuzz_exact(data + a + 1, size - a - 1);
        FUZZ_ASSERT(r == (health_notify_says_ready(x, a) || health_notify_says_ready(y, size - a - 1)));
        free(x);
        free(y);
    }
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size > 4096)
        check(data, 4096);
    return 0;
}
